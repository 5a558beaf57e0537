#!/usr/bin/env python3
"""ONNX models exported by PyTorch, for tools/onnx's import test (onnx_import_test).

Writes, into the directory given (default: this script's), one NAME.onnx per case
(torch.onnx.export of a small seeded model in eval mode) and cases.txt: for each case,
random inputs (float32, seeded) and PyTorch's outputs, computed in float64 from the
float32 parameters and inputs. Inputs are written in the core's layout (NHWC, channels
fastest); outputs are logits (one row per example).

The cases cover every operator the importer accepts: odd kernels, strides and
paddings, depthwise convolution with a channel multiplier of 2, batch norm after conv,
depthwise and linear, ReLU and ReLU6 (Clip as inputs at opset 13, as attributes at
opset 10), fused or standalone, max and average pooling (count_include_pad both ways),
global average pooling, a flatten of a 3x3xC map into a Linear, Reshape as flatten,
and a dense-only model with MatMul + Add. Two refused models (Sigmoid; a Softmax
mid-graph) are written too.

  /usr/bin/python3 make_cases.py [DIR]          # regenerate into DIR
  /usr/bin/python3 make_cases.py --check DIR    # regenerate to a temp dir and compare

Format of cases.txt: "case NAME ROWS IN_SIZE OUT_SIZE", "x v..." (rows x in_size
floats, the shortest text of each float32), "y v..." (rows x out_size, %.17g), "end".
"""
import os
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn


def seeded_bn(bn, seed):
    g = torch.Generator().manual_seed(seed)
    n = bn.num_features
    with torch.no_grad():
        bn.weight.copy_(torch.rand(n, generator=g) + 0.5)
        bn.bias.copy_(torch.randn(n, generator=g) * 0.3)
        bn.running_mean.copy_(torch.randn(n, generator=g) * 0.3)
        bn.running_var.copy_(torch.rand(n, generator=g) + 0.5)
    return bn


class MatMulAdd(nn.Module):
    """x @ w + b, which exports as MatMul then Add (not Gemm)."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.w = nn.Parameter(torch.randn(n_in, n_out) * 0.3)
        self.b = nn.Parameter(torch.randn(n_out) * 0.1)

    def forward(self, x):
        return torch.matmul(x, self.w) + self.b


class ReshapeFlat(nn.Module):
    """x.reshape(1, -1): Reshape with a constant shape, one example at a time."""

    def forward(self, x):
        return x.reshape(1, -1)


class Softmax1(nn.Module):
    def forward(self, x):
        return torch.softmax(x, dim=1)


def conv_bn_relu():
    # Kernel 5x3, stride (2, 1), padding (2, 1); BN folded; Flatten of a 5x7x3 map.
    return nn.Sequential(
        nn.Conv2d(2, 3, (5, 3), stride=(2, 1), padding=(2, 1)),
        seeded_bn(nn.BatchNorm2d(3), 11), nn.ReLU(),
        nn.Flatten(), nn.Linear(5 * 7 * 3, 4)), (2, 9, 7), 2


def depthwise_relu6():
    # Depthwise multiplier 2 (stride 2), BN, ReLU6; pointwise; avg pool with
    # count_include_pad=False; flatten of a 3x3x4 map into Linear.
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, stride=2, padding=1, groups=3),
        seeded_bn(nn.BatchNorm2d(6), 12), nn.ReLU6(),
        nn.Conv2d(6, 4, 1), nn.ReLU(),
        nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
        nn.Flatten(), nn.Linear(36, 5)), (3, 11, 11), 2


def pools():
    # Max pool (padding 1, stride 2), a standalone ReLU6, avg pool counting the
    # padding, dilated conv, global average, Linear + BN1d + ReLU, Linear.
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, dilation=2),
        nn.MaxPool2d(3, stride=2, padding=1), nn.ReLU6(),
        nn.AvgPool2d(3, stride=1, padding=1),
        nn.Conv2d(4, 5, 3, stride=(1, 2), padding=(0, 1)),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(5, 8), seeded_bn(nn.BatchNorm1d(8), 13), nn.ReLU(),
        nn.Linear(8, 3)), (1, 13, 12), 2


def reshape_flatten():
    # Reshape(1, -1) as flatten of a 3x3x2 map (opset 10: Clip with attributes).
    return nn.Sequential(
        nn.Conv2d(2, 2, 3, stride=3, groups=2), nn.ReLU6(),
        ReshapeFlat(), nn.Linear(18, 6), nn.ReLU6(), nn.Linear(6, 3)), (2, 9, 9), 1


def dense_only():
    # [N, F] input; MatMul + Add, Gemm, ReLU6 (Clip inputs), BN1d after MatMul.
    return nn.Sequential(
        nn.Linear(10, 16), nn.ReLU6(),
        MatMulAdd(16, 8), seeded_bn(nn.BatchNorm1d(8), 14), nn.ReLU(),
        nn.Linear(8, 3)), (10,), 3


def sigmoid_model():
    return nn.Sequential(nn.Linear(4, 3), nn.Sigmoid(), nn.Linear(3, 2)), (4,), 1


def softmax_mid():
    return nn.Sequential(nn.Linear(4, 3), Softmax1(), nn.Linear(3, 2)), (4,), 1


CASES = [
    ("conv_bn_relu", conv_bn_relu, 13),
    ("depthwise_relu6", depthwise_relu6, 13),
    ("pools", pools, 13),
    ("reshape_flatten", reshape_flatten, 10),
    ("dense_only", dense_only, 13),
]
REFUSED = [("sigmoid", sigmoid_model), ("softmax_mid", softmax_mid)]


def export(model, shape, path, opset):
    # In EVAL mode the exporter folds a BatchNorm2d into the conv before it;
    # PRESERVE (the model is in eval()) keeps BatchNormalization nodes, which the
    # importer must fold itself. Linear + BatchNorm1d stays unfolded either way.
    x = torch.zeros((1,) + shape)
    torch.onnx.export(model, x, path, opset_version=opset, input_names=["input"],
                      output_names=["logits"], do_constant_folding=True,
                      training=torch.onnx.TrainingMode.PRESERVE)


def write_all(out_dir):
    lines = []
    for seed, (name, make, opset) in enumerate(CASES):
        torch.manual_seed(100 + seed)
        model, shape, rows = make()
        model.eval()
        export(model, shape, os.path.join(out_dir, name + ".onnx"), opset)
        x = torch.randn((rows,) + shape)
        with torch.no_grad():
            # One example at a time (the Reshape case fixes the batch at 1).
            y = torch.cat([model.double()(x[r:r + 1].double()) for r in range(rows)])
        nhwc = x.permute(0, 2, 3, 1) if x.dim() == 4 else x
        lines.append(f"case {name} {rows} {x[0].numel()} {y.shape[1]}")
        lines.append("x " + " ".join(str(np.float32(v)) for v in nhwc.reshape(-1).tolist()))
        lines.append("y " + " ".join("%.17g" % v for v in y.reshape(-1).tolist()))
        lines.append("end")
    for seed, (name, make) in enumerate(REFUSED):
        torch.manual_seed(200 + seed)
        model, shape, _ = make()
        export(model.eval(), shape, os.path.join(out_dir, name + ".onnx"), 13)
    with open(os.path.join(out_dir, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def same_model(a, b):
    import onnx
    import onnx.numpy_helper as nh
    ma, mb = onnx.load(a), onnx.load(b)
    if [(n.op_type, str(n.attribute)) for n in ma.graph.node] != \
       [(n.op_type, str(n.attribute)) for n in mb.graph.node]:
        return False
    ia = {t.name: nh.to_array(t) for t in ma.graph.initializer}
    ib = {t.name: nh.to_array(t) for t in mb.graph.initializer}
    return ia.keys() == ib.keys() and all(np.array_equal(ia[k], ib[k]) for k in ia)


def check(committed):
    with tempfile.TemporaryDirectory() as tmp:
        write_all(tmp)
        for name in [c[0] for c in CASES] + [r[0] for r in REFUSED]:
            if not same_model(os.path.join(tmp, name + ".onnx"),
                              os.path.join(committed, name + ".onnx")):
                print(f"FAIL: {name}.onnx differs from a fresh export")
                return 1
        fresh = open(os.path.join(tmp, "cases.txt")).read().split("\n")
        old = open(os.path.join(committed, "cases.txt")).read().split("\n")
        if len(fresh) != len(old):
            print("FAIL: cases.txt has a different number of lines")
            return 1
        for a, b in zip(fresh, old):
            if a.startswith("y "):
                va = np.array(a.split()[1:], dtype=np.float64)
                vb = np.array(b.split()[1:], dtype=np.float64)
                if va.shape != vb.shape or np.max(np.abs(va - vb)) > 1e-6:
                    print("FAIL: outputs differ")
                    return 1
            elif a != b:
                print(f"FAIL: line differs: {a[:60]}")
                return 1
    print("OK: the committed cases are what make_cases.py makes")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        sys.exit(check(sys.argv[2]))
    write_all(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
