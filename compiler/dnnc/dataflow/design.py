"""A folded dataflow design: lower, fold to the target's throughput, connect; with its estimates.

Target keys read (targets/fpga-hls.toml, overridable by the caller): clock_ns, fps (0 = balance on the
slowest stage), balance_max_lanes, folding (explicit {stage: {PE, SIMD}}), mvau_dsp_min_bits.
"""

from __future__ import annotations

from dataclasses import dataclass

from dnnc.dataflow.estimates import Summary, summarize
from dnnc.dataflow.folding import FoldResult, apply_folding, fold
from dnnc.dataflow.lower import connect, lower
from dnnc.dataflow.stages import Stage
from dnnc.errors import DnncError
from dnnc.ir.model import IRModel
from dnnc.vocabulary import dtype_bits

CLOCK_NS = (1e-3, 1e6)  # 1 THz .. 1 kHz: beyond either end the estimates stop being numbers
MAX_FPS = 1e12


@dataclass
class Design:
    stages: list[Stage]
    fold: FoldResult
    summary: Summary


def design(model: IRModel, target: dict) -> Design:
    """Lower, fold and connect: the stage list a backend implements, with its estimates."""
    if not model.is_lowered():
        raise DnncError(f"model '{model.name}': the dataflow needs the lowered IR (run the passes)")
    clock_ns = float(target["clock_ns"])
    if not CLOCK_NS[0] <= clock_ns <= CLOCK_NS[1]:  # also false for NaN
        raise DnncError(f"target '{target['name']}': clock_ns must be in {CLOCK_NS[0]:g}..{CLOCK_NS[1]:g} ns, "
                        f"got {clock_ns:g}")
    stages = lower(model)
    dsp_bits = target["mvau_dsp_min_bits"]
    for s in stages:  # multipliers of at least this many bits (weight + input) go to DSP slices
        if s.op == "MVAU" and dsp_bits and not s.attrs["binaryXnorMode"] and (
                dtype_bits(s.attrs["weightDataType"]) + dtype_bits(s.attrs["inputDataType"]) >= dsp_bits):
            s.attrs["resType"] = "dsp"
    if target["folding"]:
        result = apply_folding(stages, target["folding"])
    else:
        fps = float(target["fps"])
        if not 0 <= fps <= MAX_FPS:  # also false for NaN; inf would be "met" by one cycle
            raise DnncError(f"target '{target['name']}': fps must be in 0..{MAX_FPS:g}, got {fps:g}")
        cycles = max(1, int(1e9 / clock_ns / fps)) if fps > 0 else None
        result = fold(stages, cycles, target["balance_max_lanes"])
    stages = connect(stages)
    return Design(stages, result, summarize(stages, clock_ns))
