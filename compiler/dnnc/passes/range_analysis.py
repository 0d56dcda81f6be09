"""Range analysis: prove every accumulator's bounds per output channel and choose its signed width.

Input element ranges: raw UINT8 [0, 255] (through InputAffine / in_mul, in_add), BIPOLAR [-1, 1] after a
sign. Each weight w contributes to a sum a term in [min(w*lo, w*hi), max(w*lo, w*hi)] (and 0 at a padded
conv position, so 0 joins the interval when pad > 0); the per-channel bound is the sum of these. The
bound holds for every input. An accumulator whose absolute partial sums could reach 2^24 is a DnncError:
beyond it float32 (the deployment ONNX container) is no longer exact, and int32 is far beyond anyway.
Rewrites: Linear.acc_min/acc_max/acc_bits/acc_min_ch/acc_max_ch. Preserves: everything else.
"""

from __future__ import annotations

import numpy as np

from dnnc.errors import DnncError
from dnnc.ir.model import BatchNormSign, InputAffine, IRModel, Linear, Threshold
from dnnc.passes.base import Pass
from dnnc.vocabulary import signed_bits

EXACT_LIMIT = 1 << 24


class RangeAnalysis(Pass):
    name = "range-analysis"

    def rewrite(self, model: IRModel) -> None:
        lo, hi = 0, 255
        for layer in model.layers:
            if isinstance(layer, InputAffine):
                lo, hi = sorted((layer.mul * lo + layer.add, layer.mul * hi + layer.add))
            elif isinstance(layer, Linear):
                lo, hi = self._linear(layer, lo, hi)
            elif isinstance(layer, (Threshold, BatchNormSign)):
                lo, hi = -1, 1

    @staticmethod
    def _linear(layer: Linear, lo: int, hi: int) -> tuple[int, int]:
        ulo, uhi = sorted((layer.in_mul * lo + layer.in_add, layer.in_mul * hi + layer.in_add))
        w = np.asarray(layer.weight, np.int64).reshape(layer.weight.shape[0], -1)
        tmin, tmax = np.minimum(w * ulo, w * uhi), np.maximum(w * ulo, w * uhi)
        if layer.kind == "conv" and layer.pad > 0:
            tmin, tmax = np.minimum(tmin, 0), np.maximum(tmax, 0)
        amin, amax = tmin.sum(axis=1), tmax.sum(axis=1)
        worst = int((np.abs(w) * max(abs(ulo), abs(uhi))).sum(axis=1).max(initial=0))
        if worst >= EXACT_LIMIT:
            raise DnncError(f"layer '{layer.name}': accumulator partial sums may reach {worst} >= 2^24 "
                            "(not exact in the float32 deployment ONNX)")
        layer.acc_min_ch, layer.acc_max_ch = amin.astype(np.int64), amax.astype(np.int64)
        layer.acc_min, layer.acc_max = int(amin.min(initial=0)), int(amax.max(initial=0))
        layer.acc_bits = max(2, signed_bits(layer.acc_min, layer.acc_max))  # never narrower than INT2
        return layer.acc_min, layer.acc_max
