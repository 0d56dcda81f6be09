"""Armv6-M bit counts: instructions per row of the Thumb-1 assembly (runtime/dnnc_bitact_v6m.h) against the
portable C on the same core (-DDNNC_NO_ASM), side by side in one run.

One driver (benchmarks/thumb1_counts.c) calls dnnc_count for each row length REPS times between two SysTick
reads, built twice with the cortex-m0plus target's flags; QEMU (-icount shift=0) counts instructions, one a
nanosecond, so instructions per row = (ticks - the empty call's ticks) x 1e9 / timer_hz / REPS. Instructions,
not cycles: a Cortex-M0+ takes 2 cycles for a load and for a taken branch.
Run: `python benchmarks/bench_thumb1.py [--rows 4,8,25,38,98] [--json]`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
from dnnc.backends.c.build import compile_exe, execute, write_support
from dnnc.resources import resource_dir
from dnnc.targets import load_target

HERE = Path(__file__).resolve().parent
REPS = 200


def measure(rows: list[int]) -> list[dict]:
    per = {}
    for label, extra in (("asm", []), ("C", ["-DDNNC_NO_ASM"])):
        target = load_target("cortex-m0plus")
        target["cflags"] = [*target["cflags"], *extra]
        with tempfile.TemporaryDirectory(prefix="dnnc-thumb1-") as tmp:
            tmp = Path(tmp)
            shutil.copytree(resource_dir("runtime"), tmp / "lib" / "runtime", ignore=shutil.ignore_patterns("__*"))
            write_support(target, tmp)
            shutil.copyfile(HERE / "thumb1_counts.c", tmp / "counts.c")
            exe = compile_exe(target, tmp / "lib", tmp, ["counts.c"], "counts.elf",
                              ['-DDNNC_OUT_PATH="out.bin"', "-DDNNC_V6M_KERNELS=1", f"-DDNNC_REPS={REPS}",
                               f"-DDNNC_ROWS={','.join(map(str, rows))}"])
            execute(target, exe, tmp)
            ticks = np.fromfile(tmp / "out.bin", np.uint32).reshape(len(rows), 5).astype(np.float64)
        ns = 1e9 / target["emulator"]["timer_hz"]
        per[label] = (ticks[:, :4] - ticks[:, 4:]) * ns / REPS
    return [{"words": n, "kind": kind, "asm": float(per["asm"][i, k]), "c": float(per["C"][i, k]),
             "ratio": float(per["asm"][i, k] / per["C"][i, k])}
            for i, n in enumerate(rows) for k, kind in enumerate(("binary", "ternary", "quaternary", "quinary"))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="4,5,6,8,9,12,25,28,38,98,256", help="row lengths in 32-bit words")
    ap.add_argument("--json", action="store_true", help="print one JSON list")
    args = ap.parse_args()
    rows = measure([int(v) for v in args.rows.split(",")])
    if args.json:
        print(json.dumps(rows))
        return
    print("| words | weights | Thumb-1 asm | portable C | ratio |")
    print("|--:|---|--:|--:|--:|")
    for r in rows:
        print(f"| {r['words']} | {r['kind']} | {r['asm']:,.0f} | {r['c']:,.0f} | {r['ratio']:.2f}x |")


if __name__ == "__main__":
    main()
