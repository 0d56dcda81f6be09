"""Microcontroller cores side by side: instructions per inference on QEMU (-icount shift=0, exact counts), flash
and RAM, for the mnist-pi and mnist-cnn presets (ternary, binary), beside CMSIS-NN int8 on the same core.

The networks are bench_c.py's (random discrete weights of the preset's shape, input = the first bundled test
digit). CMSIS-NN int8 counts are the measured anchors of ../shared/reference/performance-anchors.md ("The same
networks on other Cortex-M cores": MLP 784-1200-1200-10 for mnist-pi, the same-padded CNN for mnist-cnn, which
is the padding dnnc's preset implements); they were measured on the same QEMU boards and CPU models as the
targets here (cortex-m0plus runs QEMU's cortex-m0 model, as the anchor did). Ratio = dnnc / CMSIS-NN.
QEMU counts every Cortex-M55 loop-end `le`, which the hardware mostly skips (for dnnc and CMSIS-NN alike).
With --vs-c, each core also runs the same library built with -DDNNC_NO_ASM (the runtime's portable C instead of
its assembly kernels: Armv7E-M/Armv8-M DSP, Armv6-M), a row "CORE (C)" beside it. With --vs-mve, each core
with Helium (`mve = true`) also runs without it, a row "CORE (no MVE)": the target with `mve = false` and
`first_dense = "lut"`, i.e. the Cortex-M4 kernels on the same core, and a row "CORE (MVE SWAR)": the Helium
kernels with per-byte SWAR bit counts instead of the table gather (-DDNNC_MVE_SWAR).
Run: `python benchmarks/bench_cores.py [--cores a,b] [--weights ternary,binary] [--presets mnist-pi,mnist-cnn]
[--vs-c] [--vs-mve] [--json]`.
"""

from __future__ import annotations

import argparse
import json

from bench_c import random_net
from dnnc.backends.c import bench
from dnnc.data.bundled import mnist10k
from dnnc.frontend import from_net
from dnnc.targets import load_target

CORES = ("cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55", "riscv32",
         "riscv32-zbb")
# CMSIS-NN int8 instructions per inference (performance-anchors.md): {core: (MLP, CNN same padding)}.
CMSIS_NN = {
    "cortex-m0plus": (14_591_159, 81_769_367),
    "cortex-m3": (8_068_317, 36_015_741),
    "cortex-m4": (4_606_519, 24_038_901),
    "cortex-m7": (4_607_090, 24_104_963),
    "cortex-m33": (4_607_156, 24_046_315),
    "cortex-m55": (1_153_433, 3_860_445),
}


def _targets(core: str, vs_c: bool, vs_mve: bool = False) -> list[tuple[str, dict]]:
    target = load_target(core)
    out = [(core, target)]
    if vs_c:
        plain = load_target(core)
        plain["cflags"] = [*plain["cflags"], "-DDNNC_NO_ASM"]
        out.append((f"{core} (C)", plain))
    if vs_mve and target["mve"]:
        scalar = load_target(core)
        scalar.update(mve=False, first_dense="lut")
        swar = load_target(core)
        swar["cflags"] = [*swar["cflags"], "-DDNNC_MVE_SWAR"]
        out += [(f"{core} (no MVE)", scalar), (f"{core} (MVE SWAR)", swar)]
    return out


def measure(cores: list[str], presets: list[str], weights: list[str], vs_c: bool = False,
            vs_mve: bool = False) -> list[dict]:
    raw = mnist10k("test")[0][:1]
    rows = []
    for preset in presets:
        for ws in weights:
            ir = from_net(random_net(preset, ws), "model").ir
            for core, target in (t for c in cores for t in _targets(c, vs_c, vs_mve)):
                r = bench(ir, target, raw)
                anchor = CMSIS_NN.get(core.split(" ")[0], (None, None))[preset == "mnist-cnn"]
                rows.append({"core": core, "preset": preset, "weights": ws, "instructions": r["instructions"],
                             "text_bytes": r["text_bytes"], "const_bytes": r["const_bytes"],
                             "ram_bytes": r["ram_bytes"], "cmsis_nn_int8": anchor,
                             "ratio": r["instructions"] / anchor if anchor else None})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", default=",".join(CORES), help="comma-separated target names")
    ap.add_argument("--presets", default="mnist-pi,mnist-cnn", help="comma-separated presets")
    ap.add_argument("--weights", default="ternary,binary", help="comma-separated weight sets")
    ap.add_argument("--vs-c", action="store_true", help="also each core with the portable C kernels (DNNC_NO_ASM)")
    ap.add_argument("--vs-mve", action="store_true", help="also each Helium core without MVE, and with SWAR counts")
    ap.add_argument("--json", action="store_true", help="print one JSON list")
    args = ap.parse_args()
    rows = measure(args.cores.split(","), args.presets.split(","), args.weights.split(","), args.vs_c, args.vs_mve)
    if args.json:
        print(json.dumps(rows))
        return
    print("| core | preset | weights | dnnc instructions | flash (text) | RAM (data+bss) | CMSIS-NN int8 | ratio |")
    print("|---|---|---|--:|--:|--:|--:|--:|")
    for r in rows:
        anchor = f"{r['cmsis_nn_int8']:,} | {r['ratio']:.2f}x" if r["cmsis_nn_int8"] else "- | -"
        print(f"| {r['core']} | {r['preset']} | {r['weights']} | {r['instructions']:,} | {r['text_bytes']:,} | "
              f"{r['ram_bytes']:,} | {anchor} |")


if __name__ == "__main__":
    main()
