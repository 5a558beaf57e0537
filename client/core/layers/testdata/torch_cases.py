#!/usr/bin/env python3
"""PyTorch reference cases for client/core/layers (layers_torch_test).

Writes torch_cases.txt: for every layer type, random inputs and parameters (float32,
seeded) and PyTorch's output, computed in float64 from those float32 values, for odd
sizes, strides, dilations and asymmetric paddings. Everything is written in the core's
layouts (NHWC activations; HWIO conv weights; [kh][kw][c] depthwise weights; [in][out]
dense weights; the bias after the weights), so the conversions from PyTorch's layouts
below are the ones a model importer needs.

  /usr/bin/python3 torch_cases.py > torch_cases.txt     # regenerate
  /usr/bin/python3 torch_cases.py --check torch_cases.txt  # compare (the regen test)

Format: "case NAME TYPE", then lines "i KEY v..." (integers) and "f KEY v..." (floats,
the shortest text of each float32), then "end".
"""
import sys

import numpy as np
import torch
import torch.nn.functional as F

RELU = {"none": 0, "relu": 1, "relu6": 2}


class Writer:
    def __init__(self):
        self.lines = []

    def case(self, name, kind):
        self.lines.append(f"case {name} {kind}")

    def ints(self, key, *values):
        self.lines.append(f"i {key} " + " ".join(str(int(v)) for v in values))

    def floats(self, key, t):
        flat = t.detach().reshape(-1).tolist()
        # The shortest text that reads back as the same float32.
        self.lines.append(f"f {key} " + " ".join(str(np.float32(v)) for v in flat))

    def end(self):
        self.lines.append("end")


GEN = torch.Generator().manual_seed(16)


def randn(*shape, scale=1.0):
    """Normal values rounded to 3 decimals (short in the file), then to float32, and
    returned as float64 (exactly those float32 numbers)."""
    t = torch.round(torch.randn(*shape, generator=GEN) * scale * 1000) / 1000
    return t.float().double()


def nhwc(x):  # (1, C, H, W) -> H, W, C
    return x[0].permute(1, 2, 0)


def act(y, a):
    if a == "relu":
        return F.relu(y)
    if a == "relu6":
        return F.relu6(y)
    return y


def conv_params(w, b):  # (O, I, kh, kw) -> HWIO, then bias
    return torch.cat([w.permute(2, 3, 1, 0).reshape(-1), b])


def dw_params(w, b):  # (C*m, 1, kh, kw) -> [kh][kw][C*m], then bias
    return torch.cat([w[:, 0].permute(1, 2, 0).reshape(-1), b])


def dense_params(w, b):  # (O, I) -> [I][O], then bias
    return torch.cat([w.t().reshape(-1), b])


def write_window(out, kernel, stride, pad, dilation=(1, 1)):
    out.ints("kernel", *kernel)
    out.ints("stride", *stride)
    out.ints("dilation", *dilation)
    out.ints("pad", *pad)  # top left bottom right


def padded(x, pad, value=0.0):
    t, l, b, r = pad
    return F.pad(x, (l, r, t, b), value=value)


def conv_case(out, name, hwc, cout, kernel, stride, pad, dilation=(1, 1), a="none"):
    h, w, c = hwc
    x = randn(1, c, h, w)
    wt = randn(cout, c, *kernel, scale=0.5)
    b = randn(cout, scale=0.5)
    y = act(F.conv2d(padded(x, pad), wt, b, stride=stride, dilation=dilation), a)
    out.case(name, "conv2d")
    out.ints("in", h, w, c)
    out.ints("out_channels", cout)
    write_window(out, kernel, stride, pad, dilation)
    out.ints("act", RELU[a])
    out.floats("x", nhwc(x))
    out.floats("params", conv_params(wt, b))
    out.floats("y", nhwc(y))
    out.end()


def dw_case(out, name, hwc, mult, kernel, stride, pad, dilation=(1, 1), a="none"):
    h, w, c = hwc
    x = randn(1, c, h, w)
    wt = randn(c * mult, 1, *kernel, scale=0.5)
    b = randn(c * mult, scale=0.5)
    y = act(F.conv2d(padded(x, pad), wt, b, stride=stride, dilation=dilation, groups=c), a)
    out.case(name, "depthwise_conv2d")
    out.ints("in", h, w, c)
    out.ints("multiplier", mult)
    write_window(out, kernel, stride, pad, dilation)
    out.ints("act", RELU[a])
    out.floats("x", nhwc(x))
    out.floats("params", dw_params(wt, b))
    out.floats("y", nhwc(y))
    out.end()


def avg_case(out, name, hwc, kernel, stride, pad, include_pad=True):
    h, w, c = hwc
    x = randn(1, c, h, w)
    if include_pad:  # Zeros counted: F.pad then no padding (any asymmetry).
        y = F.avg_pool2d(padded(x, pad), kernel, stride)
    else:  # PyTorch pads symmetrically only.
        assert pad[0] == pad[2] and pad[1] == pad[3]
        y = F.avg_pool2d(x, kernel, stride, padding=(pad[0], pad[1]), count_include_pad=False)
    out.case(name, "avg_pool2d")
    out.ints("in", h, w, c)
    write_window(out, kernel, stride, pad)
    out.ints("count_include_pad", int(include_pad))
    out.floats("x", nhwc(x))
    out.floats("y", nhwc(y))
    out.end()


def max_case(out, name, hwc, kernel, stride, pad):
    h, w, c = hwc
    x = randn(1, c, h, w)
    y = F.max_pool2d(padded(x, pad, value=float("-inf")), kernel, stride)
    out.case(name, "max_pool2d")
    out.ints("in", h, w, c)
    write_window(out, kernel, stride, pad)
    out.floats("x", nhwc(x))
    out.floats("y", nhwc(y))
    out.end()


def simple_case(out, name, kind, hwc, a="relu"):
    h, w, c = hwc
    x = randn(1, c, h, w, scale=4.0)  # Past 6, for ReLU6.
    if kind == "global_avg_pool2d":
        y = F.adaptive_avg_pool2d(x, 1)
    elif kind == "flatten":
        y = x  # NHWC order is the core's flatten (dense.h on PyTorch's NCHW order).
    else:
        y = act(x, a)
    out.case(name, kind)
    out.ints("in", h, w, c)
    out.ints("act", RELU[a])
    out.floats("x", nhwc(x))
    out.floats("y", nhwc(y) if kind != "global_avg_pool2d" else y.reshape(-1))
    out.end()


def dense_case(out, name, hwc, nout, a="none"):
    """nn.Flatten (NCHW) then nn.Linear: the weight's columns permuted to NHWC."""
    h, w, c = hwc
    x = randn(1, c, h, w)
    wt = randn(nout, c * h * w, scale=0.3)
    b = randn(nout, scale=0.5)
    y = act(F.linear(x.reshape(1, -1), wt, b), a)
    w_nhwc = wt.reshape(nout, c, h, w).permute(0, 2, 3, 1).reshape(nout, -1)
    out.case(name, "dense")
    out.ints("in", h, w, c)
    out.ints("out_features", nout)
    out.ints("act", RELU[a])
    out.floats("x", nhwc(x))
    out.floats("params", dense_params(w_nhwc, b))
    out.floats("y", y.reshape(-1))
    out.end()


def bn_stats(n):
    return (randn(n, scale=0.5) + 1.0, randn(n, scale=0.5), randn(n, scale=0.5),
            randn(n, scale=0.5).abs() + 0.1)


def write_bn(out, stats, eps, suffix=""):
    for key, t in zip(("gamma", "beta", "mean", "var"), stats):
        out.floats(key + suffix, t)
    out.floats("eps" + suffix, torch.tensor([eps]))


def bn(y, stats, eps):
    g, be, m, v = stats
    return F.batch_norm(y, m, v, g, be, training=False, eps=eps)


def bn_cases(out):
    # conv -> bn -> relu6, stride 2, asymmetric padding.
    h, w, c, cout, pad = 9, 7, 3, 5, (1, 0, 2, 1)
    x = randn(1, c, h, w)
    wt, b = randn(cout, c, 3, 3, scale=0.5), randn(cout, scale=0.5)
    stats = bn_stats(cout)
    y = F.relu6(bn(F.conv2d(padded(x, pad), wt, b, stride=2), stats, 1e-3))
    out.case("conv2d_bn_relu6", "conv2d_bn")
    out.ints("in", h, w, c)
    out.ints("out_channels", cout)
    write_window(out, (3, 3), (2, 2), pad)
    out.ints("act", RELU["relu6"])
    out.floats("x", nhwc(x))
    out.floats("params", conv_params(wt, b))
    write_bn(out, stats, 1e-3)
    out.floats("y", nhwc(y))
    out.end()
    # depthwise -> bn -> relu.
    h, w, c, pad = 7, 5, 3, (1, 1, 1, 1)
    x = randn(1, c, h, w)
    wt, b = randn(c, 1, 3, 3, scale=0.5), randn(c, scale=0.5)
    stats = bn_stats(c)
    y = F.relu(bn(F.conv2d(padded(x, pad), wt, b, groups=c), stats, 1e-5))
    out.case("depthwise_bn_relu", "depthwise_conv2d_bn")
    out.ints("in", h, w, c)
    out.ints("multiplier", 1)
    write_window(out, (3, 3), (1, 1), pad)
    out.ints("act", RELU["relu"])
    out.floats("x", nhwc(x))
    out.floats("params", dw_params(wt, b))
    write_bn(out, stats, 1e-5)
    out.floats("y", nhwc(y))
    out.end()
    # dense -> bn1d.
    nin, nout = 13, 7
    x = randn(1, nin)
    wt, b = randn(nout, nin, scale=0.3), randn(nout, scale=0.5)
    stats = bn_stats(nout)
    y = bn(F.linear(x, wt, b), stats, 1e-5)
    out.case("dense_bn", "dense_bn")
    out.ints("in", 1, 1, nin)
    out.ints("out_features", nout)
    out.ints("act", 0)
    out.floats("x", x)
    out.floats("params", dense_params(wt, b))
    write_bn(out, stats, 1e-5)
    out.floats("y", y.reshape(-1))
    out.end()


def network_case(out):
    """A small DS-CNN with batch norms, end to end: conv3x3/2+bn+relu, dw3x3+bn+relu6,
    pw1x1+bn+relu, maxpool 3/2 pad 1, avgpool 2/1, global average, dense. Two rows."""
    h, w, rows = 11, 13, 2
    x = randn(rows, 1, h, w)
    c1, c2 = 4, 6
    w0, b0, s0 = randn(c1, 1, 3, 3, scale=0.5), randn(c1, scale=0.5), bn_stats(c1)
    w1, b1, s1 = randn(c1, 1, 3, 3, scale=0.5), randn(c1, scale=0.5), bn_stats(c1)
    w2, b2, s2 = randn(c2, c1, 1, 1, scale=0.5), randn(c2, scale=0.5), bn_stats(c2)
    w3, b3 = randn(5, c2, scale=0.5), randn(5, scale=0.5)
    y = F.relu(bn(F.conv2d(x, w0, b0, stride=2, padding=1), s0, 1e-5))
    y = F.relu6(bn(F.conv2d(y, w1, b1, padding=1, groups=c1), s1, 1e-5))
    y = F.relu(bn(F.conv2d(y, w2, b2), s2, 1e-5))
    y = F.max_pool2d(y, 3, 2, padding=1)
    y = F.avg_pool2d(y, 2, 1)
    y = F.adaptive_avg_pool2d(y, 1).reshape(rows, -1)
    y = F.linear(y, w3, b3)
    out.case("ds_cnn_bn", "network")
    out.ints("in", h, w, 1)
    out.ints("rows", rows)
    out.floats("x", x.permute(0, 2, 3, 1))
    out.floats("p0", conv_params(w0, b0))
    write_bn(out, s0, 1e-5, "0")
    out.floats("p1", dw_params(w1, b1))
    write_bn(out, s1, 1e-5, "1")
    out.floats("p2", conv_params(w2, b2))
    write_bn(out, s2, 1e-5, "2")
    out.floats("p3", dense_params(w3, b3))
    out.floats("y", y)
    out.end()


def generate():
    out = Writer()
    conv_case(out, "conv2d_k3_s1_same", (7, 5, 3), 4, (3, 3), (1, 1), (1, 1, 1, 1))
    conv_case(out, "conv2d_k3_s2_asym_relu", (9, 7, 2), 4, (3, 3), (2, 2), (0, 1, 1, 0), a="relu")
    conv_case(out, "conv2d_k5x3_s3x2_dil2", (11, 9, 2), 3, (5, 3), (3, 2), (2, 1, 1, 2),
              dilation=(2, 1), a="relu6")
    conv_case(out, "conv2d_k1_pointwise", (3, 5, 7), 5, (1, 1), (1, 1), (0, 0, 0, 0))
    conv_case(out, "conv2d_k7_s2_valid", (11, 9, 1), 3, (7, 7), (2, 2), (0, 0, 0, 0))
    dw_case(out, "dw_k3_s1_same", (7, 5, 3), 1, (3, 3), (1, 1), (1, 1, 1, 1))
    dw_case(out, "dw_k3_s2_tfsame_relu", (11, 9, 3), 1, (3, 3), (2, 2), (1, 1, 1, 1), a="relu")
    dw_case(out, "dw_k5_s3_asym_dil2_relu6", (11, 9, 3), 1, (5, 5), (3, 2), (2, 0, 3, 1),
            dilation=(2, 2), a="relu6")
    dw_case(out, "dw_mult2_k3", (7, 7, 3), 2, (3, 3), (2, 1), (1, 1, 0, 1))
    avg_case(out, "avg_k3_s2_pad1", (9, 7, 2), (3, 3), (2, 2), (1, 1, 1, 1))
    avg_case(out, "avg_k3x2_s1_asym", (7, 5, 2), (3, 2), (1, 1), (0, 1, 2, 0))
    avg_case(out, "avg_k3_s2_pad1_exclude", (7, 5, 2), (3, 3), (2, 2), (1, 1, 1, 1),
             include_pad=False)
    avg_case(out, "avg_k2_s2", (9, 9, 2), (2, 2), (2, 2), (0, 0, 0, 0))
    max_case(out, "max_k3_s2_pad1", (9, 7, 2), (3, 3), (2, 2), (1, 1, 1, 1))
    max_case(out, "max_k2_s3_asym", (11, 8, 2), (2, 3), (3, 2), (1, 0, 0, 2))
    simple_case(out, "global_avg", "global_avg_pool2d", (5, 7, 6))
    simple_case(out, "flatten", "flatten", (3, 5, 2))
    simple_case(out, "relu", "activation", (3, 5, 4), a="relu")
    simple_case(out, "relu6", "activation", (3, 5, 4), a="relu6")
    dense_case(out, "dense_vector", (1, 1, 17), 7)
    dense_case(out, "dense_after_flatten_relu", (3, 5, 2), 4, a="relu")
    bn_cases(out)
    network_case(out)
    return "\n".join(out.lines) + "\n"


def parse(text):
    cases, cur = [], None
    for line in text.splitlines():
        if line.startswith("case "):
            cur = [line]
        elif line == "end":
            cases.append(cur)
        elif line.startswith(("i ", "f ")):
            cur.append(line)
    return cases


def check(path):
    """0 when `path` holds what generate() makes: same cases, keys and integers;
    floats within 1e-6 (relative above 1: another CPU may sum in another order)."""
    want, have = parse(generate()), parse(open(path).read())
    if len(want) != len(have):
        print(f"{path}: {len(have)} cases, torch makes {len(want)}")
        return 1
    worst = 0.0
    for w, h in zip(want, have):
        if len(w) != len(h):
            print(f"{path}: {h[0]}: {len(h)} lines, torch makes {len(w)}")
            return 1
        for lw, lh in zip(w, h):
            tw, th = lw.split(), lh.split()
            if tw[:2] != th[:2] or len(tw) != len(th) or (tw[0] != "f" and tw != th):
                print(f"{path}: {h[0]}: '{lh[:60]}' differs from torch's '{lw[:60]}'")
                return 1
            if tw[0] == "f":
                for a, b in zip(tw[2:], th[2:]):
                    a, b = float(a), float(b)
                    worst = max(worst, abs(a - b) / max(1.0, abs(a)))
    print(f"{len(want)} cases; largest difference from a fresh torch run {worst:.3g}")
    return 0 if worst <= 1e-6 else 1


def main():
    torch.set_default_dtype(torch.float64)
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        return check(sys.argv[2])
    sys.stdout.write(generate())
    return 0


if __name__ == "__main__":
    sys.exit(main())
