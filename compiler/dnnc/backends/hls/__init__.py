"""FPGA backend (target family "hls"): the folded dataflow design (dnnc.dataflow) in Vitis HLS C++.

compile(model, target, outdir)  writes hls/ (design, testbench, Makefile, run_hls.tcl), dataflow.json,
                                dataflow.onnx (FINN node types) and report.md into outdir
run(model, target, raw)         C-simulation: builds the same C++ with g++ and streams the frames
Target keys read (targets/fpga-hls.toml, overridable by the caller): part, hls_cflags, [csim], and the
dataflow's own (dnnc.dataflow.design: clock_ns, fps, balance_max_lanes, folding, mvau_dsp_min_bits).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dnnc.backends.hls import csim
from dnnc.backends.hls.emit import project_context, render_report, write_hls
from dnnc.dataflow import Design, design
from dnnc.dataflow.description import dataflow_json, dataflow_onnx
from dnnc.errors import DnncError
from dnnc.fsutil import scratch_dir
from dnnc.ir.model import IRModel
from dnnc.ir.outputs import Outputs

__all__ = ["bench", "compile", "run"]


def _context(model: IRModel, target: dict, d: Design, tb_bytes: bool | None = None) -> dict:
    """tb_bytes: the testbench reads bytes through the input map (default: when the model states one)."""
    ctx = project_context(model.name, tuple(model.input_shape), model.num_classes, d.stages, d.fold,
                          d.summary, target, model.input_thresholds)
    ctx["byte_codes"] = None if model.byte_codes is None else [int(v) for v in model.byte_codes]
    ctx["input_map"] = model.input_map
    ctx["tb_bytes"] = model.byte_codes is not None if tb_bytes is None else tb_bytes
    return ctx


def compile(model: IRModel, target: dict, outdir: Path) -> None:
    """Write the HLS project, the dataflow description and report.md into outdir (created by caller)."""
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
    # the model's own input type; with a stated input map, bytes (through the map) or float32
    ok = raw.dtype == model.input_dtype or (model.byte_codes is not None and raw.dtype == np.float32)
    if not ok or raw.shape[1:] != tuple(model.input_shape):
        raise DnncError(f"inputs must be {np.dtype(model.input_dtype).name} (N, "
                        f"{', '.join(map(str, model.input_shape))}), got {raw.dtype} {raw.shape}")
    d = design(model, target)
    with scratch_dir("dnnc-csim-") as tmp:
        hls_dir = tmp / "hls"
        write_hls(_context(model, target, d, model.byte_codes is not None and raw.dtype == np.uint8), hls_dir)
        exe = csim.build(hls_dir, model.name, target, sanitize=sanitize)
        return csim.execute(exe, raw, model.num_classes)


def bench(model: IRModel, target: dict, raw: np.ndarray | None = None, repeat: int | None = None) -> dict:
    """No measured cost without an FPGA: the per-stage estimates are in `dnnc compile`'s report.md."""
    raise DnncError(f"target '{target['name']}': nothing to measure without hardware; the cycle, fps and "
                    "resource estimates are in report.md / dataflow.json written by `dnnc compile`")
