"""Cost of a hidden layer with INT3/INT4 weights on the Cortex-M4: the byte path against bit-serial planes.

Why: INT3/INT4 weights have no packed kernel set; the C backend compiles them on the byte path (int8 weights and
levels, SXTB16 + SMLAD; runtime/dnnc_kbit.h). The alternative is bit-serial over weight bit planes: a B-bit
weight is w = (sum_q 2^q s_q - 1) / 2 with s_q = +-1 (the bits of w + 2^(B-1)), so the layer is B passes of the
packed binary-weight kernel per activation plane plus a combine. Its cost is at least B times the same layer
with binary weights, so `bitserial_lower_bound` = B x the measured binary layer; the byte path is the choice
wherever it is below that bound.
How: nets u8 input -> L0 (n) -> act -> d x [H (n x n) -> act] -> out (10), one hidden layer H with its
activation costs (N(D) - N(1)) / (D - 1) (as benchmarks/bench_kbit.py), all measured in this run on the
emulated Cortex-M4 (QEMU icount); act = sign (Threshold) or 2-bit (MultiThreshold, levels {-1, 0, 1}).
`flash` is the hidden layer's weight bytes: int8 (byte path) or B packed planes (n * n * B / 8).

    python benchmarks/bench_wbits.py [--widths 64,256] [--json]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from bench_kbit import DEPTH, IN, _act
from dnnc.backends.c import bench
from dnnc.ir.model import ArgMax, IRModel, Linear, OutputAffine
from dnnc.passes.pipeline import run_pipeline
from dnnc.targets import load_target
from dnnc.vocabulary import weight_dtype

SETS = {"binary": (-1, 1), "ternary": (-1, 0, 1), "int3-narrow": tuple(range(-3, 4)),
        "int3": tuple(range(-4, 4)), "int4": tuple(range(-8, 8))}
BITS = {"int3-narrow": 3, "int3": 3, "int4": 4}


def _linear(name: str, rng, o: int, n: int, codes: tuple, in_dtype: str, shape) -> Linear:
    w = rng.choice(np.array(codes, np.int8), size=(o, n))
    return Linear(name, shape, (o,), kind="dense", weight=w, weight_values=codes, weight_dtype=weight_dtype(codes),
                  in_dtype=in_dtype)


def net(n: int, codes: tuple, kbit: bool, depth: int, seed: int = 0) -> IRModel:
    rng = np.random.default_rng(seed)
    dt = "INT2" if kbit else "BIPOLAR"
    spread = 8 * max(abs(c) for c in codes)
    layers = [_linear("l0", rng, n, int(np.prod(IN)), codes, "UINT8", IN), _act("a0", rng, n, kbit, 100 * spread)]
    for d in range(depth):
        layers += [_linear(f"h{d}", rng, n, n, codes, dt, (n,)), _act(f"ah{d}", rng, n, kbit, spread)]
    layers += [_linear("out", rng, 10, n, codes, dt, (n,)),
               OutputAffine("aff", (10,), (10,), scale=np.ones(10, np.float32), bias=np.zeros(10, np.float32)),
               ArgMax("argmax", (10,), ())]
    return run_pipeline(IRModel("model", IN, layers, 10))


def layer_cost(n: int, codes: tuple, kbit: bool, target: dict, raw: np.ndarray) -> int:
    deep, base = (bench(net(n, codes, kbit, d), target, raw)["instructions"] for d in (DEPTH, 1))
    return round((deep - base) / (DEPTH - 1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", default="64,256")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    target = load_target("cortex-m4")
    raw = np.random.default_rng(1).integers(0, 256, (1, *IN), dtype=np.uint8)
    for n in (int(v) for v in args.widths.split(",")):
        for kbit in (False, True):
            cost = {name: layer_cost(n, codes, kbit, target, raw) for name, codes in SETS.items()}
            for name, b in BITS.items():
                r = {"n": n, "act": "2bit" if kbit else "sign", "weights": name, "byte_path": cost[name],
                     "bitserial_lower_bound": b * cost["binary"], "binary": cost["binary"],
                     "ternary": cost["ternary"], "flash_byte_path": n * n, "flash_planes": n * n * b // 8}
                print(json.dumps(r) if args.json else
                      f"{n:5d}x{n:<5d} act {r['act']:4s} {name:11s} byte path {r['byte_path']:8d}  bit-serial >= "
                      f"{r['bitserial_lower_bound']:8d} ({b} x binary {cost['binary']})  ternary {cost['ternary']:8d}"
                      f"  flash {n * n} B vs {n * n * b // 8} B", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
