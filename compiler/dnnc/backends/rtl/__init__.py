"""FPGA backend (target family "rtl"): the folded dataflow design (dnnc.dataflow) as Verilog.

compile(model, target, outdir)  writes rtl/ (design, building blocks, testbench, yosys / nextpnr scripts,
                                Makefile, pin constraints), dataflow.json and report.md into outdir
run(model, target, raw)         Verilator simulation with random stalls on both ends; the float logits are
                                computed here from the simulated integer accumulators (numpy float32, the
                                deployment ONNX's two roundings), the class comes from the RTL
bench(model, target)            synthesis (and for flow = ice40: place and route, timing) + cycles per frame
                                measured in simulation
Target keys: targets.RTL_SCHEMA, and the dataflow's own (clock_ns, fps, balance_max_lanes, folding).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dnnc.backends.rtl import sim, synth
from dnnc.backends.rtl.emit import project_context, render, write_rtl
from dnnc.dataflow import Design, design
from dnnc.dataflow.description import dataflow_json
from dnnc.errors import DnncError
from dnnc.fsutil import scratch_dir
from dnnc.ir.model import IRModel, MultiThreshold, OutputAffine
from dnnc.ir.outputs import Outputs

__all__ = ["bench", "compile", "run"]


def _design(model: IRModel, target: dict) -> Design:
    kbit = next((x for x in model.layers if isinstance(x, MultiThreshold)), None)
    if kbit is not None:
        raise DnncError(f"layer '{kbit.name}': k-bit activations are not supported by the Verilog backend "
                        f"(target {target['name']}); use fpga-hls, host or a microcontroller target")
    return design(model, target)


def _ctx(model: IRModel, target: dict, d: Design) -> dict:
    ctx = project_context(model, d.stages, target)
    ctx.update(target=target, fold=d.fold, summary=d.summary, est_stages=synth.estimate_rows(d))
    return ctx


def compile(model: IRModel, target: dict, outdir: Path) -> None:
    """Write the Verilog project, dataflow.json and report.md into outdir (created by the caller)."""
    outdir = Path(outdir)
    d = _design(model, target)
    ctx = _ctx(model, target, d)
    if target["flow"] == "ice40" and target["fps"]:
        synth.check_fit(d, ctx, target)  # the least parallelism meeting --fps must fit the part
    rtl_dir = outdir / "rtl"
    write_rtl(ctx, rtl_dir)
    synth.write_scripts(ctx, rtl_dir)
    (outdir / "dataflow.json").write_text(json.dumps(dataflow_json(model, target, d), indent=2) + "\n")
    (outdir / "report.md").write_text(render("rtl/report.md.j2", ctx))


def logits_from_acc(model: IRModel, acc: np.ndarray) -> np.ndarray:
    """The deployment ONNX's output affine on the integers: f32(f32(f32(acc) * scale) + bias), no FMA."""
    aff = next(x for x in model.layers if isinstance(x, OutputAffine))
    prod = acc.astype(np.float32) * np.asarray(aff.scale, np.float32)
    return (prod.astype(np.float32) + np.asarray(aff.bias, np.float32)).astype(np.float32)


def _check_raw(model: IRModel, raw: np.ndarray) -> np.ndarray:
    raw = np.asarray(raw)
    if raw.dtype != np.uint8 or raw.shape[1:] != tuple(model.input_shape):
        raise DnncError(f"inputs must be uint8 (N, {', '.join(map(str, model.input_shape))}), "
                        f"got {raw.dtype} {raw.shape}")
    return raw


def simulate(model: IRModel, target: dict, raw: np.ndarray, stall: int | None = None,
             seed: int = 1) -> tuple[Outputs, np.ndarray]:
    """Verilator run of the emitted design: outputs and the cycle each frame's last output beat left."""
    raw = _check_raw(model, raw)
    d = _design(model, target)
    with scratch_dir("dnnc-rtl-") as tmp:
        rtl_dir = tmp / "rtl"
        write_rtl(_ctx(model, target, d), rtl_dir)
        exe = sim.build_verilator(rtl_dir, model.name, target["sim"])
        acc, cls, cycles = sim.execute([str(exe)], rtl_dir, raw, model.num_classes, seed,
                                       target["sim"]["stall_percent"] if stall is None else stall)
    return Outputs(acc=acc, logits=logits_from_acc(model, acc), cls=cls), cycles


def simulate_netlist(model: IRModel, target: dict, raw: np.ndarray, work: Path, stall: int | None = None,
                     seed: int = 1) -> Outputs:
    """The synthesized iCE40 netlist (yosys write_verilog + its cell models) in iverilog, same testbench."""
    raw = _check_raw(model, raw)
    ctx = _ctx(model, target, _design(model, target))
    work = Path(work)
    write_rtl(ctx, work)
    synth.write_scripts(ctx, work)
    synth.synthesize_ice40(work, target)
    cells = synth.ice40_cell_models(target)
    cmd = sim.build_iverilog(work, model.name, [str(cells), f"{model.name}_netlist.v", f"tb_{model.name}.v"],
                             ["NO_ICE40_DEFAULT_ASSIGNMENTS"])
    acc, cls, _ = sim.execute(cmd, work, raw, model.num_classes, seed,
                              target["sim"]["stall_percent"] if stall is None else stall)
    return Outputs(acc=acc, logits=logits_from_acc(model, acc), cls=cls)


def run(model: IRModel, target: dict, raw: np.ndarray) -> Outputs:
    """Verilator simulation with random stalls on both ends (the target's sim.stall_percent)."""
    return simulate(model, target, raw)[0]


def bench(model: IRModel, target: dict, raw: np.ndarray | None = None, repeat: int | None = None) -> dict:
    """Synthesis (ice40: place, route, timing) per stage and in total, beside the dataflow's estimates, and
    cycles per frame from a stall-free simulation of `repeat` frames (default 4)."""
    d = _design(model, target)
    frames = max(2, repeat or 4)
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(frames, *model.input_shape), dtype=np.uint8)
    if raw is not None:
        pixels[0] = _check_raw(model, raw)[0]
    _, cycles = simulate(model, target, pixels, stall=0)
    interval = float(np.diff(cycles).mean())
    ctx = _ctx(model, target, d)
    result = synth.run_synthesis(ctx, model.name, target)
    fmax = result.get("fmax_mhz")
    clock_mhz = fmax if fmax else 1e3 / float(target["clock_ns"])
    result.update({
        "model": model.name, "target": target["name"], "frames_simulated": frames,
        "cycles_per_frame": interval, "latency_cycles": int(cycles[0]),
        "fps_at_clock": clock_mhz * 1e6 / interval, "latency_us_at_clock": cycles[0] / clock_mhz,
        "clock_mhz_used": clock_mhz,
        "estimate_cycles_per_frame": d.summary.max_cycles, "estimates": synth.estimate_rows(d),
    })
    return result
