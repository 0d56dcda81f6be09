"""Option types shared by the commands: every number a user passes is bounded before anything uses it.

click's FloatRange lets NaN through (every comparison with NaN is false) and accepts inf; a seed must be
one numpy and torch both take; sizes get an upper bound so that a typo cannot ask for 36 GiB.
"""

from __future__ import annotations

import math

import click

SEED = click.IntRange(0, 2**32 - 1)  # numpy's default_rng and torch.manual_seed both accept it
MAX_SAMPLES = 1_000_000  # verify inputs; their bytes are bounded again per model (dnnc.verify)
MAX_REPEAT = 1_000_000  # bench inferences


class PositiveFinite(click.ParamType):
    """A float > 0 that is finite: `--fps nan`, `--fps inf` and `--clock-ns 0` are usage errors."""

    name = "number"

    def convert(self, value, param, ctx) -> float:
        try:
            v = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(v) or v <= 0:
            self.fail(f"{value!r} must be a finite number > 0", param, ctx)
        return v


POSITIVE_FINITE = PositiveFinite()
