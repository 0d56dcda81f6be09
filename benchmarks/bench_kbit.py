"""Cost of a 2-bit-activation hidden layer against the same layer with sign activations, Cortex-M4 instructions.

Why: the k-bit C kernels are bit-serial over the activation's bit planes (runtime/dnnc_kbit.h), so a hidden
layer reading 2-bit activations runs the 1-bit kernel twice; the bar is at most 2.2x the sign layer.
How: for each width n and weight set, nets with random weights and thresholds, all measured in this run on
the emulated Cortex-M4 (QEMU icount, `dnnc.backends.c.bench`):
    N(d): u8 input -> L0 (n) -> act -> d x [H (n x n) -> act] -> out (10)
for act = sign (Threshold) and act = 2-bit (MultiThreshold, levels {-1, 0, 1}, as Brevitas' W2A2 nets).
One hidden layer H with its activation costs (N(D) - N(1)) / (D - 1): a difference of nets that share every
other layer and the same kernels (a one-layer difference would also count the compiler's changed inlining of
the whole inference function); the ratio is cost(2-bit) / cost(sign).

    python benchmarks/bench_kbit.py [--widths 64,256,1024] [--weights ternary,binary] [--target T] [--json]

--target host measures median latency in ns instead (the AVX-512 output-lane kernels once per bit plane);
host times on a shared machine move between runs, so only the ratio within one run means anything.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from dnnc.backends.c import bench
from dnnc.ir.model import ArgMax, IRModel, Linear, MultiThreshold, OutputAffine, Threshold
from dnnc.passes.pipeline import run_pipeline
from dnnc.targets import load_target
from dnnc.vocabulary import WEIGHT_SETS, weight_dtype

IN = (1, 4, 4)  # a small first layer: its cost (and how the compiler schedules it) stays out of the differences


def _linear(name: str, rng, o: int, n: int, weights: str, in_dtype: str, shape) -> Linear:
    codes = WEIGHT_SETS[weights][0]
    w = rng.choice(np.array(codes, np.int8), size=(o, n))
    return Linear(name, shape, (o,), kind="dense", weight=w, weight_values=codes, weight_dtype=weight_dtype(codes),
                  in_dtype=in_dtype)


def _act(name: str, rng, n: int, kbit: bool, spread: int):
    if not kbit:
        return Threshold(name, (n,), (n,), direction=np.ones(n, np.int8),
                         threshold=rng.integers(-spread, spread, n).astype(np.int64), const=np.ones(n, np.int8))
    t = np.sort(rng.integers(-spread, spread, (n, 2)), axis=1).astype(np.int64)
    return MultiThreshold(name, (n,), (n,), direction=np.ones(n, np.int8), thresholds=t, out_bias=-1,
                          out_dtype="INT2")


def net(n: int, weights: str, kbit: bool, depth: int, seed: int = 0) -> IRModel:
    rng = np.random.default_rng(seed)
    dt = "INT2" if kbit else "BIPOLAR"
    layers = [_linear("l0", rng, n, int(np.prod(IN)), weights, "UINT8", IN), _act("a0", rng, n, kbit, 100)]
    for d in range(depth):
        layers += [_linear(f"h{d}", rng, n, n, weights, dt, (n,)), _act(f"ah{d}", rng, n, kbit, 8)]
    layers += [_linear("out", rng, 10, n, weights, dt, (n,)),
               OutputAffine("aff", (10,), (10,), scale=np.ones(10, np.float32), bias=np.zeros(10, np.float32)),
               ArgMax("argmax", (10,), ())]
    return run_pipeline(IRModel("model", IN, layers, 10))


DEPTH = 4


def measure(n: int, weights: str, target: dict) -> dict:
    raw = np.random.default_rng(1).integers(0, 256, (1, *IN), dtype=np.uint8)
    cost = {}
    def cost_of(model) -> float:
        r = bench(model, target, raw)
        return r["instructions"] if "instructions" in r else r["latency_us_median"] * 1000  # ns on hosts

    for kbit in (False, True):
        deep, base = (cost_of(net(n, weights, kbit, d)) for d in (DEPTH, 1))
        cost["2bit" if kbit else "sign"] = round((deep - base) / (DEPTH - 1))
    return {"n": n, "weights": weights, "sign_layer_instructions": cost["sign"],
            "2bit_layer_instructions": cost["2bit"], "ratio": round(cost["2bit"] / cost["sign"], 3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", default="64,256,1024")
    ap.add_argument("--weights", default="ternary,binary")
    ap.add_argument("--target", default="cortex-m4")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    target = load_target(args.target)
    for weights in args.weights.split(","):
        for n in (int(v) for v in args.widths.split(",")):
            r = measure(n, weights, target)
            print(json.dumps(r) if args.json else
                  f"{weights:8s} {n:5d}x{n:<5d} sign {r['sign_layer_instructions']:8d}  2-bit "
                  f"{r['2bit_layer_instructions']:8d}  ratio {r['ratio']:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
