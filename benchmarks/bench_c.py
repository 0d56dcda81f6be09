"""C backend benchmark: instructions per inference on the emulated Cortex-M4 and Cortex-M7, flash/RAM, host latency
vs onnxruntime.

Networks are the mnist-pi (784-1200-1200-10) and mnist-cnn (32C5-P2-64C5-P2-FC512-FC10, 'same' convs) presets
with random discrete weights and batch norms, input = the first bundled test digit. Dense layers are
branch-free, so an untrained network of the right shape costs exactly what a trained one does; pooled conv
layers on the Cortex-M4 stop counting a window as soon as one pixel reaches the channel's threshold (exact), so
their cost depends on weights and data (the first 8 test digits span 3.61-3.66 M instructions for ternary
mnist-cnn); the host's output-lane kernels count every pixel, so host time does not depend on the data.
Run: `python benchmarks/bench_c.py [--weights ternary,binary,quaternary,quinary] [--digits N] [--json]`;
`--march native,x86-64-v3` times one host build per -march in the same run (the output-lane kernels the compiler
enables for each: AVX-512 on this machine's native build, AVX2 for x86-64-v3 with its convs in pixel lanes;
`x86-64-v3:outputs` the same with the convs in output lanes, `x86-64-v3:plain` the plain layout), one onnxruntime
time beside them;
`--host-only` skips the emulated cores; `--model FILE` adds a row for an ONNX/QONNX file (host builds only, e.g. Brevitas
CNV from `benchmarks/bnn_pynq.py`);
`--digits N` adds the range of Cortex-M4 counts over the first N test digits (the data dependence of pooled
convs); `--export DIR` writes the benchmark networks as ONNX files instead. `python benchmarks/bench_c.py --export DIR`
writes the four networks as DIR/<preset>_<weights>.onnx instead, for `dnnc bench FILE --target T`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from dnnc.backends.c import bench
from dnnc.commands.bench import onnxruntime_input, onnxruntime_latency_us
from dnnc.data.bundled import mnist10k
from dnnc.frontend import export_onnx, from_net, load_model
from dnnc.interchange.export import save_onnx
from dnnc.netspec import BatchNorm, DiscreteNet, LinearLayer
from dnnc.targets import load_target
from dnnc.train.arch import parse_arch
from dnnc.vocabulary import WEIGHT_SETS


def random_net(preset: str, weight_set: str, seed: int = 0) -> DiscreteNet:
    """A DiscreteNet of the preset's shape with random weight codes and batch norms."""
    rng = np.random.default_rng(seed)
    codes = np.array(WEIGHT_SETS[weight_set][0], np.int8)
    shape: tuple[int, ...] = (1, 28, 28)
    hidden = []
    arch = parse_arch(preset)
    for spec in arch.layers[:-1]:
        if spec.kind == "conv":
            w = rng.choice(codes, size=(spec.out, shape[0], spec.kernel, spec.kernel)).astype(np.int8)
            layer = LinearLayer("conv", w, weight_set, padding=spec.kernel // 2, pool=spec.pool)
            div = 2 if spec.pool else 1
            shape = (spec.out, shape[1] // div, shape[2] // div)
        else:
            w = rng.choice(codes, size=(spec.out, int(np.prod(shape)))).astype(np.int8)
            layer = LinearLayer("dense", w, weight_set)
            shape = (spec.out,)
        n = spec.out
        layer.bn = BatchNorm(gamma=rng.uniform(0.5, 1.5, n), beta=rng.normal(0, 0.1, n), mean=rng.normal(0, 1, n),
                             inv_std=np.full(n, 0.1))
        hidden.append(layer)
    fan, k = int(np.prod(shape)), arch.layers[-1].out
    out = LinearLayer("dense", rng.choice(codes, size=(k, fan)).astype(np.int8), weight_set,
                      bias=rng.normal(0, 0.1, k), out_scale=1 / np.sqrt(fan + 1))
    return DiscreteNet((1, 28, 28), hidden, out, arch=arch.text)


def host_target(march: str) -> dict:
    """The host target built with -march=MARCH; MARCH:plain forces the plain layout (lanes = 0), MARCH:outputs keeps
    conv layers in output lanes (pixel_lanes = "off"), to compare."""
    target = load_target("host")
    march, _, layout = march.partition(":")
    target["cpu_flags"] = [f"-march={march}"]
    if layout == "plain":
        target["lanes"] = 0
    elif layout == "outputs":
        target["pixel_lanes"] = "off"
    elif layout:
        raise SystemExit(f"--march {march}:{layout}: the layout is 'plain' or 'outputs'")
    return target


def measure(preset: str, weight_set: str, host_repeat: int = 2000, digits: int = 0, marches=("native",),
            host_only: bool = False, model: Path | None = None) -> dict:
    """One row; `model` (a file) instead of the preset's random network: host builds only, a random input."""
    if model is not None:
        loaded = load_model(str(model))
        raw = np.random.default_rng(0).integers(0, 256, size=(1, *loaded.ir.input_shape), dtype=np.uint8)
        host_only = True
    else:
        loaded = from_net(random_net(preset, weight_set), "model")
        raw = mnist10k("test")[0][:1]
    row = {"preset": preset, "weights": weight_set}
    if not host_only:
        m4 = bench(loaded.ir, load_target("cortex-m4"), raw)
        m7 = bench(loaded.ir, load_target("cortex-m7"), raw)
        row.update(macs=m4["macs"], m4_instructions=m4["instructions"], m7_instructions=m7["instructions"],
                   m7_text_bytes=m7["text_bytes"], m4_text_bytes=m4["text_bytes"], m4_ram_bytes=m4["ram_bytes"],
                   const_bytes=m4["const_bytes"])
    host = {m: bench(loaded.ir, host_target(m), raw, host_repeat)["latency_us_median"] for m in marches}
    ort = onnxruntime_latency_us(loaded.onnx, onnxruntime_input(loaded, raw), host_repeat)
    row.update(host_us=host[marches[0]], **ort, speedup=ort["onnxruntime_us_median"] / host[marches[0]],
               host_us_by_march=host, speedup_by_march={m: ort["onnxruntime_us_median"] / t for m, t in host.items()})
    if digits and not host_only:
        row["m4_digit_range"] = m4_range(loaded.ir, digits)
    return row


def m4_range(ir, digits: int) -> tuple[int, int]:
    """Smallest and largest Cortex-M4 count over the first `digits` test digits."""
    images = mnist10k("test")[0][:digits]
    counts = [bench(ir, load_target("cortex-m4"), images[i:i + 1])["instructions"] for i in range(digits)]
    return min(counts), max(counts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="ternary,binary", help="comma-separated weight sets")
    ap.add_argument("--digits", type=int, default=0, help="Cortex-M4 count range over the first N test digits")
    ap.add_argument("--export", type=Path, help="write the networks as ONNX files into this folder and stop")
    ap.add_argument("--json", action="store_true", help="print one JSON list")
    ap.add_argument("--march", default="native", help="comma-separated -march values, one host build each")
    ap.add_argument("--host-only", action="store_true", help="only the host builds and onnxruntime")
    ap.add_argument("--model", type=Path, action="append", default=[],
                    help="also time this ONNX/QONNX file (host builds only; repeatable)")
    args = ap.parse_args()
    cases = [(p, w) for p in ("mnist-pi", "mnist-cnn") for w in args.weights.split(",")]
    if args.export:
        args.export.mkdir(parents=True, exist_ok=True)
        for p, w in cases:
            name = f"{p.replace('-', '_')}_{w}"
            save_onnx(export_onnx(random_net(p, w), name), args.export / f"{name}.onnx")
            print(args.export / f"{name}.onnx")
        return
    marches = tuple(args.march.split(","))
    rows = [measure(p, w, digits=args.digits, marches=marches, host_only=args.host_only) for p, w in cases]
    rows += [measure(m.stem, "file", marches=marches, model=m) for m in args.model]
    args.host_only = args.host_only or bool(args.model)
    if args.json:
        print(json.dumps(rows))
        return
    host_cols = "".join(f"| host µs -march={m} | speedup -march={m} " for m in marches)
    host_rule = "--:|--:|" * len(marches)
    if args.host_only:
        print(f"| preset | weights {host_cols}| onnxruntime µs |")
        print("|---|---|" + host_rule + "--:|")
        for r in rows:
            cells = "".join(f"| {r['host_us_by_march'][m]:.1f} | {r['speedup_by_march'][m]:.1f}x " for m in marches)
            print(f"| {r['preset']} | {r['weights']} {cells}| {r['onnxruntime_us_median']:.1f} |")
        return
    extra = f" | Cortex-M4, first {args.digits} digits" if args.digits else ""
    print("| preset | weights | MACs | Cortex-M4 instructions | Cortex-M7 instructions | flash (text, M4) | RAM (arena) "
          f"{host_cols}| onnxruntime µs{extra} |")
    print("|---|---|--:|--:|--:|--:|--:|" + host_rule + "--:|" + ("--:|" if args.digits else ""))
    for r in rows:
        rng = f" {r['m4_digit_range'][0]:,} - {r['m4_digit_range'][1]:,} |" if args.digits else ""
        cells = "".join(f"| {r['host_us_by_march'][m]:.1f} | {r['speedup_by_march'][m]:.1f}x " for m in marches)
        print(f"| {r['preset']} | {r['weights']} | {r['macs']:,} | {r['m4_instructions']:,} | {r['m7_instructions']:,} | "
              f"{r['m4_text_bytes']:,} | {r['m4_ram_bytes']:,} {cells}| {r['onnxruntime_us_median']:.1f} |{rng}")

if __name__ == "__main__":
    main()
