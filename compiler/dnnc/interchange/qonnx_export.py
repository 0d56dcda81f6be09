"""QONNX export: a lowered dnnc IR as a QONNX graph that qonnx (and FINN's front end) reads and executes.

Form (all integers in float32 containers, exact while |value| < 2^24, which range analysis proves):
  input (FLOAT, annotated UINT8) -> [Mul in_mul, Add in_add] -> per layer:
  Linear:    MatMul/Conv with the integer codes quantized by BipolarQuant (binary) or Quant(bitwidth b,
             signed, narrow: an identity on the codes; emitted as `Quant` for FINN's QONNX handlers)
  MaxPool:   MaxPool
  Threshold: [Mul by the per-channel direction d in {+1,-1,0}] -> MultiThreshold(T, BIPOLAR, out_scale 2,
             out_bias -1): +1 iff d*acc >= T, with T = t (d=+1), -t (d=-1), 0 or 1 (d=0, const +1 / -1)
  output:    the same three outputs as the deployment ONNX: acc (Cast INT32), logits (Mul, Add in float32,
             two roundings), class (ArgMax, ties to the lowest index).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from dnnc import __version__
from dnnc.errors import DnncError
from dnnc.interchange.annotations import annotate
from dnnc.ir.model import ArgMax, IRModel, Linear, MaxPool, OutputAffine, Threshold
from dnnc.vocabulary import BIPOLAR, INT32, UINT8, int_dtype, weight_dtype, weight_set_of

DOMAIN = "qonnx.custom_op.general"
OPSET = 11  # qonnx's preferred ONNX opset
IR_VERSION = 8


class _Graph:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.ann: list[tuple[str, str]] = []

    def const(self, name: str, value) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], out: str, custom: bool = False, **attrs) -> str:
        self.nodes.append(helper.make_node(op, inputs, [out], name=out.replace("_out", ""),
                                           domain=DOMAIN if custom else "", **attrs))
        return out


def _weight(g: _Graph, layer: Linear) -> str:
    codes = np.asarray(layer.weight, np.float32)
    values = tuple(layer.weight_values)
    w = g.const(f"{layer.name}_W", codes if layer.kind == "conv" else codes.T)
    g.ann.append((w, layer.weight_dtype or weight_dtype(values)))
    if weight_set_of(values) == "binary":
        return g.node("BipolarQuant", [w, g.const(f"{layer.name}_Ws", 1.0)], f"{layer.name}_Wq_out", custom=True)
    m = max(abs(v) for v in values)
    bits = int(m).bit_length() + 1  # signed narrow range [-(2^(b-1)-1), 2^(b-1)-1] holds every code
    if min(values) < -m or min(values) < -(2 ** (bits - 1) - 1):
        raise DnncError(f"layer '{layer.name}': weight codes {values} do not fit a narrow signed Quant")
    return g.node("Quant", [w, g.const(f"{layer.name}_Ws", 1.0), g.const(f"{layer.name}_Wz", 0.0),
                            g.const(f"{layer.name}_Wb", float(bits))], f"{layer.name}_Wq_out", custom=True,
                  signed=1, narrow=1, rounding_mode="ROUND")


def _linear(g: _Graph, layer: Linear, cur: str, rank: int) -> tuple[str, int]:
    if layer.in_mul != 1:
        cur = g.node("Mul", [cur, g.const(f"{layer.name}_in_mul", float(layer.in_mul))], f"{layer.name}_u0_out")
    if layer.in_add != 0:
        cur = g.node("Add", [cur, g.const(f"{layer.name}_in_add", float(layer.in_add))], f"{layer.name}_u_out")
    w = _weight(g, layer)
    if layer.kind == "conv":
        p, s = int(layer.pad), int(layer.stride)
        kh, kw = layer.weight.shape[2:]
        out = g.node("Conv", [cur, w], f"{layer.name}_out", kernel_shape=[int(kh), int(kw)], pads=[p] * 4,
                     strides=[s, s], dilations=[1, 1], group=1)
        return out, 4
    if rank > 2:
        cur = g.node("Flatten", [cur], f"{layer.name}_flat_out", axis=1)
    return g.node("MatMul", [cur, w], f"{layer.name}_out"), 2


def _threshold(g: _Graph, layer: Threshold, cur: str, rank: int) -> str:
    d = np.asarray(layer.direction, np.int64)
    t = np.asarray(layer.threshold, np.int64)
    tv = np.where(d > 0, t, np.where(d < 0, -t, np.where(np.asarray(layer.const) > 0, 0, 1)))
    if np.abs(tv).max(initial=0) >= 2**24:
        raise DnncError(f"layer '{layer.name}': threshold beyond float32's exact integers")
    if np.any(d != 1):
        shape = (1, -1) + (1,) * (rank - 2)
        dv = g.const(f"{layer.name}_dir", d.astype(np.float32).reshape(shape))
        cur = g.node("Mul", [cur, dv], f"{layer.name}_signed_out")
    T = g.const(f"{layer.name}_T", tv.astype(np.float32).reshape(-1, 1))
    out = g.node("MultiThreshold", [cur, T], f"{layer.name}_out", custom=True, out_dtype=BIPOLAR,
                 out_scale=2.0, out_bias=-1.0, data_layout="NCHW" if rank == 4 else "NC")
    g.ann.append((out, BIPOLAR))
    return out


def ir_to_qonnx(model: IRModel) -> onnx.ModelProto:
    """The QONNX graph computing exactly `dnnc.ir.interpreter.run(model, ...)` (outputs acc, logits, class)."""
    g = _Graph()
    cur, rank = "input", 1 + len(model.input_shape)
    acc = None
    for layer in model.layers:
        if isinstance(layer, Linear):
            cur, rank = _linear(g, layer, cur, rank)
            acc = cur
            g.ann.append((cur, int_dtype(layer.acc_min, layer.acc_max) if layer.has_ranges and layer.acc_max
                           else INT32))
        elif isinstance(layer, MaxPool):
            cur = g.node("MaxPool", [cur], f"{layer.name}_out", kernel_shape=[layer.k, layer.k],
                         strides=[layer.stride, layer.stride])
        elif isinstance(layer, Threshold):
            cur = _threshold(g, layer, cur, rank)
        elif isinstance(layer, OutputAffine):
            g.node("Cast", [acc], "acc", to=TensorProto.INT32)
            y = g.node("Mul", [acc, g.const("out_scale", layer.scale.reshape(1, -1))], "out_scaled")
            cur = g.node("Add", [y, g.const("out_bias", layer.bias.reshape(1, -1))], "logits")
        elif isinstance(layer, ArgMax):
            g.node("ArgMax", [cur], "class", axis=1, keepdims=0)
        else:
            raise DnncError(f"layer '{layer.name}': {type(layer).__name__} has no QONNX form (run the passes first)")
    k = model.num_classes
    graph = helper.make_graph(
        g.nodes, model.name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, *model.input_shape])],
        [helper.make_tensor_value_info("acc", TensorProto.INT32, [1, k]),
         helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, k]),
         helper.make_tensor_value_info("class", TensorProto.INT64, [1])],
        initializer=g.inits)
    annotate(graph, "input", UINT8)
    for tensor, dtype in g.ann:
        annotate(graph, tensor, dtype)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(DOMAIN, 1)],
                              producer_name="dnnc", producer_version=__version__)
    proto.ir_version = IR_VERSION
    helper.set_model_props(proto, {"dnnc.format": "qonnx-1", "dnnc.num_classes": str(k)})
    onnx.checker.check_model(proto)
    return proto
