"""The pass pipeline: pre-pass IR (as imported from the deployment ONNX) -> backend-facing IR.

Order follows the passes' declared needs and invalidates (dnnc.passes.base): fold-thresholds and
canonical-thresholds need ranges; fold-input-affine and fold-input-offset invalidate them, so range
analysis runs once before the thresholds are folded and again after the input offset moved into them.
The IR is verified after import and after every pass; the default pipeline's result is verified in the
backend-facing form (lowered, int8 weights, ranges on every Linear).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from dnnc.errors import DnncError, InvalidIR
from dnnc.ir.model import IRModel
from dnnc.passes.base import Pass
from dnnc.passes.canonical_thresholds import CanonicalThresholds
from dnnc.passes.fold_input_affine import FoldInputAffine
from dnnc.passes.fold_input_offset import FoldInputOffset
from dnnc.passes.fold_thresholds import FoldThresholds
from dnnc.passes.integer_weights import IntegerWeights
from dnnc.passes.range_analysis import RangeAnalysis

MAX_ACTIVATION = 1 << 22  # elements of one input's largest tensor (a 64 x 256 x 256 feature map)


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


def _checked(where: str, model: IRModel, lowered: bool = False) -> None:
    try:
        model.verify(lowered=lowered)
    except InvalidIR as exc:
        raise InvalidIR(f"{where}: {exc}") from exc


def check_sizes(model: IRModel) -> None:
    """Shapes come from the user's file: bound them before any executor allocates activations for them
    (a 2^40 input dim costs nothing to import and everything to run)."""
    for layer in model.layers:
        for shape in (layer.in_shape, layer.out_shape):
            n = math.prod(int(d) for d in shape)
            if n > MAX_ACTIVATION:
                raise DnncError(f"layer '{layer.name}': a tensor of shape {tuple(shape)} ({n} elements per "
                                f"input) is larger than dnnc compiles ({MAX_ACTIVATION})")


def _run(model: IRModel, passes: list[Pass] | None) -> Iterator[tuple[str, IRModel]]:
    """("import", model), then (pass name, its result) per pass; each pass verifies its own result."""
    check_sizes(model)
    _checked("after import", model)
    yield "import", model
    for p in passes if passes is not None else default_pipeline():
        model = p(model)
        yield p.name, model
    if passes is None:
        _checked("after the pipeline (the backends' form)", model, lowered=True)


def run_pipeline(model: IRModel, passes: list[Pass] | None = None) -> IRModel:
    """The model after `passes` (default: the full pipeline, whose result backends consume)."""
    result = model
    for _, result in _run(model, passes):  # keeps only the current stage alive
        pass
    return result


def stages(model: IRModel, passes: list[Pass] | None = None) -> list[tuple[str, IRModel]]:
    """[("import", model), (pass name, model after it), ...] for checking every stage."""
    return list(_run(model, passes))
