"""`IRModel.verify()`: every invariant of docs/ir-spec.md, checked, with the offending layer named.

Why: passes and backends rely on these facts without re-checking them (a conv's output size, a weight's
set, a sorted layer order, proven ranges); checking them after import and after every pass turns a
broken pass into an error at the pass that broke the IR, not a wrong answer in generated code.

A failure is an InvalidIR (an InternalError): user input that cannot be compiled is rejected earlier, by
the importers and the passes, with a DnncError naming the node or layer. Value checks that depend on the
user's numbers and have a user-facing message (NaN/inf batch norm, a possible 2^24 overflow) stay with the
pass that owns them.
"""

from __future__ import annotations

import re

import numpy as np

from dnnc.errors import InvalidIR
from dnnc.ir.model import (
    THRESHOLD_LIMIT,
    ArgMax,
    BatchNormSign,
    InputAffine,
    IRModel,
    Layer,
    Linear,
    MaxPool,
    MultiThreshold,
    OutputAffine,
    Threshold,
)
from dnnc.ir.ranges import accumulator_bounds
from dnnc.vocabulary import BIPOLAR, UINT8, conv_out_size, int_dtype

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_I32 = (-(2**31), 2**31 - 1)

# Which layer types may follow which (None: the start of the list). One hidden block is
# Linear [MaxPool] (BatchNormSign | Threshold | MultiThreshold); the output block is Linear OutputAffine ArgMax.
_FOLLOWS: dict[type | None, tuple[type, ...]] = {
    None: (InputAffine, Linear),
    InputAffine: (Linear,),
    Linear: (MaxPool, BatchNormSign, Threshold, MultiThreshold, OutputAffine),
    MaxPool: (BatchNormSign, Threshold, MultiThreshold),
    BatchNormSign: (Linear,),
    Threshold: (Linear,),
    MultiThreshold: (Linear,),
    OutputAffine: (ArgMax,),
    ArgMax: (),
}


def _fail(layer: Layer | None, what: str) -> InvalidIR:
    return InvalidIR(f"layer '{layer.name}': {what}" if layer is not None else f"model: {what}")


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _array(layer: Layer, field: str, value, dtype, shape: tuple[int, ...]) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.dtype != dtype or value.shape != shape:
        got = f"{value.dtype} {value.shape}" if isinstance(value, np.ndarray) else type(value).__name__
        raise _fail(layer, f"{field} must be {np.dtype(dtype).name} of shape {shape}, got {got}")
    return value


def verify_model(model: IRModel, lowered: bool = False) -> None:
    """Raise InvalidIR naming the first layer that breaks the IR contract (docs/ir-spec.md, "Invariants")."""
    _check_model(model)
    seen: set[str] = set()
    prev: Layer | None = None
    shape = tuple(model.input_shape)
    in_dtype = UINT8  # what the next Linear reads: the raw input, then each activation's datatype
    for layer in model.layers:
        if not _IDENT.fullmatch(str(layer.name)) or layer.name in seen:
            raise _fail(layer, "name must be a unique C identifier")
        seen.add(layer.name)
        allowed = _FOLLOWS.get(type(prev) if prev is not None else None, ())
        if type(layer) not in allowed:
            after = f"after {type(prev).__name__} '{prev.name}'" if prev is not None else "first"
            raise _fail(layer, f"{type(layer).__name__} cannot come {after}")
        _check_chain(layer, shape)
        if isinstance(layer, Linear):
            _check_linear(layer, in_dtype, lowered)
        elif isinstance(layer, InputAffine):
            _check_input_affine(layer)
        elif isinstance(layer, MaxPool):
            _check_maxpool(layer)
        elif isinstance(layer, BatchNormSign):
            c = layer.in_shape[0]
            _array(layer, "scale", layer.scale, np.float32, (c,))
            _array(layer, "bias", layer.bias, np.float32, (c,))
        elif isinstance(layer, Threshold):
            _check_threshold(layer)
        elif isinstance(layer, MultiThreshold):
            _check_multi_threshold(layer)
        elif isinstance(layer, OutputAffine):
            _check_output_affine(layer, model.num_classes)
        elif isinstance(layer, ArgMax) and layer.out_shape != ():
            raise _fail(layer, f"out_shape must be (), got {layer.out_shape}")
        if isinstance(layer, (BatchNormSign, Threshold)):
            in_dtype = BIPOLAR
        elif isinstance(layer, MultiThreshold):
            in_dtype = layer.out_dtype
        prev, shape = layer, tuple(layer.out_shape)
    if not isinstance(prev, ArgMax):
        raise _fail(prev, "the model must end with OutputAffine, ArgMax")
    if lowered and not model.is_lowered():
        bad = next(x for x in model.layers if isinstance(x, (InputAffine, BatchNormSign)))
        raise _fail(bad, f"{type(bad).__name__} left in the backend-facing IR (a pass must fold it)")
    _check_ranges(model, required=lowered)


def _check_model(model: IRModel) -> None:
    if not _IDENT.fullmatch(str(model.name)):
        raise _fail(None, f"name {model.name!r} is not a C identifier")
    s = tuple(model.input_shape)
    if len(s) != 3 or not all(_is_int(d) and d > 0 for d in s):
        raise _fail(None, f"input_shape must be three positive integers (C, H, W), got {s}")
    if not model.layers:
        raise _fail(None, "no layers")
    if not (_is_int(model.num_classes) and model.num_classes > 0):
        raise _fail(None, f"num_classes must be a positive integer, got {model.num_classes!r}")
    t = model.input_thresholds
    if t is not None:
        if not isinstance(t, np.ndarray) or t.dtype != np.float32 or t.ndim != 1 or not 1 <= t.size <= 255:
            raise _fail(None, "input_thresholds must be float32 with 1..255 entries")
        if np.isnan(t).any() or np.any(np.diff(t.astype(np.float64)) < 0):
            raise _fail(None, "input_thresholds must be ascending and not NaN")
    bc = model.byte_codes
    if bc is not None:
        if t is None or not isinstance(bc, np.ndarray) or bc.dtype != np.uint8 or bc.shape != (256,):
            raise _fail(None, "byte_codes must be uint8[256] and needs input_thresholds")
        if int(bc.max()) > t.size or not model.input_map:
            raise _fail(None, f"byte_codes exceed the {t.size} input thresholds or input_map is missing")


def _check_chain(layer: Layer, shape: tuple[int, ...]) -> None:
    """in_shape is the previous out_shape; a dense layer may see it flattened (ONNX Flatten of NCHW)."""
    in_shape = tuple(layer.in_shape)
    flat = (int(np.prod(shape)),)
    if in_shape != shape and not (isinstance(layer, Linear) and layer.kind == "dense" and in_shape == flat):
        raise _fail(layer, f"in_shape {in_shape} does not match the previous layer's out_shape {shape}")
    if not all(_is_int(d) and d > 0 for d in (*in_shape, *layer.out_shape)):
        raise _fail(layer, f"shapes must be positive integers, got {in_shape} -> {tuple(layer.out_shape)}")
    if isinstance(layer, (InputAffine, BatchNormSign, Threshold, MultiThreshold, OutputAffine)) and \
            tuple(layer.out_shape) != in_shape:
        raise _fail(layer, f"out_shape {tuple(layer.out_shape)} must equal in_shape {in_shape}")


def _check_input_affine(layer: InputAffine) -> None:
    if not (_is_int(layer.mul) and _is_int(layer.add)):
        raise _fail(layer, f"mul and add must be integers, got {layer.mul!r}, {layer.add!r}")


def _check_linear(layer: Linear, in_dtype: str, lowered: bool) -> None:
    first = in_dtype == UINT8
    w = layer.weight
    if not isinstance(w, np.ndarray) or w.size == 0:
        raise _fail(layer, "weight must be a non-empty array")
    if lowered and w.dtype != np.int8:
        raise _fail(layer, f"weight must be int8 codes in the backend-facing IR, got {w.dtype}")
    if not (np.issubdtype(w.dtype, np.integer) or (np.all(np.isfinite(w)) and np.array_equal(w, np.round(w)))):
        raise _fail(layer, "weights must be integer codes")
    values = tuple(layer.weight_values)
    if not values or not all(_is_int(v) for v in values) or list(values) != sorted(set(values)):
        raise _fail(layer, f"weight_values must be a non-empty, strictly increasing tuple of integers, got {values}")
    outside = ~np.isin(w, np.array(values, np.int64))
    if outside.any():
        raise _fail(layer, f"weight value {w[outside].flat[0]:g} is not in weight_values {values}")
    if not (isinstance(layer.weight_dtype, str) and layer.weight_dtype):
        raise _fail(layer, "weight_dtype must name the weights' datatype")
    if layer.in_dtype != in_dtype:
        raise _fail(layer, f"in_dtype must be {in_dtype}{' (the raw input)' if first else ''} (what the "
                           f"previous activation produces), got {layer.in_dtype!r}")
    if not (_is_int(layer.in_mul) and _is_int(layer.in_add)):
        raise _fail(layer, f"in_mul and in_add must be integers, got {layer.in_mul!r}, {layer.in_add!r}")
    if not first and (layer.in_mul, layer.in_add) != (1, 0):
        raise _fail(layer, f"only the first layer may scale or offset its input, got in_mul {layer.in_mul}, "
                           f"in_add {layer.in_add}")
    if not (_is_int(layer.stride) and _is_int(layer.pad) and layer.stride >= 1 and layer.pad >= 0):
        raise _fail(layer, f"stride must be >= 1 and pad >= 0, got {layer.stride}, {layer.pad}")
    if layer.kind == "dense":
        o, n = (w.shape if w.ndim == 2 else (None, None))
        if w.ndim != 2 or n != int(np.prod(layer.in_shape)) or tuple(layer.out_shape) != (o,):
            raise _fail(layer, f"dense weight {w.shape} does not map {tuple(layer.in_shape)} to "
                               f"{tuple(layer.out_shape)}")
        if (layer.stride, layer.pad) != (1, 0):
            raise _fail(layer, f"a dense layer has stride 1 and pad 0, got {layer.stride}, {layer.pad}")
    elif layer.kind == "conv":
        if w.ndim != 4 or len(layer.in_shape) != 3 or w.shape[1] != layer.in_shape[0]:
            raise _fail(layer, f"conv weight {w.shape} does not fit input {tuple(layer.in_shape)}")
        _, h, wd = layer.in_shape
        want = (w.shape[0], conv_out_size(h, w.shape[2], layer.stride, layer.pad),
                conv_out_size(wd, w.shape[3], layer.stride, layer.pad))
        if tuple(layer.out_shape) != want:
            raise _fail(layer, f"conv out_shape {tuple(layer.out_shape)} should be {want} (kernel "
                               f"{w.shape[2]}x{w.shape[3]}, stride {layer.stride}, pad {layer.pad})")
    else:
        raise _fail(layer, f"kind must be 'dense' or 'conv', got {layer.kind!r}")


def _check_maxpool(layer: MaxPool) -> None:
    if len(layer.in_shape) != 3 or not (_is_int(layer.k) and _is_int(layer.stride)) or layer.k < 1 \
            or layer.stride < 1:
        raise _fail(layer, f"max-pool needs a (C, H, W) input, k >= 1 and stride >= 1, got "
                           f"{tuple(layer.in_shape)}, k {layer.k}, stride {layer.stride}")
    c, h, w = layer.in_shape
    want = (c, conv_out_size(h, layer.k, layer.stride), conv_out_size(w, layer.k, layer.stride))
    if tuple(layer.out_shape) != want:
        raise _fail(layer, f"max-pool out_shape {tuple(layer.out_shape)} should be {want}")


def _check_threshold(layer: Threshold) -> None:
    c = (layer.in_shape[0],)
    d = _array(layer, "direction", layer.direction, np.int8, c)
    t = _array(layer, "threshold", layer.threshold, np.int64, c)
    k = _array(layer, "const", layer.const, np.int8, c)
    bad = np.flatnonzero(~np.isin(d, (-1, 0, 1)))
    if bad.size:
        raise _fail(layer, f"direction of channel {bad[0]} is {d[bad[0]]}, not -1, 0 or +1")
    bad = np.flatnonzero(~np.isin(k, (-1, 1)))
    if bad.size:
        raise _fail(layer, f"const of channel {bad[0]} is {k[bad[0]]}, not -1 or +1")
    bad = np.flatnonzero((d == 0) & (t != 0))
    if bad.size:
        raise _fail(layer, f"constant channel {bad[0]} has threshold {t[bad[0]]}, not 0")


def _check_multi_threshold(layer: MultiThreshold) -> None:
    c = layer.in_shape[0]
    d = _array(layer, "direction", layer.direction, np.int8, (c,))
    t = layer.thresholds
    if not isinstance(t, np.ndarray) or t.dtype != np.int64 or t.ndim != 2 or t.shape[0] != c \
            or not 1 <= t.shape[1] <= 15:
        got = f"{t.dtype} {t.shape}" if isinstance(t, np.ndarray) else type(t).__name__
        raise _fail(layer, f"thresholds must be int64 of shape ({c}, T) with 1 <= T <= 15 (1 to 4 bits), got {got}")
    bad = np.flatnonzero(~np.isin(d, (-1, 1)))
    if bad.size:
        raise _fail(layer, f"direction of channel {bad[0]} is {d[bad[0]]}, not -1 or +1")
    if np.abs(t).max() > THRESHOLD_LIMIT:
        raise _fail(layer, "a threshold lies beyond +-2^24 (saturated channels use exactly +-2^24)")
    step = np.diff(t, axis=1) * d[:, None].astype(np.int64)
    bad = np.flatnonzero((step < 0).any(axis=1))
    if bad.size:
        raise _fail(layer, f"thresholds of channel {bad[0]} are not sorted along the direction "
                           f"{int(d[bad[0]]):+d}: {t[bad[0]].tolist()}")
    if not _is_int(layer.out_bias):
        raise _fail(layer, f"out_bias must be an integer, got {layer.out_bias!r}")
    want = int_dtype(*layer.out_range)
    if layer.out_dtype != want:
        raise _fail(layer, f"out_dtype must be {want} for levels {layer.out_range}, got {layer.out_dtype!r}")


def _check_output_affine(layer: OutputAffine, num_classes: int) -> None:
    k = (num_classes,)
    if tuple(layer.in_shape) != k:
        raise _fail(layer, f"in_shape {tuple(layer.in_shape)} must be (num_classes,) = {k}")
    _array(layer, "scale", layer.scale, np.float32, k)
    _array(layer, "bias", layer.bias, np.float32, k)
    for i, step in enumerate(layer.post):
        if len(step) != 2 or step[0] not in ("add", "mul", "div", "bipolar") or \
                (step[0] == "bipolar" and i != len(layer.post) - 1):
            raise _fail(layer, f"post step {i} must be ('add' | 'mul' | 'div', float32[K]) or a last "
                               f"('bipolar', float32[K]), got {step!r:.60}")
        _array(layer, f"post step {i}", step[1], np.float32, k)


def missing_ranges(model: IRModel) -> list[str]:
    """Names of the Linear layers without proven accumulator ranges."""
    return [layer.name for layer in model.linears() if not layer.has_ranges]


def _check_ranges(model: IRModel, required: bool) -> None:
    """Recorded ranges are int64 per channel, fit int32, and contain the bounds re-derived from the IR."""
    for layer, b in accumulator_bounds(model):
        if layer.acc_min_ch is None and layer.acc_max_ch is None:
            if required:
                raise _fail(layer, "accumulator ranges missing where a consumer needs them (run range-analysis)")
            continue
        c = (layer.weight.shape[0],)
        lo = _array(layer, "acc_min_ch", layer.acc_min_ch, np.int64, c)
        hi = _array(layer, "acc_max_ch", layer.acc_max_ch, np.int64, c)
        if (lo > hi).any() or lo.min() < _I32[0] or hi.max() > _I32[1]:
            raise _fail(layer, f"accumulator range [{lo.min()}, {hi.max()}] is empty or does not fit int32")
        stale = np.flatnonzero((lo > b.lo) | (hi < b.hi))
        if stale.size:
            ch = stale[0]
            raise _fail(layer, f"recorded accumulator range [{lo[ch]}, {hi[ch]}] of channel {ch} does not contain "
                               f"[{b.lo[ch]}, {b.hi[ch]}] derived from the current IR: stale ranges (the pass that "
                               "changed the layer must declare invalidates=RANGES)")
