"""Range analysis: prove every accumulator's bounds per output channel (dnnc.ir.ranges) and record them.

The bounds are interval sums over the weights (dnnc.ir.ranges says how); the signed width `acc_bits`
follows from them. An accumulator whose absolute partial sums could reach 2^24 is a DnncError: beyond it
float32 (the deployment ONNX container) is no longer exact, and int32 is far beyond anyway.
Rewrites: Linear.acc_min_ch/acc_max_ch. Preserves: everything else. Provides the RANGES requirement.
"""

from __future__ import annotations

from dnnc.errors import DnncError
from dnnc.ir.model import IRModel
from dnnc.ir.ranges import accumulator_bounds
from dnnc.passes.base import Pass

EXACT_LIMIT = 1 << 24


class RangeAnalysis(Pass):
    name = "range-analysis"

    def rewrite(self, model: IRModel) -> None:
        for layer, b in accumulator_bounds(model):
            if b.worst >= EXACT_LIMIT:
                raise DnncError(f"layer '{layer.name}': accumulator partial sums may reach {b.worst} >= 2^24 "
                                "(not exact in the float32 deployment ONNX)")
            layer.acc_min_ch, layer.acc_max_ch = b.lo, b.hi
