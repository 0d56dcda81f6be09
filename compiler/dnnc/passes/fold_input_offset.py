"""Fold the first dense layer's input offset (in_add) into the following thresholds.

For a dense first layer, acc = sum_i w_i (in_mul x_i + in_add) = acc' + in_add * sum_i w_i, so
acc >= t <=> acc' >= t - in_add * rowsum(w) (and likewise for <=). Rewrites: Linear.in_add -> 0, the
next Threshold's (or MultiThreshold's) thresholds shifted per channel (a k-bit channel's saturated
thresholds stay at +-2^24: |acc| < 2^24 either side of the shift). Preconditions: the Linear is dense and directly followed
by a Threshold (a conv cannot be folded: zero padding would then mean u = in_add, not 0; the output layer
cannot: its accumulators are an output). Preserves: every sign output. Invalidates: ranges.
"""

from __future__ import annotations

import numpy as np

from dnnc.ir.model import THRESHOLD_LIMIT, IRModel, Linear, MultiThreshold, Threshold
from dnnc.passes.base import RANGES, Pass


class FoldInputOffset(Pass):
    name = "fold-input-offset"
    invalidates = frozenset({RANGES})  # the first layer's accumulators shift by in_add * rowsum(w)

    def rewrite(self, model: IRModel) -> None:
        layers = model.layers
        for i, layer in enumerate(layers[:-1]):
            nxt = layers[i + 1]
            if not (isinstance(layer, Linear) and layer.kind == "dense" and layer.in_add != 0
                    and isinstance(nxt, (Threshold, MultiThreshold))):
                continue
            shift = layer.in_add * layer.weight.astype(np.int64).sum(axis=1)
            layer.in_add = 0
            if isinstance(nxt, MultiThreshold):
                lim = THRESHOLD_LIMIT
                t = nxt.thresholds
                moved = np.clip(t - shift[:, None], -lim, lim)
                nxt.thresholds = np.where(np.abs(t) >= lim, t, moved).astype(np.int64)
                continue
            nxt.threshold = np.where(nxt.direction != 0, nxt.threshold - shift, 0).astype(np.int64)
            layer.in_add = 0
