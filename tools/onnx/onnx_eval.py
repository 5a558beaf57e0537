#!/usr/bin/env python3
"""An independent check of tools/onnx's ExportOnnx (onnx_export_check_test).

Loads each NAME.onnx that onnx_export_cases wrote with the `onnx` package
(onnx.checker.check_model must pass), evaluates the graph node by node in float64
with torch.nn.functional, written against the ONNX operator spec (not against the
core's code: padding is an explicit F.pad, count_include_pad=0 divides by a count
of input cells, max pooling pads with -inf), and compares with the outputs the
C++ Network computed (cases.txt), within 1e-5 (relative above magnitude 1).

  /usr/bin/python3 onnx_eval.py DIR
"""
import sys

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn.functional as F

TOLERANCE = 1e-5


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def pad4(x, pads, value):
    """ONNX pads [top, left, bottom, right] on an NCHW tensor."""
    top, left, bottom, right = pads
    return F.pad(x, (left, right, top, bottom), value=value)


def window(a):
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise ValueError("auto_pad is not evaluated here")
    if a.get("ceil_mode", 0):
        raise ValueError("ceil_mode is not evaluated here")
    return (list(a["kernel_shape"]), list(a.get("strides", [1, 1])),
            list(a.get("pads", [0, 0, 0, 0])), list(a.get("dilations", [1, 1])))


def run_node(node, ins):
    a = attrs(node)
    op = node.op_type
    x = ins[0]
    if op == "Conv":
        _, strides, pads, dilations = window(a)
        bias = ins[2] if len(ins) > 2 else None
        return F.conv2d(pad4(x, pads, 0.0), ins[1], bias, stride=strides, dilation=dilations,
                        groups=a.get("group", 1))
    if op == "Relu":
        return torch.clamp(x, min=0.0)
    if op == "Clip":
        lo = ins[1].item() if len(ins) > 1 and ins[1] is not None else -np.inf
        hi = ins[2].item() if len(ins) > 2 and ins[2] is not None else np.inf
        return torch.clamp(x, min=lo, max=hi)
    if op == "MaxPool":
        kernel, strides, pads, dilations = window(a)
        assert dilations == [1, 1]
        return F.max_pool2d(pad4(x, pads, -np.inf), kernel, strides)
    if op == "AveragePool":
        kernel, strides, pads, _ = window(a)
        area = kernel[0] * kernel[1]
        total = F.avg_pool2d(pad4(x, pads, 0.0), kernel, strides) * area
        if a.get("count_include_pad", 0):
            return total / area
        # Divide by the number of input (not padded) cells in each window.
        ones = pad4(torch.ones_like(x[:, :1]), pads, 0.0)
        count = F.avg_pool2d(ones, kernel, strides) * area
        return total / count
    if op == "GlobalAveragePool":
        return x.mean(dim=(2, 3), keepdim=True)
    if op == "Flatten":
        axis = a.get("axis", 1)
        return x.reshape(int(np.prod(x.shape[:axis])), -1)
    if op == "Gemm":
        w = ins[1].t() if a.get("transB", 0) else ins[1]
        aa = x.t() if a.get("transA", 0) else x
        y = a.get("alpha", 1.0) * (aa @ w)
        if len(ins) > 2:
            y = y + a.get("beta", 1.0) * ins[2]
        return y
    if op == "Identity":
        return x
    raise ValueError(f"operator {op} is not evaluated here")


def evaluate(model, x):
    values = {t.name: torch.from_numpy(onnx.numpy_helper.to_array(t).astype(np.float64))
              for t in model.graph.initializer}
    values[model.graph.input[0].name] = x
    for node in model.graph.node:
        ins = [values[n] if n else None for n in node.input]
        values[node.output[0]] = run_node(node, ins)
    return values[model.graph.output[0].name]


def read_cases(path):
    cases = []
    for line in open(path):
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "case":
            cases.append({"name": parts[1], "shape": [int(v) for v in parts[2:6]]})
        elif parts[0] in ("x", "y"):
            cases[-1][parts[0]] = np.array(parts[1:], dtype=np.float64)
    return cases


def main(directory):
    failures = 0
    cases = read_cases(f"{directory}/cases.txt")
    if not cases:
        print("FAIL: no cases")
        return 1
    for case in cases:
        model = onnx.load(f"{directory}/{case['name']}.onnx")
        onnx.checker.check_model(model, full_check=True)
        rows, c, h, w = case["shape"]
        dims = model.graph.input[0].type.tensor_type.shape.dim
        shape = (rows, c, h, w) if len(dims) == 4 else (rows, c * h * w)
        # The float32 inputs, widened (the C++ side read the same float32 values).
        x = torch.from_numpy(case["x"].astype(np.float32).astype(np.float64).reshape(shape))
        with torch.no_grad():
            y = evaluate(model, x).reshape(-1).numpy()
        if y.shape != case["y"].shape:
            print(f"FAIL {case['name']}: {y.shape} outputs, {case['y'].shape} expected")
            failures += 1
            continue
        err = np.max(np.abs(y - case["y"]) / np.maximum(1.0, np.abs(y)))
        ops = " ".join(n.op_type for n in model.graph.node)
        print(f"{'ok' if err <= TOLERANCE else 'FAIL'} {case['name']}: max error {err:.2g} ({ops})")
        failures += err > TOLERANCE
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
