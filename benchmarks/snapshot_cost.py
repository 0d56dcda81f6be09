"""Cost of `dnnc train`'s per-epoch resumable snapshot beside the epoch it follows, measured in one run.

Trains one epoch of the distribution method (fit, 7000 bundled training images) with snapshots on and
prints the snapshot's size, its write time and the ratio to the epoch's time (training + BN pass +
validation).

  DNNC_THREADS=1 nice python benchmarks/snapshot_cost.py --arch mnist-pi --weights ternary
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch


def main(argv: list[str] | None = None) -> int:
    from dnnc.data.bundled import mnist10k
    from dnnc.train.api import set_threads
    from dnnc.train.arch import parse_arch
    from dnnc.train.checkpoint import save_checkpoint, to_checkpoint
    from dnnc.train.loop import Recipe, fit
    from dnnc.train.model import Net
    from dnnc.train.resume import Run

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="mnist-pi")
    ap.add_argument("--weights", default="ternary")
    args = ap.parse_args(argv)
    set_threads()
    train = tuple(torch.from_numpy(t) for t in mnist10k("train"))
    val = tuple(torch.from_numpy(t) for t in mnist10k("val"))
    model = Net(parse_arch(args.arch), (1, 28, 28), args.weights, "sign")
    writes: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.pt"

        def save(m, state) -> None:
            t0 = time.perf_counter()
            save_checkpoint(to_checkpoint(m, resume=state), path)
            writes.append(time.perf_counter() - t0)

        hist = fit(model, train, val, Recipe(1), 0, "bench", progress=False, run=Run({}, save))
        size = os.path.getsize(path)
    epoch = hist[-1]["seconds"]  # training + BN pass + validation; the snapshot is written after it
    print(f"{args.arch} {args.weights}: snapshot {size / 1e6:.1f} MB, write {writes[0]:.2f} s, "
          f"epoch {epoch:.2f} s, write / epoch = {writes[0] / epoch:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
