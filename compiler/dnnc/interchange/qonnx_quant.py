"""QONNX quantizer semantics on constants and signs: integer codes times an exact scale.

The QONNX importer never lets float arithmetic decide a weight: a `Quant`/`IntQuant`/`BipolarQuant` on a
constant becomes a `QTensor` (integer codes + per-element scale), and only reshapes/transposes may act on
it before it reaches a MatMul/Gemm/Conv. Semantics follow qonnx 1.0.0 (shared/reference/
interop-semantics.md §3-4): clamp first, then round; bitwidth-1 signed is a sign function.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from dnnc.errors import DnncError
from dnnc.interchange.onnx_file import constant_value
from dnnc.vocabulary import BIPOLAR, TERNARY, dtype_values, weight_dtype

QONNX_DOMAINS = ("qonnx.custom_op.general", "onnx.brevitas", "finn", "finn.custom_op.general")
QUANT_OPS = ("Quant", "IntQuant", "BipolarQuant")
PASS_THROUGH = ("Identity", "Dropout")
MAX_CONST_DEPTH = 200  # constant expressions (weight -> quantizer -> transpose ...) are a few nodes deep
MAX_CONST_ELEMENTS = 2**28
MAX_QUANT_BITS = 64  # a file's bitwidth of 10^9 made computing the range itself hang
ROUNDING = {
    "ROUND": np.round,  # half to even, as numpy (and qonnx)
    "HALF_EVEN": np.round,
    "CEIL": np.ceil,
    "FLOOR": np.floor,
    "UP": lambda x: np.sign(x) * np.ceil(np.abs(x)),
    "DOWN": np.trunc,
    "HALF_UP": lambda x: np.sign(x) * np.floor(np.abs(x) + 0.5),
    "HALF_DOWN": lambda x: np.sign(x) * np.ceil(np.abs(x) - 0.5),
}


@dataclass
class QTensor:
    """A quantized constant: real value = codes * scale (both full-shape), from a weight quantizer."""

    codes: np.ndarray  # int64
    scale: np.ndarray  # float64, > 0, power of two
    values: tuple[int, ...]  # every code the quantizer can produce
    dtype: str  # finn name: BIPOLAR, TERNARY, INT2, INT3


def node_label(node: onnx.NodeProto) -> str:
    return f"node '{node.name or node.output[0]}' ({node.op_type})"


# qonnx's own attribute types of its custom ops (get_nodeattr_types): qonnx falls back to the default when a
# file stores another type (an INT out_bias of 32768 ran as 0 in qonnx and as 32768 in dnnc), so a
# mistyped attribute is refused rather than read differently from the reference.
CUSTOM_ATTR_TYPES = {
    "MultiThreshold": {"out_dtype": onnx.AttributeProto.STRING, "out_scale": onnx.AttributeProto.FLOAT,
                       "out_bias": onnx.AttributeProto.FLOAT, "data_layout": onnx.AttributeProto.STRING},
    "Quant": {"signed": onnx.AttributeProto.INT, "narrow": onnx.AttributeProto.INT,
              "rounding_mode": onnx.AttributeProto.STRING},
}
CUSTOM_ATTR_TYPES["IntQuant"] = CUSTOM_ATTR_TYPES["Quant"]


def attrs(node: onnx.NodeProto) -> dict:
    types = CUSTOM_ATTR_TYPES.get(node.op_type, {}) if node.domain in QONNX_DOMAINS else {}
    for a in node.attribute:
        if a.name in types and a.type != types[a.name]:
            raise DnncError(f"{node_label(node)}: attribute {a.name} is a "
                            f"{onnx.AttributeProto.AttributeType.Name(a.type)}, qonnx reads a "
                            f"{onnx.AttributeProto.AttributeType.Name(types[a.name])}")
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


POW2_RANGE = 60  # |log2| of a foldable scale: products of two stay normal float32 numbers (2^-126..2^127)


def is_pow2(x: float) -> bool:
    """A positive power of two within 2^-60..2^60: beyond it the file's float32 products of scaled values
    underflow or overflow, which integer arithmetic does not reproduce (a 2^-149 scale did, in fuzzing)."""
    if not math.isfinite(x) or x <= 0:
        return False
    m, e = math.frexp(x)
    return m == 0.5 and abs(e - 1) <= POW2_RANGE


def check_pow2(node: onnx.NodeProto, scale: np.ndarray, what: str) -> None:
    bad = [float(s) for s in np.unique(np.asarray(scale, np.float64)) if not is_pow2(float(s))]
    if bad:
        raise DnncError(f"{node_label(node)}: {what} {bad[0]:g} is not a positive power of two in "
                        f"2^-{POW2_RANGE}..2^{POW2_RANGE}; it cannot be folded exactly into integer arithmetic")


def _int_range(node: onnx.NodeProto, bits: int, signed: int, narrow: int) -> tuple[int, int]:
    if signed:
        lo = -(2 ** (bits - 1)) + (1 if narrow else 0)
        hi = 2 ** (bits - 1) - 1
    else:
        lo, hi = 0, 2**bits - 1 - (1 if narrow else 0)
    return lo, hi


def quant_params(node: onnx.NodeProto, consts: list[np.ndarray]) -> dict:
    """Validated (Int)Quant parameters: bits, signed, narrow, rounding, lo, hi, scale (float64)."""
    a = attrs(node)
    for key in ("signed", "narrow"):
        if key in a and a[key] not in (0, 1):
            raise DnncError(f"{node_label(node)}: attribute {key}={a[key]} is not 0 or 1")
    signed, narrow = int(a.get("signed", 1)), int(a.get("narrow", 1))
    mode = str(a.get("rounding_mode", "ROUND")).upper()
    if mode not in ROUNDING:
        raise DnncError(f"{node_label(node)}: unknown rounding_mode '{mode}'")
    scale, zeropt, bitwidth = (np.asarray(c, np.float64) for c in consts[1:4])
    bw = float(bitwidth.ravel()[0]) if bitwidth.size == 1 else math.nan
    if not (math.isfinite(bw) and bw == int(bw) and 1 <= bw <= MAX_QUANT_BITS):  # 2**(bits-1) comes next
        raise DnncError(f"{node_label(node)}: bitwidth must be one integer in 1..{MAX_QUANT_BITS}, got "
                        f"{bitwidth.ravel()[:4]}")
    if np.any(zeropt != 0):
        raise DnncError(f"{node_label(node)}: non-zero zero point is not supported")
    if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
        raise DnncError(f"{node_label(node)}: scale must be positive and finite")
    bits = int(bitwidth.ravel()[0])
    if not signed and narrow and bits == 1:
        raise DnncError(f"{node_label(node)}: unsigned narrow 1-bit range is empty (signed/narrow swapped?)")
    lo, hi = _int_range(node, bits, signed, narrow)
    return {"bits": bits, "signed": signed, "narrow": narrow, "rounding": mode, "lo": lo, "hi": hi, "scale": scale}


def quantize_const(node: onnx.NodeProto, consts: list[np.ndarray]) -> QTensor:
    """Apply a weight quantizer to a constant tensor, keeping integer codes and an exact scale."""
    x = np.asarray(consts[0], np.float64)
    if not np.all(np.isfinite(x)):  # round(clip(NaN)) is NaN in the file; astype(int64) would invent a code
        raise DnncError(f"{node_label(node)}: weight tensor holds NaN or infinite values")
    if node.op_type == "BipolarQuant":
        scale = np.broadcast_to(np.asarray(consts[1], np.float64), x.shape)
        check_pow2(node, scale, "weight scale")
        return QTensor(np.where(x / scale >= 0, 1, -1).astype(np.int64), scale.copy(), dtype_values(BIPOLAR), BIPOLAR)
    p = quant_params(node, consts)
    scale = np.broadcast_to(p["scale"], x.shape)
    check_pow2(node, scale, "weight scale")
    if p["bits"] == 1 and p["signed"]:
        return QTensor(np.where(x / scale >= 0, 1, -1).astype(np.int64), scale.copy(), dtype_values(BIPOLAR), BIPOLAR)
    if not p["signed"] and np.any(x < 0):
        raise DnncError(f"{node_label(node)}: signed=0 on weights with negative values "
                        "(signed/narrow swapped by the exporter?)")
    if p["bits"] > 3 or not p["signed"]:
        raise DnncError(f"{node_label(node)}: {p['bits']}-bit {'signed' if p['signed'] else 'unsigned'} "
                        "weights are not supported (binary, ternary, INT2 and INT3 are)")
    q = ROUNDING[p["rounding"]](np.clip(x / scale, p["lo"], p["hi"]))
    lo, hi = p["lo"], p["hi"]
    values = tuple(range(lo, hi + 1))
    return QTensor(q.astype(np.int64), scale.copy(), values, weight_dtype(values))


def integer_const(name: str, w: np.ndarray, dtype: str | None) -> QTensor:
    """An unquantized constant weight: accepted only if it holds small integers (e.g. a FINN/dnnc file)."""
    w = np.asarray(w, np.float64)
    if not np.all(w == np.round(w)) or (w.size and np.abs(w).max() > 4):
        raise DnncError(f"weight '{name}' is a float tensor without a quantizer (not small integers); "
                        "dnnc deploys binary/ternary/INT2/INT3 weights only")
    known = {name: dtype_values(name) for name in (BIPOLAR, TERNARY, "INT2", "INT3")}
    if dtype is None or dtype not in known:
        lo, hi = int(w.min(initial=0)), int(w.max(initial=0))
        if set(np.unique(w)) <= {-1.0, 1.0}:
            dtype = BIPOLAR
        elif lo >= -1 and hi <= 1:
            dtype = TERNARY
        else:
            dtype = "INT2" if lo >= -2 and hi <= 1 else "INT3"
    values = known[dtype]
    if not np.all(np.isin(w, values)):
        raise DnncError(f"weight '{name}' has values outside its datatype {dtype}")
    return QTensor(w.astype(np.int64), np.ones_like(w), values, dtype)


def reshape_like(node: onnx.NodeProto, q: QTensor, fn) -> QTensor:
    """Apply a pure data-movement op (Transpose, Reshape, ...) to a QTensor."""
    try:
        return QTensor(np.asarray(fn(q.codes)), np.asarray(fn(q.scale)), q.values, q.dtype)
    except ValueError as exc:
        raise DnncError(f"{node_label(node)}: {exc}") from None


def tensor_value(t: onnx.TensorProto) -> np.ndarray:
    return numpy_helper.to_array(t)


class ConstEvaluator:
    """Evaluates the constant side of a graph on demand (weights, scales, thresholds, shapes)."""

    def __init__(self, graph: onnx.GraphProto, dtypes: dict[str, str]):
        self.consts: dict[str, object] = {i.name: tensor_value(i) for i in graph.initializer}
        self.producer = {o: n for n in graph.node for o in n.output}
        self.dtypes = dtypes
        self._visiting: set[str] = set()  # the walk's visited set: a cycle is an error, not a recursion

    def const(self, name: str, node: onnx.NodeProto):
        if name in self.consts:
            return self.consts[name]
        src = self.producer.get(name)
        if src is None:
            raise DnncError(f"{node_label(node)}: input '{name}' is neither a constant nor the activation")
        if name in self._visiting or len(self._visiting) >= MAX_CONST_DEPTH:
            raise DnncError(f"{node_label(src)}: constant '{name}' depends on itself or nests more than "
                            f"{MAX_CONST_DEPTH} nodes deep")
        self._visiting.add(name)
        try:
            vals = [self.const(i, src) if i else None for i in src.input]
        finally:
            self._visiting.discard(name)
        self.consts[name] = self._eval_const(src, vals)
        return self.consts[name]

    def _eval_const(self, node: onnx.NodeProto, vals: list):
        op, a = node.op_type, attrs(node)
        if op == "Constant":
            return constant_value(node)
        if op in QUANT_OPS:
            if any(isinstance(v, QTensor) for v in vals):
                raise DnncError(f"{node_label(node)}: quantizer applied twice")
            return quantize_const(node, [np.asarray(v) for v in vals if v is not None])
        x = vals[0]
        if isinstance(x, QTensor):
            if op == "Transpose":
                return reshape_like(node, x, lambda t: np.transpose(t, a.get("perm")))
            if op == "Reshape":
                return reshape_like(node, x, lambda t: t.reshape([int(d) for d in vals[1]]))
            if op in PASS_THROUGH:
                return x
            raise DnncError(f"{node_label(node)}: {op} on quantized weights is not supported")
        if op == "Transpose":
            return np.transpose(x, a.get("perm"))
        if op == "Reshape":
            return np.reshape(x, [int(d) for d in vals[1]])
        if op in PASS_THROUGH or op == "Cast":
            return x
        if op in ("Mul", "Div", "Add", "Sub"):
            try:
                size = math.prod(np.broadcast_shapes(np.shape(x), np.shape(vals[1])))
            except ValueError as exc:
                raise DnncError(f"{node_label(node)}: {exc}") from None
            if size > MAX_CONST_ELEMENTS:  # checked before numpy allocates it
                raise DnncError(f"{node_label(node)}: result of {size} elements is too large")
            fn = {"Mul": np.multiply, "Div": np.divide, "Add": np.add, "Sub": np.subtract}[op]
            return fn(np.asarray(x, np.float32), np.asarray(vals[1], np.float32))
        if op in ("Unsqueeze", "Squeeze"):
            axes = a.get("axes", [int(v) for v in vals[1]] if len(vals) > 1 and vals[1] is not None else None)
            return np.expand_dims(x, axes) if op == "Unsqueeze" else np.squeeze(x, tuple(axes) if axes else None)
        if node.domain in ("", "ai.onnx") and all(v is None or isinstance(v, np.ndarray) for v in vals):
            return run_standard_node(node, vals)
        raise DnncError(f"{node_label(node)}: unsupported constant op {op}")

    def weight(self, name: str, node: onnx.NodeProto) -> QTensor:
        w = self.const(name, node)
        if isinstance(w, QTensor):
            return w
        return integer_const(name, np.asarray(w), self.dtypes.get(name))


def run_standard_node(node: onnx.NodeProto, vals: list) -> np.ndarray:
    """A standard op on constants (Shape arithmetic, Pow, Sqrt, ...) evaluated by onnxruntime itself, as the
    reference evaluates it, so a float constant (e.g. TensorNorm's Pow(var + eps, 0.5)) has the same bits."""
    import onnxruntime as ort
    from onnx import TensorProto

    names = [f"in{i}" if v is not None else "" for i, v in enumerate(vals)]
    n = helper.make_node(node.op_type, names, ["out"], **attrs(node))
    inputs = [helper.make_tensor_value_info(nm, helper.np_dtype_to_tensor_dtype(np.asarray(v).dtype),
                                            list(np.asarray(v).shape)) for nm, v in zip(names, vals) if nm]
    try:
        g = helper.make_graph([n], "const", inputs, [onnx.ValueInfoProto(name="out")])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
        m.ir_version = 8
        inferred = onnx.shape_inference.infer_shapes(m, strict_mode=True)
        out_vi = next((v for v in inferred.graph.value_info if v.name == "out"), None)
        if out_vi is not None:
            m.graph.output[0].CopyFrom(out_vi)
        else:
            m.graph.output[0].CopyFrom(helper.make_tensor_value_info("out", TensorProto.FLOAT, None))
        sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        return sess.run(None, {nm: np.asarray(v) for nm, v in zip(names, vals) if nm})[0]
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises several types
        raise DnncError(f"{node_label(node)}: cannot evaluate {node.op_type} on constants: "
                        f"{str(exc).splitlines()[0][:120]}") from None


def sign_params(node: onnx.NodeProto, const, channels: int) -> tuple[np.ndarray, float]:
    """(thresholds T per channel or scalar, output scale s) of a sign: +s iff v >= T, else -s.

    BipolarQuant and 1-bit signed Quant compare with 0; MultiThreshold with one threshold per channel.
    Anything else (multi-bit or 0/1 outputs, per-channel scales) is a DnncError naming the node.
    """
    op, a = node.op_type, attrs(node)
    if op == "MultiThreshold":
        t = np.asarray(const(node.input[1], node), np.float64)
        if not np.all(np.isfinite(t)):
            raise DnncError(f"{node_label(node)}: threshold is NaN or infinite")
        if t.ndim != 2 or t.shape[1] != 1 or t.shape[0] not in (1, channels):
            raise DnncError(f"{node_label(node)}: {t.shape[-1]} thresholds per channel (multi-bit "
                            "activation); only sign activations are supported")
        out_scale, out_bias = float(a.get("out_scale", 1.0)), float(a.get("out_bias", 0.0))
        if a.get("out_dtype") != BIPOLAR or out_bias != -out_scale / 2 or not is_pow2(out_scale / 2):
            raise DnncError(f"{node_label(node)}: only a bipolar output (out_scale=2s, out_bias=-s, s a "
                            f"power of two) is supported, got {a.get('out_dtype')} {out_scale} {out_bias}")
        if a.get("data_layout", "NCHW") not in ("NCHW", "NC"):
            raise DnncError(f"{node_label(node)}: data_layout {a.get('data_layout')} is not supported")
        tvec, s = t[:, 0], out_scale / 2
    elif op == "BipolarQuant":
        sc = np.asarray(const(node.input[1], node), np.float64)
        check_pow2(node, sc, "activation scale")
        if sc.size != 1:
            raise DnncError(f"{node_label(node)}: per-channel activation scale is not supported")
        tvec, s = np.zeros(1), float(sc.ravel()[0])
    else:
        p = quant_params(node, [None, *[const(i, node) for i in node.input[1:4]]])
        if p["bits"] == 1 and not p["signed"]:
            raise DnncError(f"{node_label(node)}: 1-bit unsigned (BINARY 0/1) activations are not "
                            "supported (dnnc deploys sign activations, +-1)")
        if p["bits"] != 1:
            raise DnncError(f"{node_label(node)}: {p['bits']}-bit activations are not supported "
                            "(dnnc deploys sign activations only; multi-bit activations are a later issue)")
        check_pow2(node, p["scale"], "activation scale")
        if np.asarray(p["scale"]).size != 1:
            raise DnncError(f"{node_label(node)}: per-channel activation scale is not supported")
        tvec, s = np.zeros(1), float(np.asarray(p["scale"]).ravel()[0])
    return tvec, s
