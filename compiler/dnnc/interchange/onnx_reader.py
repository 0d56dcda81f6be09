"""Import a deployment ONNX into the pre-pass IR by matching its node patterns (docs/compiler.md).

Accepted chain (what `dnnc export` writes; names are free, structure is not):
  input uint8 (N, C, H, W) -> Cast(float) -> [Mul(int scalar)] [Add(int scalar)]        InputAffine
  [Flatten(axis=1)] MatMul(x, W (I, O)) | Conv(x, W, symmetric pads, equal strides)     Linear
  [MaxPool(k, stride, no pads, floor)]                                                  MaxPool
  Mul(per-channel A) -> Add(per-channel B) -> GreaterOrEqual(., 0) -> Where(., 1, -1)   BatchNormSign
  last Linear: Cast(int32) -> "acc"; Mul(S) -> Add(Bo) -> "logits" -> ArgMax -> "class"  OutputAffine, ArgMax
Anything else is a DnncError naming the node. Weights must be finite integers in their declared set:
the dnnc_weight_values annotation, else the values allowed by their finn_datatype.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from dnnc.errors import DnncError
from dnnc.interchange.annotations import ANNOTATION_KEY, WEIGHT_SET_KEY, read_annotations
from dnnc.interchange.onnx_file import constant_value, read_onnx
from dnnc.ir.model import ArgMax, BatchNormSign, InputAffine, IRModel, Layer, Linear, MaxPool, OutputAffine
from dnnc.vocabulary import BIPOLAR, UINT8, checked_out_size, dtype_values, weight_dtype


def load_onnx_file(path: str | os.PathLike) -> onnx.ModelProto:
    """The validated model (dnnc.interchange.onnx_file: opset, dims against data, confined external data)."""
    path = Path(path)
    if not path.is_file():
        raise DnncError(f"{path}: no such file")
    return read_onnx(path)


def _label(node: onnx.NodeProto) -> str:
    return f"node '{node.name or node.output[0]}' ({node.op_type})"


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


class _Reader:
    def __init__(self, proto: onnx.ModelProto):
        g = proto.graph
        self.g = g
        self.consts = {i.name: numpy_helper.to_array(i) for i in g.initializer}
        for n in g.node:
            if n.op_type == "Constant":
                self.consts[n.output[0]] = constant_value(n)
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for n in g.node:
            if n.op_type == "Constant":
                continue
            for t in n.input:
                self.consumers.setdefault(t, []).append(n)
        self.ann = read_annotations(g)
        self.outputs = {o.name for o in g.output}

    def next_node(self, tensor: str, skip_acc_cast: bool = False) -> onnx.NodeProto | None:
        nodes = self.consumers.get(tensor, [])
        if skip_acc_cast:
            nodes = [n for n in nodes if not (n.op_type == "Cast" and n.output[0] == "acc")]
        if len(nodes) > 1:
            raise DnncError(f"{_label(nodes[1])}: tensor '{tensor}' feeds {len(nodes)} nodes; dnnc expects a chain")
        return nodes[0] if nodes else None

    def const(self, node: onnx.NodeProto, idx: int) -> np.ndarray:
        if len(node.input) <= idx or node.input[idx] not in self.consts:
            raise DnncError(f"{_label(node)}: input {idx} must be a constant initializer")
        return self.consts[node.input[idx]]

    def scalar_int(self, node: onnx.NodeProto) -> int:
        v = np.asarray(self.const(node, 1), np.float64)
        if v.size != 1 or not np.isfinite(v).all() or v.flat[0] != np.round(v.flat[0]):
            raise DnncError(f"{_label(node)}: input normalization must be an integer scalar")
        return int(v.flat[0])

    def channel_const(self, node: onnx.NodeProto, shape: tuple[int, ...]) -> np.ndarray:
        """A per-channel constant of an (N, *shape) tensor, shaped as ONNX broadcasting reads it: right-
        aligned, at most as many dims, 1 everywhere but the channel axis (so onnxruntime agrees)."""
        v = np.asarray(self.const(node, 1))
        c = shape[0]
        if v.dtype != np.float32:
            raise DnncError(f"{_label(node)}: per-channel constant must be float32, got {v.dtype}")
        full = (1, *shape)
        vs = (1,) * (len(full) - v.ndim) + tuple(v.shape)
        if v.ndim > len(full) or vs[1] not in (1, c) or any(d != 1 for i, d in enumerate(vs) if i != 1):
            raise DnncError(f"{_label(node)}: per-channel constant of shape {v.shape} does not match {c} channels "
                            f"of a tensor of shape (N, {', '.join(map(str, shape))})")
        flat = v.reshape(-1)
        if flat.size == 1:
            flat = np.full(c, flat[0], np.float32)
        if not np.all(np.isfinite(flat)):
            raise DnncError(f"{_label(node)}: batch norm constant is NaN or infinite")
        return flat.astype(np.float32)

    def weight_set(self, node: onnx.NodeProto, name: str, w: np.ndarray) -> tuple[tuple[int, ...], str]:
        if not np.all(np.isfinite(w)) or not np.array_equal(w, np.round(w)):
            raise DnncError(f"{_label(node)}: weight '{name}' is not integer-valued")
        if w.size and np.abs(w).max() > 128:  # before int(): the IR holds int8 codes
            raise DnncError(f"{_label(node)}: weight value {w.flat[np.abs(w).argmax()]:g} in '{name}' does not "
                            "fit the int8 codes dnnc deploys")
        ann = self.ann.get(name, {})
        present = tuple(int(v) for v in np.unique(w))
        if WEIGHT_SET_KEY in ann:
            try:
                values = tuple(sorted(int(v) for v in ann[WEIGHT_SET_KEY].split(",")))
            except ValueError:
                raise DnncError(f"{_label(node)}: bad {WEIGHT_SET_KEY} annotation on '{name}'") from None
        elif ANNOTATION_KEY in ann:
            dtype_set = dtype_values(ann[ANNOTATION_KEY])
            if dtype_set is None:
                raise DnncError(f"{_label(node)}: weight '{name}' datatype {ann[ANNOTATION_KEY]} is not an integer type")
            allowed = set(dtype_set)
            values = tuple(sorted(set(present) & allowed)) if set(present) <= allowed else tuple(sorted(allowed))
        else:
            values = present
        bad = ~np.isin(w, values)
        if bad.any():
            raise DnncError(f"{_label(node)}: weight value {w[bad].flat[0]:g} in '{name}' is not in the declared "
                            f"set {values}")
        return values, ann.get(ANNOTATION_KEY) or weight_dtype(values)

    def input_shape(self) -> tuple[str, tuple[int, ...]]:
        inputs = [i for i in self.g.input if i.name not in self.consts]
        if len(inputs) != 1:
            raise DnncError(f"graph has {len(inputs)} data inputs; dnnc expects exactly one")
        inp = inputs[0]
        tt = inp.type.tensor_type
        if tt.elem_type != TensorProto.UINT8:
            raise DnncError(f"input '{inp.name}': must be uint8 (raw pixels), got "
                            f"{TensorProto.DataType.Name(tt.elem_type)}")
        dims = list(tt.shape.dim)
        if len(dims) != 4:
            raise DnncError(f"input '{inp.name}': expected rank 4 (N, C, H, W), got rank {len(dims)}")
        if dims[0].HasField("dim_value"):  # onnxruntime would refuse the reference's batches
            raise DnncError(f"input '{inp.name}': batch dimension fixed to {dims[0].dim_value}; it must be "
                            "symbolic (e.g. 'N')")
        shape = []
        for d in dims[1:]:
            if not d.HasField("dim_value") or d.dim_value <= 0:
                raise DnncError(f"input '{inp.name}': dynamic shape {d.dim_param or '?'} (only the batch dim may be symbolic)")
            shape.append(int(d.dim_value))
        return inp.name, tuple(shape)


def _conv_linear(r: _Reader, node: onnx.NodeProto, name: str, shape: tuple[int, ...]) -> Linear:
    w = np.asarray(r.const(node, 1))
    if len(node.input) > 2 and node.input[2]:
        raise DnncError(f"{_label(node)}: conv bias is not supported (biases live in the batch norm)")
    if len(shape) != 3 or w.ndim != 4 or w.shape[1] != shape[0]:
        raise DnncError(f"{_label(node)}: weight {w.shape} does not fit input {shape}")
    at = _attrs(node)
    kh, kw = w.shape[2:]
    strides = list(at.get("strides", [1, 1]))
    pads = list(at.get("pads", [0, 0, 0, 0]))
    if at.get("group", 1) != 1 or list(at.get("dilations", [1, 1])) != [1, 1]:
        raise DnncError(f"{_label(node)}: grouped or dilated conv is not supported")
    if at.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise DnncError(f"{_label(node)}: auto_pad is not supported (write explicit pads)")
    if len(set(strides)) != 1 or len(set(pads)) != 1:
        raise DnncError(f"{_label(node)}: only equal strides and symmetric padding are supported")
    s, p = int(strides[0]), int(pads[0])
    oh, ow = (checked_out_size(_label(node), n, k, s, p) for n, k in ((shape[1], kh), (shape[2], kw)))
    values, dt = r.weight_set(node, node.input[1], w)
    return Linear(name, shape, (int(w.shape[0]), oh, ow), kind="conv", weight=w.astype(np.float32),
                  weight_values=values, weight_dtype=dt, stride=s, pad=p)


def _maxpool(node: onnx.NodeProto, shape: tuple[int, ...]) -> MaxPool:
    at = _attrs(node)
    k, s = list(at.get("kernel_shape", [])), list(at.get("strides", [1, 1]))
    if (len(k) != 2 or k[0] != k[1] or len(set(s)) != 1 or any(at.get("pads", [0])) or at.get("ceil_mode", 0)
            or any(d != 1 for d in at.get("dilations", [1])) or at.get("storage_order", 0) or len(shape) != 3):
        raise DnncError(f"{_label(node)}: only square, unpadded, floor-mode max-pool on NCHW is supported")
    c, h, w = shape
    out = (c, checked_out_size(_label(node), h, k[0], s[0]), checked_out_size(_label(node), w, k[0], s[0]))
    return MaxPool(node.name or node.output[0], shape, out, k=int(k[0]), stride=int(s[0]))


def _expect(node: onnx.NodeProto | None, op: str, after: str) -> onnx.NodeProto:
    if node is None:
        raise DnncError(f"graph ends after '{after}', expected {op}")
    if node.op_type != op:
        raise DnncError(f"{_label(node)}: unsupported here (expected {op} after '{after}')")
    return node


def _layer_name(node: onnx.NodeProto, fallback: str) -> str:
    base = (node.name or fallback).split("/")[0]
    safe = "".join(ch if ch.isalnum() else "_" for ch in base) or fallback
    return safe if not safe[0].isdigit() else f"l_{safe}"


def onnx_to_ir(proto: onnx.ModelProto, name: str = "model") -> IRModel:
    """The pre-pass IR of a deployment ONNX; DnncError naming the node for anything unsupported."""
    r = _Reader(proto)
    cur, in_shape = r.input_shape()
    shape: tuple[int, ...] = in_shape
    layers: list[Layer] = []
    is_float = False
    last_linear: Linear | None = None
    n_lin = 0
    visited: set[int] = set()  # a node reached twice means a cycle: stop instead of looping forever
    while True:
        node = r.next_node(cur, skip_acc_cast=last_linear is not None)
        if node is None:
            raise DnncError(f"tensor '{cur}' is not consumed: the graph does not reach 'logits'/'class'")
        if id(node) in visited:
            raise DnncError(f"{_label(node)}: reached twice; the graph has a cycle")
        visited.add(id(node))
        op, out = node.op_type, node.output[0]
        if op == "Cast" and not is_float:
            if _attrs(node).get("to") != TensorProto.FLOAT:
                raise DnncError(f"{_label(node)}: the input must be cast to float")
            is_float = True
        elif op in ("Mul", "Add") and last_linear is None:
            v = r.scalar_int(node)
            mul, add = (v, 0) if op == "Mul" else (1, v)
            if layers and isinstance(layers[-1], InputAffine):
                prev = layers[-1]
                prev.mul, prev.add = prev.mul * mul, prev.add * mul + add
            else:
                layers.append(InputAffine("input_norm", shape, shape, mul=mul, add=add))
        elif op == "Flatten":
            if _attrs(node).get("axis", 1) != 1:
                raise DnncError(f"{_label(node)}: only Flatten(axis=1) is supported")
            shape = (int(np.prod(shape)),)
        elif op == "MatMul":
            w = np.asarray(r.const(node, 1))
            if len(shape) != 1:
                raise DnncError(f"{_label(node)}: MatMul on a rank-{len(shape) + 1} tensor needs a Flatten first")
            if w.ndim != 2 or w.shape[0] != shape[0]:
                raise DnncError(f"{_label(node)}: weight {w.shape} does not fit input {shape}")
            values, dt = r.weight_set(node, node.input[1], w)
            last_linear = Linear(_layer_name(node, f"dense{n_lin}"), shape, (int(w.shape[1]),), kind="dense",
                                 weight=np.ascontiguousarray(w.T).astype(np.float32), weight_values=values,
                                 weight_dtype=dt)
        elif op == "Conv":
            last_linear = _conv_linear(r, node, _layer_name(node, f"conv{n_lin}"), shape)
        elif op == "MaxPool":
            if not layers or not isinstance(layers[-1], Linear):
                raise DnncError(f"{_label(node)}: max-pool must directly follow a dense/conv layer")
            layers.append(_maxpool(node, shape))
            layers[-1].name = _layer_name(node, f"pool{n_lin}")
            shape = layers[-1].out_shape
        elif op == "Mul" and last_linear is not None:
            cur = _after_linear(r, node, layers, shape, n_lin)
            if cur is None:
                break
            shape, out = layers[-1].out_shape, cur
        else:
            raise DnncError(f"{_label(node)}: unsupported operator")
        if op in ("MatMul", "Conv"):
            if not is_float:
                raise DnncError(f"{_label(node)}: the uint8 input must be cast to float first")
            if n_lin > 0 and not isinstance(layers[-1], BatchNormSign):
                raise DnncError(f"{_label(node)}: a dense/conv layer must follow a sign activation")
            last_linear.in_dtype = UINT8 if n_lin == 0 else BIPOLAR
            layers.append(last_linear)
            shape = last_linear.out_shape
            n_lin += 1
        cur = out
    seen: set[str] = set()
    for layer in layers:  # unique, C-identifier-safe names
        base, i = layer.name, 1
        while layer.name in seen:
            layer.name, i = f"{base}_{i}", i + 1
        seen.add(layer.name)
    k = layers[-2].out_shape[0]
    return IRModel(name, in_shape, layers, k)


def _after_linear(r: _Reader, mul: onnx.NodeProto, layers: list[Layer], shape, n_lin: int) -> str | None:
    """Match BN + sign (returns the sign tensor) or the output affine + argmax (returns None)."""
    a = r.channel_const(mul, tuple(shape))
    add = _expect(r.next_node(mul.output[0]), "Add", mul.name)
    b = r.channel_const(add, tuple(shape))
    nxt = r.next_node(add.output[0])
    if add.output[0] == "logits":
        acc_casts = [n for n in r.consumers.get(mul.input[0], []) if n.op_type == "Cast" and n.output[0] == "acc"]
        if not acc_casts or _attrs(acc_casts[0]).get("to") != TensorProto.INT32 or len(shape) != 1:
            raise DnncError(f"{_label(mul)}: the output layer must also emit its accumulators as int32 'acc'")
        am = _expect(nxt, "ArgMax", add.name)
        at = _attrs(am)
        if at.get("axis", 0) != 1 or at.get("keepdims", 1) != 0 or at.get("select_last_index", 0) != 0 \
                or am.output[0] != "class":
            raise DnncError(f"{_label(am)}: expected ArgMax(axis=1, keepdims=0, select_last_index=0) -> 'class'")
        layers.append(OutputAffine(_layer_name(mul, "out_affine"), shape, shape, scale=a, bias=b))
        layers.append(ArgMax("argmax", shape, ()))
        missing = {"acc", "logits", "class"} - r.outputs
        if missing:
            raise DnncError(f"graph outputs lack {sorted(missing)}")
        return None
    ge = _expect(nxt, "GreaterOrEqual", add.name)
    zero = np.asarray(r.const(ge, 1))
    if zero.size != 1 or float(zero.flat[0]) != 0.0 or ge.input[0] != add.output[0]:
        raise DnncError(f"{_label(ge)}: sign must compare y >= 0")
    wh = _expect(r.next_node(ge.output[0]), "Where", ge.name)
    one, neg = np.asarray(r.const(wh, 1)), np.asarray(r.const(wh, 2))
    if one.size != 1 or neg.size != 1 or float(one.flat[0]) != 1.0 or float(neg.flat[0]) != -1.0:
        raise DnncError(f"{_label(wh)}: sign must be Where(y >= 0, 1, -1)")
    layers.append(BatchNormSign(_layer_name(mul, f"sign{n_lin - 1}"), shape, shape, scale=a, bias=b))
    return wh.output[0]
