#!/usr/bin/env python3
"""Pre-trains the convolutional workload's bodies (issue 16) and exports ONNX.

The server pre-trains a body on its proxy split (the first --proxy training
examples of Fashion-MNIST, as sim/experiment.cc's PretrainBody), freezes it, and
the fleet federates the last two Linear layers (head_layers = 2) over the other
examples. This script does the pre-training with PyTorch for
  ds_cnn        conv 3x3/2 to 16 + two depthwise-separable blocks (to 64, then
                stride 2 to 128), global average pool, Linear(128, 64) + ReLU,
                Linear(64, 10);
  ds_cnn_small  the same with half the channels (8, 32, 64): RAM-short devices;
  dense         the simulator's dense workload (784-128 ReLU body, 128-64-10
                head) with PretrainBody's recipe, for comparison (no ONNX);
writes <name>.onnx (opset 13, eval mode, BatchNorm folded into Conv by the
exporter, input "input" [1, 1, 28, 28], output "logits" [1, 10]) and
<name>.json (parameters, multiply-adds, accuracies, times).

The "head_upper_bound" figure is the frozen body with a fresh head trained
centrally on the remaining training examples: what federation can reach at best.

Deterministic on one machine: fixed seeds, CPU, two threads, deterministic
algorithms; run twice, it writes the same ONNX bytes (sim/models/regen_test.sh).

Only python3, Debian's python3-torch (1.13), numpy and python3-onnx:
  /usr/bin/python3 sim/models/train_cnn.py --out sim/models
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn

DATA_DIR = "/usr/share/datasets/fashion-mnist"
SEED = 16
BATCH = 32
# The head retrained on the frozen body's features, the same for every model
# (plain SGD like the devices' trainer; enough epochs to be near convergence).
HEAD_EPOCHS = 10
HEAD_LR = 0.1


def read_idx(path):
    """An unsigned-byte IDX file (gzip) as a numpy array, like sim's ReadIdx."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or not 1 <= raw[3] <= 4:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    nd = raw[3]
    dims = struct.unpack(">" + "I" * nd, raw[4:4 + 4 * nd])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * nd)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: truncated data")
    return data.reshape(dims)


def load_split(data_dir, prefix):
    """Images as float32 [n, 1, 28, 28], pixel / 255 (sim/fashion_mnist.cc), labels int64."""
    x = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
    if x.ndim != 3 or x.shape[1:] != (28, 28) or y.shape != (x.shape[0],) or y.max() > 9:
        raise ValueError(f"fashion-mnist {prefix}: unexpected dimensions or labels")
    x = torch.from_numpy(x.astype(np.float32) / np.float32(255.0)).reshape(-1, 1, 28, 28)
    return x, torch.from_numpy(y.astype(np.int64))


def conv_bn_relu(cin, cout, k, stride, groups=1):
    return [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout), nn.ReLU()]


def ds_cnn(c1, c2, c3):
    """conv 3x3/2 -> (dw 3x3 + pw 1x1) -> (dw 3x3/2 + pw 1x1) -> GAP; head 2 Linear."""
    body = nn.Sequential(
        *conv_bn_relu(1, c1, 3, 2),               # 28x28x1 -> 14x14xc1
        *conv_bn_relu(c1, c1, 3, 1, groups=c1),   # depthwise
        *conv_bn_relu(c1, c2, 1, 1),              # pointwise -> 14x14xc2
        *conv_bn_relu(c2, c2, 3, 2, groups=c2),   # depthwise, 7x7
        *conv_bn_relu(c2, c3, 1, 1),              # pointwise -> 7x7xc3
        nn.AdaptiveAvgPool2d(1), nn.Flatten())
    head = nn.Sequential(nn.Linear(c3, 64), nn.ReLU(), nn.Linear(64, 10))
    return body, head


def dense_model():
    """The simulator's 784-128 body and 128-64-10 head, MakeHead's Glorot init."""
    body = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU())
    head = nn.Sequential(nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    return body, head


def glorot_(model):
    """MakeHead's init: weights uniform in +-sqrt(6 / (in + out)), biases 0."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)


# name -> (constructor, recipe). The CNN recipe: SGD with momentum and a cosine
# schedule, as small CNNs are usually trained; the dense one is PretrainBody's
# (plain SGD, lr 0.1, batch 32, 3 epochs).
MODELS = {
    "ds_cnn": (lambda: ds_cnn(16, 64, 128),
               dict(epochs=30, lr=0.05, momentum=0.9, weight_decay=5e-4, cosine=True)),
    "ds_cnn_small": (lambda: ds_cnn(8, 32, 64),
                     dict(epochs=30, lr=0.05, momentum=0.9, weight_decay=5e-4, cosine=True)),
    "dense": (dense_model,
              dict(epochs=3, lr=0.1, momentum=0.0, weight_decay=0.0, cosine=False)),
}


def train(model, x, y, recipe, seed):
    """Mini-batch SGD on mean softmax cross-entropy; a fresh order each epoch."""
    opt = torch.optim.SGD(model.parameters(), lr=recipe["lr"], momentum=recipe["momentum"],
                          weight_decay=recipe["weight_decay"])
    steps = recipe["epochs"] * ((len(x) + BATCH - 1) // BATCH)
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) if recipe["cosine"]
             else None)
    gen = torch.Generator().manual_seed(seed)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(recipe["epochs"]):
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), BATCH):
            idx = order[i:i + BATCH]
            opt.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
            if sched is not None:
                sched.step()
    model.eval()


@torch.no_grad()
def forward(model, x):
    model.eval()
    return torch.cat([model(x[i:i + 1000]) for i in range(0, len(x), 1000)])


def accuracy(logits, y):
    return float((logits.argmax(1) == y).double().mean())


def multiply_adds(model):
    """Multiply-adds per example of the Conv2d and Linear layers (BN folded, pooling
    adds not counted), by a forward pass of one example with hooks."""
    total = [0]

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            kh, kw = m.kernel_size
            total[0] += out.numel() * (m.in_channels // m.groups) * kh * kw
        elif isinstance(m, nn.Linear):
            total[0] += m.in_features * m.out_features
    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    forward(model, torch.zeros(1, 1, 28, 28))
    for h in handles:
        h.remove()
    return total[0]


def folded_params(module):
    """Parameters once BatchNorm is folded: conv weights + one bias per output channel."""
    n = 0
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            n += m.weight.numel() + m.out_channels
        elif isinstance(m, nn.Linear):
            n += m.weight.numel() + m.out_features
    return n


def numpy_forward(proto, x):
    """The ONNX graph run by numpy alone (the operators export_onnx allows), in
    float64: checks what the exporter wrote, BN folding included, against torch."""
    from onnx import numpy_helper
    env = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in proto.graph.initializer}
    env[proto.graph.input[0].name] = x.astype(np.float64)
    for n in proto.graph.node:
        a = {at.name: at for at in n.attribute}
        ins = [env[i] for i in n.input]
        if n.op_type == "Conv":
            w, g = ins[1], a["group"].i if "group" in a else 1
            s, p = a["strides"].ints[0], a["pads"].ints[0]
            xp = np.pad(ins[0], ((0, 0), (0, 0), (p, p), (p, p)))
            k, oc = w.shape[2], w.shape[0]
            oh = (xp.shape[2] - k) // s + 1
            out = np.zeros((xp.shape[0], oc, oh, oh))
            cin = w.shape[1]
            for o in range(oc):
                c0 = (o // (oc // g)) * cin
                for i in range(k):
                    for j in range(k):
                        patch = xp[:, c0:c0 + cin, i:i + s * oh:s, j:j + s * oh:s]
                        out[:, o] += np.einsum("nchw,c->nhw", patch, w[o, :, i, j])
            y = out + (ins[2][None, :, None, None] if len(ins) > 2 else 0)
        elif n.op_type == "Relu":
            y = np.maximum(ins[0], 0)
        elif n.op_type == "GlobalAveragePool":
            y = ins[0].mean(axis=(2, 3), keepdims=True)
        elif n.op_type == "Flatten":
            y = ins[0].reshape(ins[0].shape[0], -1)
        elif n.op_type == "Gemm":
            y = ins[0] @ (ins[1].T if a["transB"].i else ins[1]) + ins[2]
        else:
            raise RuntimeError(f"numpy_forward: no {n.op_type}")
        env[n.output[0]] = y
    return env[proto.graph.output[0].name]


def export_onnx(model, path, check_x):
    import onnx
    model.eval()
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), path, opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      do_constant_folding=True, training=torch.onnx.TrainingMode.EVAL)
    proto = onnx.load(path)
    onnx.checker.check_model(proto)
    ops = sorted({n.op_type for n in proto.graph.node})
    allowed = {"Conv", "BatchNormalization", "Relu", "GlobalAveragePool", "Flatten", "Gemm"}
    if not set(ops) <= allowed:
        raise RuntimeError(f"{path}: unexpected operators {sorted(set(ops) - allowed)}")
    # The file's graph against the torch model on real images, one at a time.
    diff = max(float(np.abs(numpy_forward(proto, check_x[i:i + 1].numpy())
                            - forward(model, check_x[i:i + 1]).double().numpy()).max())
               for i in range(len(check_x)))
    if diff > 1e-4:
        raise RuntimeError(f"{path}: the ONNX graph's logits differ from torch's by {diff}")
    return ops, [n.op_type for n in proto.graph.node], diff


def run(name, x_tr, y_tr, x_te, y_te, proxy, out_dir):
    make, recipe = MODELS[name]
    torch.manual_seed(SEED)
    body, head = make()
    if name == "dense":
        glorot_(body)
        glorot_(head)
    model = nn.Sequential(body, head)
    px, py = x_tr[:proxy], y_tr[:proxy]

    t0 = time.perf_counter()
    train(model, px, py, recipe, SEED)
    pretrain_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    test_logits = forward(model, x_te)
    full_train_feats = forward(body, x_tr)  # also the timing of a body over 60000
    body_forward_s = time.perf_counter() - t0
    result = {
        "model": name,
        "proxy_examples": proxy,
        "recipe": dict(recipe, batch=BATCH, seed=SEED),
        "params": folded_params(model),
        "params_body": folded_params(body),
        "params_head": folded_params(head),
        "multiply_adds": multiply_adds(model),
        "multiply_adds_body": multiply_adds(body),
        "proxy_train_accuracy": round(accuracy(forward(model, px), py), 4),
        "test_accuracy": round(accuracy(test_logits, y_te), 4),
    }

    # Frozen body, fresh head trained centrally on the other examples.
    torch.manual_seed(SEED + 1)
    _, fresh = make()
    glorot_(fresh)
    feats, test_feats = full_train_feats[proxy:], forward(body, x_te)
    t0 = time.perf_counter()
    train(fresh, feats, y_tr[proxy:],
          dict(epochs=HEAD_EPOCHS, lr=HEAD_LR, momentum=0.0, weight_decay=0.0, cosine=False),
          SEED + 1)
    head_s = time.perf_counter() - t0
    result["head_upper_bound"] = {
        "train_examples": len(feats),
        "recipe": dict(epochs=HEAD_EPOCHS, lr=HEAD_LR, batch=BATCH, momentum=0.0),
        "train_accuracy": round(accuracy(forward(fresh, feats), y_tr[proxy:]), 4),
        "test_accuracy": round(accuracy(forward(fresh, test_feats), y_te), 4),
    }
    result["seconds"] = {  # This machine, two threads: varies run to run.
        "pretrain": round(pretrain_s, 1),
        "head_retrain": round(head_s, 1),
        "forward_70000": round(body_forward_s, 2),  # full test + body on all train
    }
    if name != "dense":
        ops, seq, diff = export_onnx(model, os.path.join(out_dir, f"{name}.onnx"), x_te[:20])
        result["onnx"] = {"file": f"{name}.onnx", "opset": 13, "operators": ops,
                          "max_abs_logit_diff_numpy_vs_torch_20_test_images": float(f"{diff:.1e}"),
                          "nodes": seq, "input": [1, 1, 28, 28], "output": [1, 10],
                          "head_layers": 2}
    with open(os.path.join(out_dir, f"{name}.json"), "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)
        f.write("\n")
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=DATA_DIR, help="folder of the four IDX gzip files")
    p.add_argument("--proxy", type=int, default=6000, help="proxy split: first N train examples")
    p.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    p.add_argument("--models", default="ds_cnn,ds_cnn_small,dense",
                   help="comma-separated: " + ",".join(MODELS))
    a = p.parse_args()
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    x_tr, y_tr = load_split(a.data, "train")
    x_te, y_te = load_split(a.data, "t10k")
    if not 0 < a.proxy < len(x_tr):
        sys.exit(f"--proxy must be in (0, {len(x_tr)})")
    os.makedirs(a.out, exist_ok=True)
    for name in a.models.split(","):
        if name not in MODELS:
            sys.exit(f"unknown model {name!r}; known: {', '.join(MODELS)}")
        r = run(name, x_tr, y_tr, x_te, y_te, a.proxy, a.out)
        print(f"{name}: params {r['params']} (body {r['params_body']}), "
              f"MACs {r['multiply_adds']} (body {r['multiply_adds_body']}), "
              f"proxy {r['proxy_train_accuracy']:.4f} test {r['test_accuracy']:.4f} "
              f"frozen body + head {r['head_upper_bound']['test_accuracy']:.4f}, "
              f"seconds {r['seconds']}", flush=True)


if __name__ == "__main__":
    main()
