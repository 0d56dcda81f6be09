"""Fold batch norm + sign (BatchNormSign) into one exact integer threshold per channel (Threshold).

The reference computes, in float32, P(acc) = fl32(fl32(acc * A) + B) >= 0 with A, B the float32
constants in the graph (A = gamma*inv_std*scale/div and B = beta - gamma*inv_std*mean were computed in
float64 and rounded to float32 once at export). IEEE rounding is monotone, so P is monotone in the
integer acc:
  A > 0: P is non-decreasing; threshold t = min{acc : P(acc)}, direction +1 (out = +1 iff acc >= t).
  A < 0: P is non-increasing; threshold t = max{acc : P(acc)}, direction -1 (out = +1 iff acc <= t).
         The weights are never flipped (multi-bit weight sets need not be symmetric under the flip).
  A = 0: constant, +1 iff B >= 0 (direction 0).
Rounding and tie rule: t is not rounded from -B/A; it is found by starting at the float64 estimate
ceil(-B/A) (A > 0) or floor(-B/A) (A < 0) and stepping by one while evaluating P exactly as the reference
does (numpy float32, one multiply, one add; no FMA). So an accumulator exactly at the boundary (y == 0
after rounding, or the float32 tie cases) gets sign(0) = +1, bit-identical to the reference.
Channels whose P is constant over the proven accumulator range (range analysis) become constants too.
Needs: ranges (acc_min_ch/acc_max_ch). NaN/inf in A or B: DnncError (the user's numbers).
Preserves: every sign output for every accumulator value in the proven range, hence all outputs.
"""

from __future__ import annotations

import numpy as np

from dnnc.errors import DnncError
from dnnc.ir.model import BatchNormSign, IRModel, Threshold
from dnnc.passes.base import RANGES, Pass, producing_linear


def predicate(acc: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The reference's sign decision for integer acc, in float32 exactly like the deployment ONNX."""
    y = np.asarray(acc, np.float64).astype(np.float32) * a.astype(np.float32)
    return (y + b.astype(np.float32)) >= np.float32(0)


def fold_channels(a: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """(direction int8, threshold int64, const int8) for float32 A, B and per-channel acc ranges [lo, hi]."""
    a, b = a.astype(np.float32), b.astype(np.float32)
    lo, hi = lo.astype(np.int64), hi.astype(np.int64)
    c = a.shape[0]
    direction = np.sign(a).astype(np.int8)
    with np.errstate(divide="ignore", invalid="ignore"):
        est = -b.astype(np.float64) / a.astype(np.float64)
    est = np.where(direction > 0, np.ceil(est), np.floor(est))
    t = np.clip(np.nan_to_num(est, nan=0.0, posinf=2.0**62, neginf=-(2.0**62)), lo - 1, hi + 1).astype(np.int64)
    pos, neg = direction > 0, direction < 0
    # A > 0: move to the least t in [lo, hi+1] with P(t) (hi + 1 stands for "never").
    for _ in range(1 << 20):
        down = pos & (t > lo) & predicate(t - 1, a, b)
        up = pos & (t <= hi) & ~predicate(t, a, b)
        if not (down.any() or up.any()):
            break
        t = t - down + up
    # A < 0: move to the greatest t in [lo-1, hi] with P(t) (lo - 1 stands for "never").
    for _ in range(1 << 20):
        up = neg & (t < hi) & predicate(t + 1, a, b)
        down = neg & (t >= lo) & ~predicate(t, a, b)
        if not (down.any() or up.any()):
            break
        t = t + up - down
    const = np.where(b >= 0, 1, -1).astype(np.int8)
    always = (pos & (t <= lo)) | (neg & (t >= hi))
    never = (pos & (t > hi)) | (neg & (t < lo))
    const = np.where(always, 1, np.where(never, -1, const)).astype(np.int8)
    direction = np.where(always | never, 0, direction).astype(np.int8)
    t = np.where(direction == 0, 0, t).astype(np.int64)
    assert t.shape == (c,)
    return direction, t, const


class FoldThresholds(Pass):
    name = "fold-thresholds"
    needs = frozenset({RANGES})  # clamping to the proven range decides the constant channels

    def rewrite(self, model: IRModel) -> None:
        for i, layer in enumerate(model.layers):
            if not isinstance(layer, BatchNormSign):
                continue
            lin = producing_linear(model.layers, i)  # verify(): a BatchNormSign follows Linear [MaxPool]
            a, b = np.asarray(layer.scale, np.float32), np.asarray(layer.bias, np.float32)
            if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
                raise DnncError(f"layer '{layer.name}': batch norm scale/bias is NaN or infinite")
            direction, t, const = fold_channels(a, b, lin.acc_min_ch, lin.acc_max_ch)
            thr = Threshold(layer.name, layer.in_shape, layer.out_shape, direction=direction, threshold=t,
                            const=const)
            thr_meta = {"gamma_negative": int((a < 0).sum()), "gamma_zero": int((a == 0).sum()),
                        "saturated": int(((direction == 0) & (a != 0)).sum())}
            model.meta.setdefault("thresholds", {})[layer.name] = thr_meta
            model.layers[i] = thr
