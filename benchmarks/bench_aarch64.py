"""AArch64 (target host-aarch64): instructions per inference under qemu-aarch64 user mode, the NEON output-lane
kernels beside the plain layout (lanes = 0, the compiler's own vectorization) of the same cross-compiled build.

QEMU user mode has no cycle model, so instructions (-singlestep -d nochain,exec, counted per inference as the
difference of 3 and 1 timed calls / 2) are the measure here; wall time under emulation is not.
Networks: bench_c.py's mnist-pi and mnist-cnn with random discrete weights, input = the first bundled test digit.
Run: `python benchmarks/bench_aarch64.py [--weights ternary,binary] [--presets mnist-pi,mnist-cnn] [--json]`.
"""

from __future__ import annotations

import argparse
import json

from bench_c import random_net
from dnnc.backends.c import bench
from dnnc.data.bundled import mnist10k
from dnnc.frontend import from_net
from dnnc.targets import load_target


def measure(preset: str, weight_set: str) -> dict:
    loaded = from_net(random_net(preset, weight_set), "model")
    raw = mnist10k("test")[0][:1]
    neon = load_target("host-aarch64")
    plain = {**neon, "lanes": 0}
    n, p = bench(loaded.ir, neon, raw), bench(loaded.ir, plain, raw)
    return {"preset": preset, "weights": weight_set, "macs": n["macs"], "neon_instructions": n["instructions"],
            "plain_instructions": p["instructions"], "ratio": p["instructions"] / n["instructions"],
            "neon_text_bytes": n["text_bytes"], "plain_text_bytes": p["text_bytes"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="ternary,binary", help="comma-separated weight sets")
    ap.add_argument("--presets", default="mnist-pi,mnist-cnn", help="comma-separated presets")
    ap.add_argument("--json", action="store_true", help="print one JSON list")
    args = ap.parse_args()
    rows = [measure(p, w) for p in args.presets.split(",") for w in args.weights.split(",")]
    if args.json:
        print(json.dumps(rows))
        return
    print("| preset | weights | MACs | NEON lanes instructions | plain layout instructions | plain / NEON |")
    print("|---|---|--:|--:|--:|--:|")
    for r in rows:
        print(f"| {r['preset']} | {r['weights']} | {r['macs']:,} | {r['neon_instructions']:,} | "
              f"{r['plain_instructions']:,} | {r['ratio']:.2f}x |")


if __name__ == "__main__":
    main()
