"""Interval bounds of every Linear's accumulators: a function of the IR alone.

Input element ranges: raw UINT8 [0, 255] (through InputAffine and the layer's in_mul, in_add), BIPOLAR
[-1, 1] after a sign, [out_bias, out_bias + T] after a k-bit MultiThreshold. Each weight w contributes to
a sum a term in [min(w*lo, w*hi), max(w*lo, w*hi)] (and 0 at a padded conv position, so 0 joins the interval when pad > 0); a channel's bound is the sum of these.
The bound holds for every input. The range-analysis pass records these bounds on the IR and
`IRModel.verify()` derives them again, so a recorded range is checked against the IR it describes rather
than trusted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dnnc.ir.model import BatchNormSign, InputAffine, IRModel, Linear, MultiThreshold, Threshold

SATURATE = 2**62  # bounds beyond int64 (from a file's absurd input scale) are clipped to this


@dataclass(frozen=True)
class Bounds:
    lo: np.ndarray  # int64 (O,): least accumulator per output channel
    hi: np.ndarray  # int64 (O,): greatest accumulator per output channel
    worst: int  # the largest |partial sum| any channel can reach (sum of |w| * max |u|)


def _linear_bounds(layer: Linear, lo: int, hi: int) -> Bounds:
    ulo, uhi = sorted((layer.in_mul * lo + layer.in_add, layer.in_mul * hi + layer.in_add))
    if layer.kind == "conv" and layer.pad > 0:
        ulo, uhi = min(ulo, 0), max(uhi, 0)  # a padded position contributes 0
    w = np.asarray(layer.weight).astype(np.int64).reshape(layer.weight.shape[0], -1)
    pos, neg = np.maximum(w, 0).sum(axis=1), np.minimum(w, 0).sum(axis=1)  # w*u is least at ulo for w >= 0
    worst = int((pos - neg).max(initial=0)) * max(abs(ulo), abs(uhi))  # Python ints: exact at any size
    if worst < SATURATE and max(abs(ulo), abs(uhi)) < SATURATE:  # |bounds| <= worst: int64 is exact
        return Bounds(pos * ulo + neg * uhi, pos * uhi + neg * ulo, worst)
    # an input scale from a file (e.g. 2^62) would overflow int64 products: bound in Python ints and
    # saturate; `worst` is far beyond 2^24, so range analysis rejects the layer anyway
    sat = [(int(p), int(n)) for p, n in zip(pos, neg, strict=True)]
    return Bounds(np.array([_clip(p * ulo + n * uhi) for p, n in sat], np.int64),
                  np.array([_clip(p * uhi + n * ulo) for p, n in sat], np.int64), worst)


def _clip(v: int) -> int:
    return max(-SATURATE, min(SATURATE, v))


def accumulator_bounds(model: IRModel) -> list[tuple[Linear, Bounds]]:
    """(layer, bounds) for every Linear, in order."""
    out = []
    lo, hi = 0, 255
    for layer in model.layers:
        if isinstance(layer, InputAffine):
            lo, hi = sorted((layer.mul * lo + layer.add, layer.mul * hi + layer.add))
        elif isinstance(layer, Linear):
            b = _linear_bounds(layer, lo, hi)
            out.append((layer, b))
            lo, hi = int(b.lo.min(initial=0)), int(b.hi.max(initial=0))
        elif isinstance(layer, (Threshold, BatchNormSign)):
            lo, hi = -1, 1
        elif isinstance(layer, MultiThreshold):
            lo, hi = layer.out_range
    return out
