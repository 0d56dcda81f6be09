"""`dnnc bench MODEL --target T`: measured cost per inference of the generated C.

Bare-metal targets (cortex-m4, ...): instructions per inference on the emulator (deterministic)
and the library's sizes. host: latency of the generated C and of onnxruntime (fp32 deployment ONNX, one
thread) side by side in one run.
"""

from __future__ import annotations

import json
import time

import click
import numpy as np

from dnnc.backends import backend_for
from dnnc.commands.options import MAX_REPEAT
from dnnc.frontend import load_model
from dnnc.targets import TARGET_HELP, load_target


def onnxruntime_latency_us(proto, raw: np.ndarray, repeat: int) -> dict:
    """Median and minimum latency of onnxruntime on one input (batch 1, one thread, default optimizations)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    sess = ort.InferenceSession(proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    feed = {"input": raw[:1]}
    for _ in range(20):
        sess.run(["class"], feed)
    ns = []
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        sess.run(["class"], feed)
        ns.append(time.perf_counter_ns() - t0)
    return {"onnxruntime_us_median": float(np.median(ns)) / 1e3, "onnxruntime_us_min": float(np.min(ns)) / 1e3}


def onnxruntime_input(loaded, raw: np.ndarray) -> np.ndarray:
    """What the model's ONNX file takes for the raw bytes the C library is timed on."""
    if loaded.ir.byte_codes is not None:  # the deployment ONNX takes x = map(p)
        from dnnc.ir.input_map import parse_input_map

        return parse_input_map(loaded.ir.input_map).apply(raw)
    return raw.astype(np.float32) if loaded.ir.float_input else raw


def run_bench(model: str, target: str, repeat: int | None = None, input_map: str | None = None) -> dict:
    cfg = load_target(target)
    loaded = load_model(model, input_map=input_map)
    shape = tuple(loaded.ir.input_shape)
    if shape == (1, 28, 28):
        from dnnc.data.bundled import mnist10k

        raw = mnist10k("test")[0][:1]
    else:
        raw = np.random.default_rng(0).integers(0, 256, size=(1, *shape), dtype=np.uint8)
    result = backend_for(cfg).bench(loaded.ir, cfg, raw, repeat)
    if "latency_us_median" in result:  # a hosted target: time onnxruntime beside it
        result.update(onnxruntime_latency_us(loaded.onnx, onnxruntime_input(loaded, raw), result["repeat"]))
        result["speedup_vs_onnxruntime"] = result["onnxruntime_us_median"] / max(result["latency_us_median"], 1e-9)
    return result


def _fpga_lines(r: dict) -> str:
    """An rtl target's bench: synthesized size per stage and in total, cycles, frames/s at the clock."""
    lines = [(f"{r['model']} on {r['target']} ({r['part']}): {r['cycles_per_frame']:.0f} cycles/frame simulated "
             f"(FINN estimate {r['estimate_cycles_per_frame']}), latency {r['latency_cycles']} cycles; "
             f"{r['fps_at_clock']:,.0f} frames/s, {r['latency_us_at_clock']:.1f} us at {r['clock_mhz_used']:.1f} MHz")]
    if r["flow"] == "generic":
        for key in ("generic", "xilinx"):
            t = r[key]["total"]
            lines.append(f"  yosys {key}: LUT {t['lut']}, FF {t['ff']}, BRAM {t['bram']}, DSP {t['dsp']}")
        lines.append("  stage: xilinx LUT / FF (FINN-R or approx LUT estimate)")
        for x, est in zip(r["xilinx"]["stages"], r["estimates"]):
            lines.append(f"    {x['name']}: {x.get('lut', '-')} / {x.get('ff', '-')} ({est['lut']} {est['model']})")
    else:
        p = r["pnr"]
        lines.append(f"  nextpnr: LC {p.get('lc')}/{p.get('lc_avail')}, BRAM {p.get('bram')}/{p.get('bram_avail')}, "
                     f"SPRAM {p.get('spram')}/{p.get('spram_avail')}, DSP {p.get('dsp')}/{p.get('dsp_avail')}, "
                     f"IO {p.get('io')}/{p.get('io_avail')}; Fmax {r['fmax_mhz']} MHz (target {r['target_mhz']:.1f}),"
                     f" icetime {r.get('icetime_mhz')} MHz")
    return "\n".join(lines)


@click.command("bench")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--target", "-t", required=True,
              help=TARGET_HELP + " Bare metal: instructions on the emulator; host: latency.")
@click.option("--repeat", type=click.IntRange(1, MAX_REPEAT), default=None,
              help="Inferences measured (default: 3 on the emulator, 2000 on the host).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--input-map", default=None, metavar="MAP",
              help="Float-input graphs: how raw bytes p map to the input, e.g. 'p/255' or '(p-128)/128'; adds "
                   "the uint8 entry point <name>_infer_u8, its table proven on all 256 values.")
def bench(model: str, target: str, repeat: int | None, as_json: bool, input_map: str | None) -> None:
    """Measure the generated C's cost per inference on TARGET (the byte entry point with --input-map)."""
    r = run_bench(model, target, repeat, input_map)
    if as_json:
        click.echo(json.dumps(r, sort_keys=True))
        return
    if "flow" in r:
        click.echo(_fpga_lines(r))
        return
    line = f"{r['model']} on {r['target']}:"
    if "instructions" in r:
        line += f" {r['instructions']:,} instructions/inference"
    if "latency_us_median" in r:
        line += (f" {r['latency_us_median']:.2f} us/inference (median of {r['repeat']}), onnxruntime "
                 f"{r['onnxruntime_us_median']:.2f} us ({r['speedup_vs_onnxruntime']:.1f}x)")
    line += (f"; text {r['text_bytes']:,} B, data {r['data_bytes']:,} B, bss {r['bss_bytes']:,} B"
             f" (arena {r['arena_bytes']:,} B)")
    click.echo(line)
