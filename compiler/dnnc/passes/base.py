"""The pass contract: what a pass may change, what it must keep, what it needs and what it invalidates.

A pass is a `Pass` subclass with a `name` and a `rewrite(model)` that edits a private deep copy; calling
the pass (`p(model)`) enforces the rest, so a pass run anywhere (pipeline, stages, tests, export) is held
to the same contract:

- May change: any field of any layer, the layer list, `IRModel.meta`; never its input model (it gets a
  copy).
- Must preserve: the IR interpreter's outputs (class, output accumulators, float32 logits bit for bit) on
  every input, and a valid IR: `IRModel.verify()` runs on every result and names the pass that broke it.
  The tests check the outputs against onnxruntime after every pass (tests/test_passes.py).
- Declares `needs`: requirements its input must meet; checked before `rewrite` runs, an InternalError
  naming the pass and the requirement if one is not met (a pipeline built in the wrong order).
- Declares `invalidates`: analyses the rewrite may make stale. They are dropped from the result, so a
  later consumer finds them missing (and its `needs` stops it) instead of reading stale values. A pass
  that changes what an analysis depends on and does not declare it is caught by `verify()`, which
  re-derives recorded ranges from the IR.

Requirements (each a fact that can be checked on the IR itself, no bookkeeping beside it):
  RANGES           every Linear carries proven accumulator ranges (acc_min_ch/acc_max_ch) that contain the
                   bounds derived from the current IR (dnnc.ir.ranges); range-analysis provides them.
  INTEGER_WEIGHTS  every Linear's weights are int8 codes of its weight set; integer-weights provides it.
  LOWERED          only backend-facing layer types remain (no InputAffine, no BatchNormSign).
The backends need all three: the default pipeline verifies its result with `verify(lowered=True)`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dnnc.errors import InternalError, InvalidIR
from dnnc.ir.model import IRModel, Layer, Linear, MaxPool
from dnnc.ir.verify import missing_ranges

RANGES = "ranges"
INTEGER_WEIGHTS = "integer-weights"
LOWERED = "lowered"
REQUIREMENTS = frozenset({RANGES, INTEGER_WEIGHTS, LOWERED})


def _drop_ranges(model: IRModel) -> None:
    for layer in model.linears():
        layer.acc_min_ch = layer.acc_max_ch = None


def _unmet(requirement: str, model: IRModel) -> str | None:
    """Why `model` does not meet `requirement`, or None if it does."""
    if requirement == RANGES:
        missing = missing_ranges(model)
        return (f"layer '{missing[0]}' has no accumulator ranges (run range-analysis before it; a pass that "
                "invalidates ranges drops them)") if missing else None
    if requirement == INTEGER_WEIGHTS:
        bad = [x for x in model.linears() if x.weight.dtype != np.int8]
        return (f"layer '{bad[0].name}' has {bad[0].weight.dtype} weights, not int8 codes (run integer-weights "
                "before it)") if bad else None
    if requirement == LOWERED:
        return None if model.is_lowered() else "pre-pass layers (InputAffine, BatchNormSign) remain"
    raise InternalError(f"unknown requirement {requirement!r}")


# What dropping an invalidated analysis means; only recorded analyses can be invalidated.
_DROP: dict[str, Callable[[IRModel], None]] = {RANGES: _drop_ranges}


def check_needs(who: str, needs: frozenset[str], model: IRModel) -> None:
    """InternalError if `model` does not meet every requirement in `needs`; `who` names the consumer."""
    for requirement in sorted(needs):
        why = _unmet(requirement, model)
        if why is not None:
            raise InternalError(f"{who} needs {requirement}: {why}")
    if RANGES in needs:  # present is not enough: the ranges must hold for the IR as it is now
        try:
            model.verify()
        except InvalidIR as exc:
            raise InvalidIR(f"before {who}: {exc}") from exc


class Pass:
    name = "pass"
    needs: frozenset[str] = frozenset()
    invalidates: frozenset[str] = frozenset()

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        unknown = set(cls.needs) - REQUIREMENTS
        if unknown:
            raise InternalError(f"pass '{cls.name}' needs unknown requirements {sorted(unknown)}")
        unknown = set(cls.invalidates) - set(_DROP)
        if unknown:
            raise InternalError(f"pass '{cls.name}' invalidates {sorted(unknown)}, which are not recorded analyses")

    def __call__(self, model: IRModel) -> IRModel:
        """The rewritten copy; the contract is enforced here so it holds wherever a pass runs."""
        check_needs(f"pass '{self.name}'", self.needs, model)
        out = model.copy()
        self.rewrite(out)
        for analysis in sorted(self.invalidates):
            _DROP[analysis](out)
        try:
            out.verify()
        except InvalidIR as exc:
            raise InvalidIR(f"after pass '{self.name}': {exc}") from exc
        return out

    def rewrite(self, model: IRModel) -> None:
        """Rewrite `model` (a private copy) in place."""
        raise NotImplementedError


def producing_linear(layers: list[Layer], index: int) -> Linear | None:
    """The Linear whose accumulators reach layers[index], skipping max-pools; None if there is none."""
    j = index - 1
    while j >= 0 and isinstance(layers[j], MaxPool):
        j -= 1
    return layers[j] if j >= 0 and isinstance(layers[j], Linear) else None
