"""Bit-level encodings of the C backend (runtime/dnnc_runtime.h): packed words, weight planes, threshold
encoding, padded-tap corrections. Pure numpy, no C text."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dnnc.errors import DnncError
from dnnc.ir.model import Linear, MultiThreshold, Threshold
from dnnc.vocabulary import weight_set_of

# weight set (dnnc.vocabulary) -> (runtime kind macro, bit planes); see runtime/dnnc_bitact.h
RUNTIME_KINDS = {
    "binary": ("DNNC_W_BINARY", 1),
    "ternary": ("DNNC_W_TERNARY", 2),
    "quaternary": ("DNNC_W_QUATER", 2),
    "quinary": ("DNNC_W_QUINARY", 3),
}
I32_MIN, I32_MAX = -(2**31), 2**31 - 1


@dataclass
class ConvEncoding:
    """A conv layer as a layout module encodes it (helium.py, pixel_lanes.py), for plan.py to name and size."""

    arrays: dict  # descriptor field -> (C type, data)
    fields: dict  # other descriptor fields
    weight_bytes: int
    scratch_words: int  # the layer's `col`, as the runtime lays it out
    threshold_bytes: int = 0


def runtime_kind(values) -> tuple[str, int] | None:
    """(kind macro, planes) of the runtime's packed kernels for a weight-code set, None if they have none."""
    return RUNTIME_KINDS.get(weight_set_of(values) or "")


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """bool (..., nwords*32) -> uint32 (..., nwords), element i at bit i % 32 of word i // 32."""
    b = bits.reshape(*bits.shape[:-1], -1, 32).astype(np.uint64)
    return (b << np.arange(32, dtype=np.uint64)).sum(axis=-1).astype(np.uint32)


def weight_planes(wfull: np.ndarray, values: tuple[int, ...]) -> np.ndarray:
    """Weights scattered to packed positions (O, nwords*32) -> interleaved planes (O, nwords*planes)."""
    kind = runtime_kind(values)[0]
    mag = np.abs(wfull.astype(np.int16))
    planes = [wfull > 0]
    if kind == "DNNC_W_TERNARY":
        planes.append(mag == 1)
    elif kind == "DNNC_W_QUATER":
        planes.append(mag == 3)
    elif kind == "DNNC_W_QUINARY":
        planes += [mag == 1, mag == 2]
    words = np.stack([pack_bits(p) for p in planes], axis=-1)  # (O, nwords, planes)
    return words.reshape(words.shape[0], -1)


def thresholds(thr: Threshold) -> tuple[np.ndarray, np.ndarray]:
    """(int32 thr, flip bools) so that out = (acc >= thr) XOR flip (runtime dnnc_threshold_pack)."""
    out_t = np.full(thr.direction.shape, I32_MIN, np.int64)
    flip = np.zeros(thr.direction.shape, bool)
    for c, (d, t) in enumerate(zip(thr.direction.tolist(), thr.threshold.tolist())):
        if d == 0:  # constant channel
            flip[c] = int(thr.const[c]) < 0
            continue
        t = int(t) if d > 0 else int(t) + 1  # acc <= t  <=>  not (acc >= t + 1)
        if t <= I32_MIN:  # acc >= t always holds
            flip[c] = d < 0
        elif t > I32_MAX:  # acc >= t never holds
            flip[c] = d > 0
        else:
            out_t[c], flip[c] = t, d < 0
    return out_t.astype(np.int32), flip


def multi_thresholds(mt: MultiThreshold) -> tuple[np.ndarray, np.ndarray]:
    """(int32 thr (C, T), flip bools) so that code = #(acc >= thr[c]) or T minus it where flip (runtime
    dnnc_multi_threshold_pack): a direction -1 channel counts acc <= t, i.e. not acc >= t + 1."""
    neg = mt.direction < 0
    t = mt.thresholds.astype(np.int64) + neg[:, None]
    return t.astype(np.int32), neg


def border_patterns(n_out: int, stride: int, pad: int, k: int, n_in: int) -> tuple[list[int], list[tuple]]:
    """Per conv output index along one axis: the id of its valid-tap pattern, and the patterns."""
    ids: list[int] = []
    masks: list[tuple] = []
    for i in range(n_out):
        valid = tuple(0 <= i * stride - pad + t < n_in for t in range(k))
        if valid not in masks:
            masks.append(valid)
        ids.append(masks.index(valid))
    if len(masks) > 255:
        raise DnncError(f"conv with {len(masks)} border patterns along one axis is not supported")
    return ids, masks


def border_corrections(weight: np.ndarray, rmasks: list[tuple], cmasks: list[tuple]) -> tuple[np.ndarray, int]:
    """corr[row pattern][col pattern][o] = sum of w over channels and the padded taps of that pattern.

    Padded taps are gathered as zero words, i.e. computed as -1 activations contributing -sum_c w; adding
    corr makes them contribute exactly 0. Returns (corr int32, index of the all-valid pattern or -1)."""
    tapsum = weight.astype(np.int64).sum(axis=1)  # (O, kh, kw)
    corr = np.zeros((len(rmasks), len(cmasks), weight.shape[0]), np.int64)
    interior = -1
    for a, rm in enumerate(rmasks):
        for b, cm in enumerate(cmasks):
            invalid = ~np.outer(np.array(rm), np.array(cm))
            corr[a, b] = (tapsum * invalid).sum(axis=(1, 2))
            if not invalid.any():
                interior = a * len(cmasks) + b
    return corr.astype(np.int32), interior


def pad_words(n: int, kind: str = "") -> int:
    """Words per packed row: a multiple of the kernels' block (8 words for binary, else 4)."""
    b = 8 if kind == "DNNC_W_BINARY" else 4
    return -(-n // b) * b


def flip_words(flip: np.ndarray) -> np.ndarray:
    n = flip.shape[0]
    padded = np.zeros(-(-n // 32) * 32, bool)
    padded[:n] = flip
    return pack_bits(padded)


def input_positions(layer: Linear, in_layout: tuple) -> tuple[np.ndarray, int]:
    """Packed bit position of every IR input element (C, H, W order) and the packed word count."""
    if in_layout[0] == "vec":
        n = in_layout[1]
        return np.arange(n), -(-n // 32)
    _, c, h, w, wpp = in_layout
    ci, yi, xi = np.meshgrid(np.arange(c), np.arange(h), np.arange(w), indexing="ij")
    return ((yi * w + xi) * wpp * 32 + ci).reshape(-1), h * w * wpp


def to_lanes(a: np.ndarray, lanes: int, inner: int = 0) -> np.ndarray:
    """Per-output rows (O, *rest) -> the output-lane layout of runtime/dnnc_lanes.h: outputs padded with zeros to
    a multiple of `lanes`, then [O/lanes][*rest[:-inner]][lanes][*rest[-inner:]] (`inner` trailing axes stay
    inside a lane, e.g. the 4 bytes of one VPDPBUSD dword)."""
    o = a.shape[0]
    nb = -(-o // lanes)
    padded = np.zeros((nb * lanes, *a.shape[1:]), a.dtype)
    padded[:o] = a
    b = padded.reshape(nb, lanes, *a.shape[1:])
    order = list(range(2, b.ndim - inner)) + [1] + list(range(b.ndim - inner, b.ndim))
    return b.transpose(0, *order)


def pad_lanes(v: np.ndarray, lanes: int) -> np.ndarray:
    """Zero-pad the last axis (one value per output) to a multiple of `lanes`."""
    n = v.shape[-1]
    out = np.zeros((*v.shape[:-1], -(-n // lanes) * lanes), v.dtype)
    out[..., :n] = v
    return out
