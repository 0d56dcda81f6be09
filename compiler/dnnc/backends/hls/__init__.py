"""FPGA backend (target family "hls"): a FINN-style streaming dataflow design in Vitis HLS C++.

compile(model, target, outdir)  writes hls/ (design, testbench, Makefile, run_hls.tcl), dataflow.json,
                                dataflow.onnx (FINN node types) and report.md into outdir
run(model, target, raw)         C-simulation: builds the same C++ with g++ and streams the frames
Target keys read (targets/fpga-hls.toml, overridable by the caller): part, clock_ns, fps (0 = balance on
the slowest stage), balance_max_lanes, folding (explicit {stage: {PE, SIMD}}), hls_cflags, [csim].
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dnnc.backends.hls import csim
from dnnc.backends.hls.emit import project_context, render_report, write_hls
from dnnc.backends.hls.estimates import Summary, summarize
from dnnc.backends.hls.folding import FoldResult, apply_folding, fold
from dnnc.backends.hls.lower import connect, lower
from dnnc.backends.hls.stages import Stage, dtype_bits
from dnnc.errors import DnncError
from dnnc.ir.model import IRModel
from dnnc.ir.outputs import Outputs

__all__ = ["Design", "bench", "compile", "design", "run"]


@dataclass
class Design:
    stages: list[Stage]
    fold: FoldResult
    summary: Summary


def design(model: IRModel, target: dict) -> Design:
    """Lower, fold and connect: the stage list the emitted C++ implements, with its estimates."""
    if not model.is_lowered():
        raise DnncError(f"model '{model.name}': the HLS backend needs the lowered IR (run the passes)")
    clock_ns = float(target["clock_ns"])
    if clock_ns <= 0:
        raise DnncError(f"target '{target['name']}': clock_ns must be > 0, got {clock_ns}")
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
        if fps < 0:
            raise DnncError(f"target '{target['name']}': fps must be >= 0, got {fps}")
        cycles = max(1, int(1e9 / clock_ns / fps)) if fps > 0 else None
        result = fold(stages, cycles, target["balance_max_lanes"])
    stages = connect(stages)
    return Design(stages, result, summarize(stages, clock_ns))


def _context(model: IRModel, target: dict, d: Design) -> dict:
    return project_context(model.name, tuple(model.input_shape), model.num_classes, d.stages, d.fold,
                           d.summary, target)


def compile(model: IRModel, target: dict, outdir: Path) -> None:
    """Write the HLS project, the dataflow description and report.md into outdir (created by caller)."""
    from dnnc.backends.hls.dataflow import dataflow_json, dataflow_onnx

    outdir = Path(outdir)
    d = design(model, target)
    ctx = _context(model, target, d)
    write_hls(ctx, outdir / "hls")
    (outdir / "dataflow.json").write_text(json.dumps(dataflow_json(model, target, d), indent=2) + "\n")
    (outdir / "dataflow.onnx").write_bytes(dataflow_onnx(model, d).SerializeToString())
    (outdir / "report.md").write_text(render_report(ctx))


def run(model: IRModel, target: dict, raw: np.ndarray, sanitize: bool = False) -> Outputs:
    """C-simulation of the emitted design on raw uint8 inputs (N, C, H, W)."""
    raw = np.asarray(raw)
    if raw.dtype != np.uint8 or raw.shape[1:] != tuple(model.input_shape):
        raise DnncError(f"inputs must be uint8 (N, {', '.join(map(str, model.input_shape))}), "
                        f"got {raw.dtype} {raw.shape}")
    d = design(model, target)
    with tempfile.TemporaryDirectory(prefix="dnnc-csim-") as tmp:
        hls_dir = Path(tmp) / "hls"
        write_hls(_context(model, target, d), hls_dir)
        exe = csim.build(hls_dir, model.name, target, sanitize=sanitize)
        return csim.execute(exe, raw, model.num_classes)


def bench(model: IRModel, target: dict, raw: np.ndarray | None = None, repeat: int | None = None) -> dict:
    """No measured cost without an FPGA: the per-stage estimates are in `dnnc compile`'s report.md."""
    raise DnncError(f"target '{target['name']}': nothing to measure without hardware; the cycle, fps and "
                    "resource estimates are in report.md / dataflow.json written by `dnnc compile`")
