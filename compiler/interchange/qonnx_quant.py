"""QONNX quantizer semantics on constants: weight tensors as integer codes times an exact scale.

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
from dnnc.errors import DnncError
from onnx import helper, numpy_helper

QONNX_DOMAINS = ("qonnx.custom_op.general", "onnx.brevitas", "finn", "finn.custom_op.general")
QUANT_OPS = ("Quant", "IntQuant", "BipolarQuant")
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


def attrs(node: onnx.NodeProto) -> dict:
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def is_pow2(x: float) -> bool:
    if not math.isfinite(x) or x <= 0:
        return False
    m, _ = math.frexp(x)
    return m == 0.5


def check_pow2(node: onnx.NodeProto, scale: np.ndarray, what: str) -> None:
    bad = [float(s) for s in np.unique(np.asarray(scale, np.float64)) if not is_pow2(float(s))]
    if bad:
        raise DnncError(f"{node_label(node)}: {what} {bad[0]:g} is not a positive power of two; "
                        "it cannot be folded exactly into integer arithmetic")


def _int_range(node: onnx.NodeProto, bits: int, signed: int, narrow: int) -> tuple[int, int]:
    if signed:
        lo = -(2 ** (bits - 1)) + (1 if narrow else 0)
        hi = 2 ** (bits - 1) - 1
    else:
        lo, hi = 0, 2**bits - 1 - (1 if narrow else 0)
    return lo, hi


def _weight_dtype(lo: int, hi: int) -> str:
    if (lo, hi) == (-1, 1):
        return "TERNARY"
    bits = max(math.ceil(math.log2(max(-lo, hi + 1))) + 1, 2)
    return f"INT{bits}"


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
    if bitwidth.size != 1 or float(bitwidth.ravel()[0]) != int(bitwidth.ravel()[0]) or bitwidth.ravel()[0] < 1:
        raise DnncError(f"{node_label(node)}: bitwidth must be one positive integer, got {bitwidth.ravel()}")
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
    if node.op_type == "BipolarQuant":
        scale = np.broadcast_to(np.asarray(consts[1], np.float64), x.shape)
        check_pow2(node, scale, "weight scale")
        return QTensor(np.where(x / scale >= 0, 1, -1).astype(np.int64), scale.copy(), (-1, 1), "BIPOLAR")
    p = quant_params(node, consts)
    scale = np.broadcast_to(p["scale"], x.shape)
    check_pow2(node, scale, "weight scale")
    if p["bits"] == 1 and p["signed"]:
        return QTensor(np.where(x / scale >= 0, 1, -1).astype(np.int64), scale.copy(), (-1, 1), "BIPOLAR")
    if not p["signed"] and np.any(x < 0):
        raise DnncError(f"{node_label(node)}: signed=0 on weights with negative values "
                        "(signed/narrow swapped by the exporter?)")
    if p["bits"] > 3 or not p["signed"]:
        raise DnncError(f"{node_label(node)}: {p['bits']}-bit {'signed' if p['signed'] else 'unsigned'} "
                        "weights are not supported (binary, ternary, INT2 and INT3 are)")
    q = ROUNDING[p["rounding"]](np.clip(x / scale, p["lo"], p["hi"]))
    lo, hi = p["lo"], p["hi"]
    return QTensor(q.astype(np.int64), scale.copy(), tuple(range(lo, hi + 1)), _weight_dtype(lo, hi))


def integer_const(name: str, w: np.ndarray, dtype: str | None) -> QTensor:
    """An unquantized constant weight: accepted only if it holds small integers (e.g. a FINN/dnnc file)."""
    w = np.asarray(w, np.float64)
    if not np.all(w == np.round(w)) or (w.size and np.abs(w).max() > 4):
        raise DnncError(f"weight '{name}' is a float tensor without a quantizer (not small integers); "
                        "dnnc deploys binary/ternary/INT2/INT3 weights only")
    known = {"BIPOLAR": (-1, 1), "TERNARY": (-1, 0, 1), "INT2": tuple(range(-2, 2)), "INT3": tuple(range(-4, 4))}
    if dtype is None or dtype not in known:
        lo, hi = int(w.min(initial=0)), int(w.max(initial=0))
        if set(np.unique(w)) <= {-1.0, 1.0}:
            dtype = "BIPOLAR"
        elif lo >= -1 and hi <= 1:
            dtype = "TERNARY"
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
