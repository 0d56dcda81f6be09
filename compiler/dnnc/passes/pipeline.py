"""The pass pipeline: pre-pass IR (as imported from the deployment ONNX) -> backend-facing IR.

Order matters: ranges must be known before thresholds are folded (clamping, constant channels), and
are recomputed after the input offset moves into the thresholds.
"""

from __future__ import annotations

from dnnc.ir.model import IRModel
from dnnc.passes.base import Pass
from dnnc.passes.canonical_thresholds import CanonicalThresholds
from dnnc.passes.fold_input_affine import FoldInputAffine
from dnnc.passes.fold_input_offset import FoldInputOffset
from dnnc.passes.fold_thresholds import FoldThresholds
from dnnc.passes.integer_weights import IntegerWeights
from dnnc.passes.range_analysis import RangeAnalysis


def default_pipeline() -> list[Pass]:
    return [
        FoldInputAffine(),
        IntegerWeights(),
        RangeAnalysis(),
        FoldThresholds(),
        FoldInputOffset(),
        RangeAnalysis(),
        CanonicalThresholds(),
    ]


def run_pipeline(model: IRModel, passes: list[Pass] | None = None) -> IRModel:
    for p in passes if passes is not None else default_pipeline():
        model = p(model)
    return model


def stages(model: IRModel, passes: list[Pass] | None = None) -> list[tuple[str, IRModel]]:
    """[("import", model), (pass name, model after it), ...] for checking every stage."""
    out = [("import", model)]
    for p in passes if passes is not None else default_pipeline():
        model = p(model)
        out.append((p.name, model))
    return out
