"""Write an IRModel, at any pass stage, as a standard-ops ONNX graph that onnxruntime runs.

All tensors between the input Cast and the outputs are INTEGER VALUES in float32 containers (exact while
|value| < 2^24; range analysis proves it). sign(0) = +1 is Where(GreaterOrEqual(y, 0), 1, -1), never
Sign. An integer Threshold is GreaterOrEqual / LessOrEqual against a float32 threshold tensor (exact
integers) selected per channel by Where; a MultiThreshold counts such comparisons against a (C, T) table
(ReduceSum of the cast booleans) and adds its out_bias. Every quantized tensor carries a finn_datatype annotation.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from dnnc import __version__
from dnnc.errors import DnncError
from dnnc.interchange.annotations import WEIGHT_SET_KEY, annotate
from dnnc.ir.model import (
    ArgMax,
    BatchNormSign,
    InputAffine,
    IRModel,
    Linear,
    MaxPool,
    MultiThreshold,
    OutputAffine,
    Threshold,
)
from dnnc.vocabulary import BIPOLAR, FLOAT32, INT32, UINT8, int_dtype

OPSET = 17
IR_VERSION = 8  # onnxruntime 1.31 loads IR <= 11; 8 is the minimum for opset 17 and opens everywhere


class _Builder:
    def __init__(self, model: IRModel):
        self.model = model
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.annotations: list[tuple[str, str, dict[str, str] | None]] = []
        self.cur = "input"
        self.is_uint8 = True
        self.rank = 1 + len(model.input_shape)
        self.cur_dtype = UINT8

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, name: str, **attrs) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=name, **attrs))
        return output

    def channel(self, values: np.ndarray, dtype=np.float32) -> np.ndarray:
        shape = (1, -1) + (1,) * (self.rank - 2)
        return np.asarray(values).astype(dtype).reshape(shape)

    def to_float(self, prefix: str) -> None:
        if self.is_uint8:
            self.cur = self.node("Cast", [self.cur], f"{prefix}_x", f"{prefix}/Cast", to=TensorProto.FLOAT)
            self.is_uint8 = False

    def affine_int(self, prefix: str, mul: int, add: int) -> None:
        """u = mul * x + add as float32 Mul/Add of exact integers."""
        self.to_float(prefix)
        if mul != 1:
            c = self.const(f"{prefix}_in_mul", np.array(mul, np.float32))
            self.cur = self.node("Mul", [self.cur, c], f"{prefix}_xm", f"{prefix}/InMul")
        if add != 0:
            c = self.const(f"{prefix}_in_add", np.array(add, np.float32))
            self.cur = self.node("Add", [self.cur, c], f"{prefix}_u", f"{prefix}/InAdd")

    def linear(self, layer: Linear) -> None:
        p = layer.name
        self.affine_int(p, layer.in_mul, layer.in_add)
        w = layer.weight.astype(np.float32)
        extra = {WEIGHT_SET_KEY: ",".join(str(v) for v in layer.weight_values)} if layer.weight_values else None
        if layer.kind == "dense":
            if self.rank != 2:
                self.cur = self.node("Flatten", [self.cur], f"{p}_flat", f"{p}/Flatten", axis=1)
                self.rank = 2
            wname = self.const(f"{p}_W", np.ascontiguousarray(w.T))  # (I, O): MatMul layout
            self.cur = self.node("MatMul", [self.cur, wname], f"{p}_acc", f"{p}/MatMul")
        else:
            wname = self.const(f"{p}_W", w)
            kh, kw = layer.weight.shape[2:]
            s, pd = layer.stride, layer.pad
            self.cur = self.node("Conv", [self.cur, wname], f"{p}_acc", f"{p}/Conv", kernel_shape=[kh, kw],
                                 strides=[s, s], pads=[pd, pd, pd, pd], dilations=[1, 1], group=1)
            self.rank = 4
        self.annotations.append((wname, layer.weight_dtype or FLOAT32, extra))
        acc_dt = int_dtype(layer.acc_min, layer.acc_max) if layer.has_ranges and layer.acc_max > layer.acc_min \
            else INT32
        self.cur_dtype = acc_dt
        self.annotations.append((self.cur, acc_dt, None))

    def maxpool(self, layer: MaxPool) -> None:
        self.cur = self.node("MaxPool", [self.cur], f"{layer.name}_out", f"{layer.name}/MaxPool",
                             kernel_shape=[layer.k, layer.k], strides=[layer.stride, layer.stride])
        self.annotations.append((self.cur, self.cur_dtype, None))

    def sign_of(self, prefix: str, cond: str) -> None:
        one = self.const(f"{prefix}_one", np.array(1.0, np.float32))
        neg = self.const(f"{prefix}_minus_one", np.array(-1.0, np.float32))
        self.cur = self.node("Where", [cond, one, neg], f"{prefix}_out", f"{prefix}/WhereSign")
        self.annotations.append((self.cur, BIPOLAR, None))
        self.cur_dtype = BIPOLAR

    def bn_sign(self, layer: BatchNormSign) -> None:
        p = layer.name
        a = self.const(f"{p}_scale", self.channel(layer.scale))
        b = self.const(f"{p}_bias", self.channel(layer.bias))
        zero = self.const(f"{p}_zero", np.array(0.0, np.float32))
        y = self.node("Mul", [self.cur, a], f"{p}_ya", f"{p}/Mul")
        y = self.node("Add", [y, b], f"{p}_y", f"{p}/Add")
        ge = self.node("GreaterOrEqual", [y, zero], f"{p}_ge", f"{p}/GreaterOrEqual")
        self.sign_of(p, ge)

    def threshold(self, layer: Threshold) -> None:
        p = layer.name
        t = layer.threshold.astype(np.int64)
        if np.abs(t).max(initial=0) >= 1 << 24:
            raise DnncError(f"layer '{p}': threshold beyond 2^24 cannot be written exactly as float32")
        tf = self.const(f"{p}_threshold", self.channel(t))
        one = self.const(f"{p}_one", np.array(1.0, np.float32))
        neg = self.const(f"{p}_minus_one", np.array(-1.0, np.float32))
        ge = self.node("GreaterOrEqual", [self.cur, tf], f"{p}_ge", f"{p}/GreaterOrEqual")
        le = self.node("LessOrEqual", [self.cur, tf], f"{p}_le", f"{p}/LessOrEqual")
        s_ge = self.node("Where", [ge, one, neg], f"{p}_sign_ge", f"{p}/SignGe")
        s_le = self.node("Where", [le, one, neg], f"{p}_sign_le", f"{p}/SignLe")
        pos = self.const(f"{p}_dir_pos", self.channel(layer.direction > 0, np.bool_))
        negd = self.const(f"{p}_dir_neg", self.channel(layer.direction < 0, np.bool_))
        cst = self.const(f"{p}_const", self.channel(np.where(layer.const > 0, 1.0, -1.0)))
        sel = self.node("Where", [negd, s_le, cst], f"{p}_sel_neg", f"{p}/SelectNeg")
        self.cur = self.node("Where", [pos, s_ge, sel], f"{p}_out", f"{p}/SelectPos")
        self.annotations.append((self.cur, BIPOLAR, None))
        self.cur_dtype = BIPOLAR

    def multi_threshold(self, layer: MultiThreshold) -> None:
        p = layer.name
        c, t = layer.thresholds.shape
        tshape = (1, c) + (1,) * (self.rank - 2) + (t,)
        tf = self.const(f"{p}_thresholds", layer.thresholds.astype(np.float32).reshape(tshape))  # |t| <= 2^24
        ax = self.const(f"{p}_axis", np.array([-1], np.int64))
        xe = self.node("Unsqueeze", [self.cur, ax], f"{p}_acc_e", f"{p}/Unsqueeze")
        ge = self.node("GreaterOrEqual", [xe, tf], f"{p}_ge", f"{p}/GreaterOrEqual")
        le = self.node("LessOrEqual", [xe, tf], f"{p}_le", f"{p}/LessOrEqual")
        pos = self.const(f"{p}_dir_pos", (layer.direction > 0).reshape(tshape[:-1] + (1,)))
        gef = self.node("Cast", [ge], f"{p}_gef", f"{p}/CastGe", to=TensorProto.FLOAT)
        lef = self.node("Cast", [le], f"{p}_lef", f"{p}/CastLe", to=TensorProto.FLOAT)
        hit = self.node("Where", [pos, gef, lef], f"{p}_hit", f"{p}/SelectDirection")
        count = self.node("ReduceSum", [hit, ax], f"{p}_count", f"{p}/ReduceSum", keepdims=0)
        bias = self.const(f"{p}_out_bias", np.array(layer.out_bias, np.float32))
        self.cur = self.node("Add", [count, bias], f"{p}_out", f"{p}/AddBias")
        self.annotations.append((self.cur, layer.out_dtype, None))
        self.cur_dtype = layer.out_dtype

    def output_affine(self, layer: OutputAffine) -> None:
        p = layer.name
        acc = self.cur
        self.node("Cast", [acc], "acc", f"{p}/CastAcc", to=TensorProto.INT32)
        s = self.const(f"{p}_scale", layer.scale.astype(np.float32))
        b = self.const(f"{p}_bias", layer.bias.astype(np.float32))
        y = self.node("Mul", [acc, s], f"{p}_scaled", f"{p}/Mul")
        last = len(layer.post)
        self.cur = self.node("Add", [y, b], "logits" if not last else f"{p}_biased", f"{p}/Add")
        for i, (op, v) in enumerate(layer.post):  # imported float32 steps (TensorNorm), one op each
            c = self.const(f"{p}_post{i}", np.asarray(v, np.float32))
            out = "logits" if i == last - 1 else f"{p}_post{i}_out"
            if op == "bipolar":  # +v where y / v >= 0, else -v
                q = self.node("Div", [self.cur, c], f"{p}_post{i}_q", f"{p}/Post{i}Div")
                zero = self.const(f"{p}_post{i}_zero", np.array(0.0, np.float32))
                ge = self.node("GreaterOrEqual", [q, zero], f"{p}_post{i}_ge", f"{p}/Post{i}Ge")
                negv = self.const(f"{p}_post{i}_neg", -np.asarray(v, np.float32))
                self.cur = self.node("Where", [ge, c, negv], out, f"{p}/Post{i}Sign")
                continue
            self.cur = self.node({"add": "Add", "mul": "Mul", "div": "Div"}[op], [self.cur, c], out, f"{p}/Post{i}")
        self.annotations.append(("acc", self.cur_dtype, None))

    def argmax(self, layer: ArgMax) -> None:
        self.node("ArgMax", [self.cur], "class", f"{layer.name}/ArgMax", axis=1, keepdims=0, select_last_index=0)


def ir_to_onnx(model: IRModel, doc: str = "") -> onnx.ModelProto:
    """The ONNX graph computing exactly what `dnnc.ir.interpreter.run(model, ...)` computes."""
    b = _Builder(model)
    if model.input_thresholds is not None:  # float input: code = how many thresholds x >= (standard ops)
        t = b.const("input_thresholds", np.asarray(model.input_thresholds, np.float32))
        ax = b.const("input_axis", np.array([-1], np.int64))
        xe = b.node("Unsqueeze", ["input", ax], "input_e", "input/Unsqueeze")
        ge = b.node("GreaterOrEqual", [xe, t], "input_ge", "input/GreaterOrEqual")
        gf = b.node("Cast", [ge], "input_gef", "input/Cast", to=TensorProto.FLOAT)
        b.cur = b.node("ReduceSum", [gf, ax], "input_codes", "input/ReduceSum", keepdims=0)
        b.is_uint8 = False
    for layer in model.layers:
        if isinstance(layer, InputAffine):
            b.affine_int(layer.name, layer.mul, layer.add)
            lo, hi = sorted((layer.add, layer.mul * 255 + layer.add))
            b.cur_dtype = int_dtype(lo, hi)
            b.annotations.append((b.cur, b.cur_dtype, None))
        elif isinstance(layer, Linear):
            b.linear(layer)
        elif isinstance(layer, MaxPool):
            b.maxpool(layer)
        elif isinstance(layer, BatchNormSign):
            b.bn_sign(layer)
        elif isinstance(layer, Threshold):
            b.threshold(layer)
        elif isinstance(layer, MultiThreshold):
            b.multi_threshold(layer)
        elif isinstance(layer, OutputAffine):
            b.output_affine(layer)
        elif isinstance(layer, ArgMax):
            b.argmax(layer)
        else:
            raise DnncError(f"layer '{layer.name}': cannot write {type(layer).__name__} to ONNX")
    k = model.num_classes
    graph = helper.make_graph(
        b.nodes,
        model.name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT if model.float_input else TensorProto.UINT8,
                                       ["N", *model.input_shape])],
        [
            helper.make_tensor_value_info("acc", TensorProto.INT32, ["N", k]),
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", k]),
            helper.make_tensor_value_info("class", TensorProto.INT64, ["N"]),
        ],
        initializer=b.inits,
        doc_string=doc,
    )
    if not model.float_input:
        annotate(graph, "input", UINT8)
    for tensor, dtype, extra in b.annotations:
        annotate(graph, tensor, dtype, extra)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="dnnc",
                              producer_version=__version__)
    proto.ir_version = IR_VERSION
    helper.set_model_props(proto, {"dnnc.format": "deployment-1", "dnnc.num_classes": str(k)})
    return onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
