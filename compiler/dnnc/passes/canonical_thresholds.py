"""Move every threshold onto the lattice of accumulator values its channel can actually take.

An accumulator of a channel only takes values acc = r (mod m): for raw UINT8 inputs (any x in [0, 255])
acc = in_mul * sum(w_i x_i) + in_add * sum(w), so m = |in_mul| * gcd(w), r = in_add * sum(w); for ±1
inputs acc = -sum(w) + 2 * sum(w_i b_i), so m = 2 * gcd(w), r = -sum(w); for k-bit levels y = bias + c
(c any of 0..T) acc = bias * sum(w) + sum(w_i c_i), so m = gcd(w), r = bias * sum(w). A max-pool keeps the lattice.
(With conv zero padding the offset depends on the position, so padded convs are left alone.)
Rewrites: direction +1: t -> the least lattice value >= t; direction -1: t -> the greatest lattice value
<= t; a moved threshold beyond the proven range makes the channel constant. Why: the decision is
unchanged for every reachable accumulator, and "acc == t" becomes reachable, so threshold-edge inputs
can hit exact ties. Needs: ranges. Preserves: every sign output.
"""

from __future__ import annotations

import numpy as np

from dnnc.ir.model import IRModel, MultiThreshold, Threshold
from dnnc.passes.base import RANGES, Pass, producing_linear
from dnnc.vocabulary import BIPOLAR, UINT8


def lattice(lin, level_bias: int = 0) -> tuple[np.ndarray, np.ndarray] | None:
    """(m, r) per output channel, or None if the layer's accumulators have no fixed lattice."""
    if lin.kind == "conv" and lin.pad > 0:
        return None
    w = lin.weight.astype(np.int64).reshape(lin.weight.shape[0], -1)
    g = np.gcd.reduce(np.abs(w), axis=1)
    total = w.sum(axis=1)
    if lin.in_dtype == UINT8:
        m, r = abs(lin.in_mul) * g, lin.in_add * total
    elif lin.in_dtype != BIPOLAR:  # k-bit levels after a MultiThreshold
        m, r = g, level_bias * total
    else:
        m, r = 2 * g, -total
    m = np.where(m == 0, 1, m)
    return m, np.mod(r, m)


class CanonicalThresholds(Pass):
    name = "canonical-thresholds"
    needs = frozenset({RANGES})  # a threshold moved beyond the proven range makes its channel constant

    def rewrite(self, model: IRModel) -> None:
        level_bias = 0  # the lowest level of the last k-bit activation (what the next Linear reads)
        for i, layer in enumerate(model.layers):
            if isinstance(layer, MultiThreshold):
                level_bias = layer.out_bias
            if not isinstance(layer, Threshold):
                continue
            lin = producing_linear(model.layers, i)  # verify(): a Threshold follows Linear [MaxPool]
            lat = lattice(lin, level_bias)
            if lat is None:
                continue
            m, r = lat
            t, d = layer.threshold.astype(np.int64), layer.direction
            up = t + np.mod(r - t, m)
            down = t - np.mod(t - r, m)
            t = np.where(d > 0, up, np.where(d < 0, down, 0))
            never = ((d > 0) & (t > lin.acc_max_ch)) | ((d < 0) & (t < lin.acc_min_ch))
            always = ((d > 0) & (t <= lin.acc_min_ch)) | ((d < 0) & (t >= lin.acc_max_ch))
            newly = int(((never | always) & (d != 0)).sum())
            if newly and layer.name in model.meta.get("thresholds", {}):
                model.meta["thresholds"][layer.name]["saturated"] += newly
            layer.const = np.where(never, -1, np.where(always, 1, layer.const)).astype(np.int8)
            layer.direction = np.where(never | always, 0, d).astype(np.int8)
            layer.threshold = np.where(layer.direction == 0, 0, t).astype(np.int64)
