#!/usr/bin/env python3
"""Distills ds_cnn's body into a smaller body that keeps its head (issue 16, item 4).

A task's body variants share the task's head: `flctl models import --variant=`
refuses a body whose output width differs from the head's input. ds_cnn_small
(train_cnn.py) has its own 64-wide head, so it cannot be a variant of ds_cnn. This
script trains a student body with ds_cnn's structure and fewer channels,
  conv 3x3/2 to 8, dw 3x3 + pw 1x1 to 32, dw 3x3/2 + pw 1x1 to 128, GAP
(the last pointwise widens to ds_cnn's 128 features), to output the features
ds_cnn's head was made for: on the proxy split only (the first --proxy training
images, as train_cnn.py), the loss is
  0.3 * MSE(student features, teacher features) / (mean teacher feature variance)
  + cross-entropy of the teacher's FROZEN head on the student's features
(40 epochs of SGD, momentum 0.9, cosine schedule, weight decay 1e-4). Weighting
the MSE 0.3 rather than 1, and weight decay 1e-4 rather than train_cnn.py's 5e-4,
was best of the five recipes tried (docs/models.md).
The teacher is rebuilt from ds_cnn.onnx itself (Conv and Gemm initializers into
torch modules with bias; batch norm is already folded in the file) and checked
against the file's graph run by numpy. The student's batch norm is folded by the
exporter.

Writes ds_cnn_distilled.onnx (student body + ds_cnn's head, bit for bit; opset 13,
input "input" [1, 1, 28, 28], output "logits", Conv/Relu/GlobalAveragePool/
Flatten/Gemm only) and ds_cnn_distilled.json (parameters, multiply-adds, proxy and
test accuracy of the student body + teacher head, next to the teacher's).

Deterministic on one machine (fixed seeds, CPU, two threads, deterministic
algorithms; sim/models/distill_regen_test.sh). 2 to 10 minutes on two cores,
depending on how busy they are.
  /usr/bin/python3 sim/models/distill_small.py --out sim/models
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_cnn  # noqa: E402  (the data loading, counting and numpy check are shared)

SEED = 16
BATCH = 32
CHANNELS = (8, 32)  # the student's; its last pointwise goes to the teacher's width
RECIPE = dict(epochs=40, lr=0.05, momentum=0.9, weight_decay=1e-4, cosine=True,
              batch=BATCH, seed=SEED, mse_weight=0.3)
ALLOWED_OPS = {"Conv", "Relu", "GlobalAveragePool", "Flatten", "Gemm"}


def teacher_from_onnx(proto, head_layers=2):
    """(body, head) torch modules equal to the ONNX graph: a chain of Conv (with
    bias), Relu, GlobalAveragePool, Flatten and Gemm (transB = 1, alpha = beta = 1).
    The head is the last head_layers Gemm nodes and what follows them."""
    from onnx import numpy_helper
    init = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy())
            for t in proto.graph.initializer}
    mods = []
    for n in proto.graph.node:
        a = {at.name: at for at in n.attribute}
        if n.op_type == "Conv":
            w, b = init[n.input[1]], init[n.input[2]]
            groups = a["group"].i if "group" in a else 1
            pads = list(a["pads"].ints) if "pads" in a else [0, 0, 0, 0]
            strides = list(a["strides"].ints) if "strides" in a else [1, 1]
            if pads[:2] != pads[2:] or ("dilations" in a and set(a["dilations"].ints) != {1}):
                raise ValueError(f"{n.name}: asymmetric pads or dilation not supported")
            m = nn.Conv2d(w.shape[1] * groups, w.shape[0], tuple(w.shape[2:]),
                          tuple(strides), tuple(pads[:2]), groups=groups, bias=True)
            m.weight.data.copy_(w)
            m.bias.data.copy_(b)
        elif n.op_type == "Gemm":
            if "transB" not in a or a["transB"].i != 1 or any(
                    k in a and a[k].f != 1.0 for k in ("alpha", "beta")):
                raise ValueError(f"{n.name}: only Gemm with transB = 1, alpha = beta = 1")
            w, b = init[n.input[1]], init[n.input[2]]
            m = nn.Linear(w.shape[1], w.shape[0])
            m.weight.data.copy_(w)
            m.bias.data.copy_(b)
        elif n.op_type == "Relu":
            m = nn.ReLU()
        elif n.op_type == "GlobalAveragePool":
            m = nn.AdaptiveAvgPool2d(1)
        elif n.op_type == "Flatten":
            m = nn.Flatten()
        else:
            raise ValueError(f"teacher: unsupported operator {n.op_type}")
        mods.append(m)
    gemms = [i for i, m in enumerate(mods) if isinstance(m, nn.Linear)]
    if len(gemms) < head_layers:
        raise ValueError(f"teacher: {len(gemms)} Gemm nodes, head_layers = {head_layers}")
    cut = gemms[-head_layers]
    return nn.Sequential(*mods[:cut]).eval(), nn.Sequential(*mods[cut:]).eval()


def student_body(c1, c2, features):
    """ds_cnn's body shape with channels c1/c2 and a last pointwise to `features`."""
    cbr = train_cnn.conv_bn_relu
    return nn.Sequential(
        *cbr(1, c1, 3, 2),                # 28x28x1 -> 14x14xc1
        *cbr(c1, c1, 3, 1, groups=c1),    # depthwise
        *cbr(c1, c2, 1, 1),               # pointwise -> 14x14xc2
        *cbr(c2, c2, 3, 2, groups=c2),    # depthwise, 7x7
        *cbr(c2, features, 1, 1),         # pointwise -> 7x7xfeatures
        nn.AdaptiveAvgPool2d(1), nn.Flatten())


def distill(body, head, x, feats_t, y):
    """SGD on the feature MSE (scaled by the teacher features' mean variance, so the
    two terms are of one order) plus the frozen head's cross-entropy."""
    for p in head.parameters():
        p.requires_grad_(False)
    head.eval()
    scale = float(feats_t.var(0).mean())
    opt = torch.optim.SGD(body.parameters(), lr=RECIPE["lr"], momentum=RECIPE["momentum"],
                          weight_decay=RECIPE["weight_decay"])
    steps = RECIPE["epochs"] * ((len(x) + BATCH - 1) // BATCH)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    gen = torch.Generator().manual_seed(SEED)
    mse, ce = nn.MSELoss(), nn.CrossEntropyLoss()
    body.train()
    for _ in range(RECIPE["epochs"]):
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), BATCH):
            idx = order[i:i + BATCH]
            opt.zero_grad()
            f = body(x[idx])
            (RECIPE["mse_weight"] * mse(f, feats_t[idx]) / scale + ce(head(f), y[idx])).backward()
            opt.step()
            sched.step()
    body.eval()
    return scale


def export(model, path, check_x, teacher_proto):
    """torch.onnx export (BN folded), then: only ALLOWED_OPS, the head's
    initializers equal to the teacher's, and the graph run by numpy equal to torch."""
    from onnx import numpy_helper
    ops, seq, diff = train_cnn.export_onnx(model, path, check_x)
    import onnx
    proto = onnx.load(path)
    if not set(ops) <= ALLOWED_OPS:
        raise RuntimeError(f"{path}: operators {sorted(set(ops) - ALLOWED_OPS)} left")
    gemm_w = lambda p: [numpy_helper.to_array(t) for n in p.graph.node if n.op_type == "Gemm"
                        for t in p.graph.initializer if t.name in n.input[1:]]
    ours, theirs = gemm_w(proto), gemm_w(teacher_proto)
    if len(ours) != len(theirs) or not all(np.array_equal(a, b) for a, b in zip(ours, theirs)):
        raise RuntimeError(f"{path}: the head is not the teacher's")
    return ops, seq, diff


def figures(body, head, px, py, x_te, y_te):
    model = nn.Sequential(body, head)
    return {
        "params": train_cnn.folded_params(model),
        "params_body": train_cnn.folded_params(body),
        "multiply_adds": train_cnn.multiply_adds(model),
        "multiply_adds_body": train_cnn.multiply_adds(body),
        "proxy_train_accuracy": round(train_cnn.accuracy(train_cnn.forward(model, px), py), 4),
        "test_accuracy": round(train_cnn.accuracy(train_cnn.forward(model, x_te), y_te), 4),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    p.add_argument("--data", default=train_cnn.DATA_DIR)
    p.add_argument("--proxy", type=int, default=6000, help="proxy split: first N train examples")
    p.add_argument("--teacher", default=os.path.join(here, "ds_cnn.onnx"))
    p.add_argument("--out", default=here)
    p.add_argument("--threads", type=int, default=2)
    for k in ("epochs", "weight_decay", "mse_weight"):  # for trying recipes
        p.add_argument("--" + k, type=type(RECIPE[k]), default=RECIPE[k])
    a = p.parse_args()
    RECIPE.update(epochs=a.epochs, weight_decay=a.weight_decay, mse_weight=a.mse_weight)
    import onnx
    torch.set_num_threads(a.threads)
    torch.use_deterministic_algorithms(True)
    x_tr, y_tr = train_cnn.load_split(a.data, "train")
    x_te, y_te = train_cnn.load_split(a.data, "t10k")
    if not 0 < a.proxy < len(x_tr):
        sys.exit(f"--proxy must be in (0, {len(x_tr)})")
    px, py = x_tr[:a.proxy], y_tr[:a.proxy]

    tproto = onnx.load(a.teacher)
    t_body, t_head = teacher_from_onnx(tproto)
    teacher = nn.Sequential(t_body, t_head)
    t_diff = max(float(np.abs(train_cnn.numpy_forward(tproto, x_te[i:i + 1].numpy())
                              - train_cnn.forward(teacher, x_te[i:i + 1]).double().numpy()).max())
                 for i in range(20))
    if t_diff > 1e-4:
        sys.exit(f"{a.teacher}: the rebuilt teacher differs from the ONNX graph by {t_diff}")
    feats_t = train_cnn.forward(t_body, px)

    torch.manual_seed(SEED)
    body = student_body(*CHANNELS, feats_t.shape[1])
    t0 = time.perf_counter()
    scale = distill(body, t_head, px, feats_t, py)
    seconds = time.perf_counter() - t0

    os.makedirs(a.out, exist_ok=True)
    student = nn.Sequential(body, t_head)
    ops, seq, diff = export(student, os.path.join(a.out, "ds_cnn_distilled.onnx"),
                            x_te[:20], tproto)
    s, t = figures(body, t_head, px, py, x_te, y_te), figures(t_body, t_head, px, py, x_te, y_te)
    with torch.no_grad():
        f_te_s, f_te_t = train_cnn.forward(body, x_te), train_cnn.forward(t_body, x_te)
    result = dict(s, **{
        "model": "ds_cnn_distilled",
        "teacher": dict(t, file=os.path.basename(a.teacher),
                        max_abs_logit_diff_torch_vs_onnx_20_test_images=float(f"{t_diff:.1e}")),
        "body_channels": list(CHANNELS) + [int(feats_t.shape[1])],
        "multiply_adds_body_vs_teacher": round(s["multiply_adds_body"] / t["multiply_adds_body"], 3),
        "params_body_vs_teacher": round(s["params_body"] / t["params_body"], 3),
        "test_agreement_with_teacher": round(float(
            (t_head(f_te_s).argmax(1) == t_head(f_te_t).argmax(1)).double().mean()), 4),
        "test_feature_mse_over_variance": round(float(
            ((f_te_s - f_te_t) ** 2).mean() / f_te_t.var(0).mean()), 4),
        "proxy_examples": a.proxy,
        "recipe": dict(RECIPE, loss="mse_weight * mse(features) / teacher_feature_variance + ce(frozen head)",
                       teacher_feature_variance=float(f"{scale:.4e}")),
        "onnx": {"file": "ds_cnn_distilled.onnx", "opset": 13, "operators": ops, "nodes": seq,
                 "input": [1, 1, 28, 28], "output": [1, 10], "head_layers": 2,
                 "head": "the teacher's, bit for bit",
                 "max_abs_logit_diff_numpy_vs_torch_20_test_images": float(f"{diff:.1e}")},
        "seconds": {"distill": round(seconds, 1)},  # varies run to run
    })
    with open(os.path.join(a.out, "ds_cnn_distilled.json"), "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"ds_cnn_distilled: body params {s['params_body']} ({result['params_body_vs_teacher']} "
          f"of the teacher's), body MACs {s['multiply_adds_body']} "
          f"({result['multiply_adds_body_vs_teacher']}), proxy {s['proxy_train_accuracy']:.4f} "
          f"test {s['test_accuracy']:.4f}; teacher proxy {t['proxy_train_accuracy']:.4f} "
          f"test {t['test_accuracy']:.4f}; {seconds:.0f} s", flush=True)


if __name__ == "__main__":
    main()
