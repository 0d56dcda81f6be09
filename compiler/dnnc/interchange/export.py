"""DiscreteNet -> pre-pass IR, which `onnx_writer` turns into the deployment ONNX (one writer serves export and
every pass stage; `dnnc.frontend.export_onnx` runs range analysis in between for the accumulator datatypes).

Constants are computed in float64 and rounded to float32 once (docs/compiler.md, "Deployment ONNX"):
  hidden layer i: A = f32(gamma * inv_std * weight_scale / div), B = f32(beta - gamma * inv_std * mean)
  output layer:   S = f32(weight_scale / div * out_scale),      Bo = f32(bias * out_scale)
where div = input_div for the first layer (the input normalization's divisor) and 1 otherwise.
"""

from __future__ import annotations

import os

import numpy as np
import onnx

from dnnc.errors import DnncError
from dnnc.fsutil import atomic_output_file
from dnnc.ir.model import ArgMax, BatchNormSign, InputAffine, IRModel, Layer, Linear, MaxPool, OutputAffine
from dnnc.netspec import DiscreteNet, LinearLayer
from dnnc.vocabulary import BIPOLAR, UINT8, WEIGHT_SETS, conv_out_size, weight_dtype


def _linear(name: str, layer: LinearLayer, in_shape: tuple[int, ...], first: bool) -> Linear:
    codes = WEIGHT_SETS[layer.weight_set][0]
    w = np.asarray(layer.weight).astype(np.int8)
    if layer.kind == "conv":
        c, h, wd = in_shape
        if w.ndim != 4 or w.shape[1] != c:
            raise DnncError(f"layer '{name}': conv weight {w.shape} does not fit input {in_shape}")
        oh = conv_out_size(h, w.shape[2], layer.stride, layer.padding)
        ow = conv_out_size(wd, w.shape[3], layer.stride, layer.padding)
        out_shape: tuple[int, ...] = (w.shape[0], oh, ow)
    else:
        if w.ndim != 2 or w.shape[1] != int(np.prod(in_shape)):
            raise DnncError(f"layer '{name}': dense weight {w.shape} does not fit input {in_shape}")
        out_shape = (w.shape[0],)
    return Linear(name, tuple(in_shape), out_shape, kind=layer.kind, weight=w, weight_values=tuple(codes),
                  weight_dtype=weight_dtype(codes), stride=layer.stride, pad=layer.padding,
                  in_dtype=UINT8 if first else BIPOLAR)


def net_to_ir(net: DiscreteNet, name: str = "model") -> IRModel:
    """The pre-pass IR of a DiscreteNet: InputAffine, Linear, [MaxPool], BatchNormSign, ..., OutputAffine, ArgMax."""
    try:
        net.validate()
    except ValueError as exc:
        raise DnncError(f"discrete network: {exc}") from None
    shape = tuple(int(s) for s in net.input_shape)
    layers: list[Layer] = [InputAffine("input_norm", shape, shape, mul=int(net.input_mul), add=int(net.input_add))]
    div = float(net.input_div)
    for i, hl in enumerate(net.hidden):
        lin = _linear(f"{hl.kind}{i}", hl, shape, first=i == 0)
        layers.append(lin)
        shape = lin.out_shape
        if hl.pool:
            if hl.kind != "conv":
                raise DnncError(f"layer '{lin.name}': max-pool needs a conv layer")
            c, h, w = shape
            pooled = (c, conv_out_size(h, hl.pool, hl.pool), conv_out_size(w, hl.pool, hl.pool))
            layers.append(MaxPool(f"pool{i}", shape, pooled, k=hl.pool, stride=hl.pool))
            shape = pooled
        if hl.bn is None:
            raise DnncError(f"layer '{lin.name}': hidden layer without batch norm")
        bn = hl.bn
        g = np.asarray(bn.gamma, np.float64) * np.asarray(bn.inv_std, np.float64)
        a = (g * (hl.weight_scale / (div if i == 0 else 1.0))).astype(np.float32)
        b = (np.asarray(bn.beta, np.float64) - g * np.asarray(bn.mean, np.float64)).astype(np.float32)
        if a.shape != (shape[0],) or b.shape != (shape[0],):
            raise DnncError(f"layer '{lin.name}': batch norm has {a.shape} channels, expected {shape[0]}")
        layers.append(BatchNormSign(f"sign{i}", shape, shape, scale=a, bias=b))
    out = net.output
    lin = _linear("out", out, shape, first=not net.hidden)
    layers.append(lin)
    k = lin.out_shape[0]
    scale = out.weight_scale / (div if not net.hidden else 1.0) * float(out.out_scale)
    bias = np.zeros(k) if out.bias is None else np.asarray(out.bias, np.float64)
    layers.append(OutputAffine("out_affine", (k,), (k,), scale=np.full(k, scale, np.float64).astype(np.float32),
                               bias=(bias * float(out.out_scale)).astype(np.float32)))
    layers.append(ArgMax("argmax", (k,), ()))
    return IRModel(name, tuple(int(s) for s in net.input_shape), layers, k, meta={"arch": net.arch})


def save_onnx(proto: onnx.ModelProto, path: str | os.PathLike, inputs: tuple = ()) -> None:
    """Check fully, then write atomically (nothing is left behind on error); `inputs` are never replaced."""
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as exc:  # noqa: BLE001 - checker raises several types
        raise DnncError(f"{path}: exported graph fails onnx.checker: {str(exc).splitlines()[0]}") from None
    with atomic_output_file(path, inputs=inputs) as tmp:
        onnx.save(proto, tmp)
