"""Reproduce the layout of Table 1 of Roth et al. 2019 on a dataset (default: the bundled 10k MNIST).

Rows: Real + Tanh, then Ternary / Quaternary / Quinary (+ Binary on request) weights + Sign; cells: test
error of the deployed network (the collapsed most-probable discrete net; for the real net its own
prediction path), mean +- std over seeds. Per seed one real tanh net is pre-trained and every discrete
net starts from it (eq. 11), as in the paper. Also prints the per-epoch time of distribution training
relative to real training (both measured in this run, same threads, same machine load).

  python benchmarks/paper_table.py --seeds 2 --pretrain-epochs 40 --epochs 20 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from dnnc.data.datasets import load_dataset
from dnnc.train.api import train_model
from dnnc.train.checkpoint import save_checkpoint
from dnnc.train.evaluation import predict_checkpoint


def _test_error(ckpt: dict, data) -> float:
    x, y = data.split("test")
    return float((predict_checkpoint(ckpt, x) != y).mean())


def _epoch_seconds(ckpt: dict, stage: str) -> list[float]:
    """Seconds of the gradient steps of each epoch (without the BN pass and validation)."""
    return [h["train_seconds"] for h in ckpt["history"] if h["stage"] == stage and h["epoch"] > 0]


def batch_cpu_seconds(arch: str, data, weight_sets: list[str], batches: int = 20, rounds: int = 3) -> dict:
    """CPU seconds per training batch (forward, backward, Adam step) of each net, measured interleaved
    in one process (process time, so the machine's load disturbs it less than wall time)."""
    import torch
    from dnnc.train.arch import parse_arch
    from dnnc.train.loop import Recipe, _optimizer, to_input
    from dnnc.train.model import Net

    x, y = (torch.from_numpy(t[: batches * 100]) for t in data.split("train"))
    nets = {}
    for w in ["real", *weight_sets]:
        net = Net(parse_arch(arch), data.input_shape, w, "tanh" if w == "real" else "sign")
        nets[w] = (net, _optimizer(net, Recipe(1)))
    cost: dict[str, list[float]] = {w: [] for w in nets}
    for _ in range(rounds):
        for w, (net, opt) in nets.items():
            c0 = time.process_time()
            for lo in range(0, len(x), 100):
                loss = torch.nn.functional.cross_entropy(net(to_input(x[lo:lo + 100])), y[lo:lo + 100])
                opt.zero_grad()
                loss.backward()
                opt.step()
                net.clip_logits()
            cost[w].append((time.process_time() - c0) / batches)
    return {w: min(v) for w, v in cost.items()}


def _cell(errs: list[float]) -> str:
    sd = statistics.stdev(errs) if len(errs) > 1 else 0.0
    return f"{100 * statistics.mean(errs):.2f} ± {100 * sd:.2f}"


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="mnist-pi")
    ap.add_argument("--dataset", default="mnist10k")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--pretrain-epochs", type=int, default=40)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--weights", default="ternary,quaternary,quinary")
    ap.add_argument("--train-limit", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    data = load_dataset(args.dataset)
    sets = [w for w in args.weights.split(",") if w]
    errors: dict[str, list[float]] = {"real": [], **{w: [] for w in sets}}
    secs: dict[str, list[float]] = {"real": [], **{w: [] for w in sets}}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(1, args.seeds + 1):
            real = train_model(arch=args.arch, weights="real", activation="tanh", dataset=data,
                               epochs=args.pretrain_epochs, seed=seed, train_limit=args.train_limit, progress=True)
            errors["real"].append(_test_error(real, data))
            secs["real"] += _epoch_seconds(real, "real-tanh")
            real_path = Path(tmp) / f"real{seed}.pt"
            save_checkpoint(real, real_path)
            for w in sets:
                ck = train_model(arch=args.arch, weights=w, activation="sign", init=str(real_path), dataset=data,
                                 epochs=args.epochs, seed=seed, train_limit=args.train_limit, progress=True)
                errors[w].append(_test_error(ck, data))
                secs[w] += _epoch_seconds(ck, f"{w}-sign")
                print(f"seed {seed} {w}: test error {100 * errors[w][-1]:.2f} %", file=sys.stderr)
    real_epoch = float(np.median(secs["real"]))
    cpu = batch_cpu_seconds(args.arch, data, sets)
    lines = [(f"Table 1 layout, {args.arch} on {data.name}: test error [%] of the deployed network, mean ± std over "
             f"{args.seeds} seeds; real net {args.pretrain_epochs} epochs, discrete nets {args.epochs} epochs "
             f"from it; median epoch time and ratio to real training"), "",
             ("| network | test error [%] | epoch [s] (wall) | epoch / real (wall) | CPU s per batch | "
             "per batch / real (CPU) |"), "|---|--:|--:|--:|--:|--:|",
             f"| Real + Tanh | {_cell(errors['real'])} | {real_epoch:.1f} | 1.0 | {cpu['real']:.3f} | 1.0 |"]
    for w in sets:
        ep = float(np.median(secs[w]))
        lines.append(f"| {w.capitalize()} + Sign | {_cell(errors[w])} | {ep:.1f} | {ep / real_epoch:.1f} | "
                     f"{cpu[w]:.3f} | {cpu[w] / cpu['real']:.1f} |")
    print("\n".join(lines))
    result = {"args": vars(args) | {"json": str(args.json) if args.json else None}, "errors": errors,
              "epoch_seconds_median": {k: float(np.median(v)) for k, v in secs.items()},
              "cpu_seconds_per_batch": cpu,
              "wall_seconds": time.perf_counter() - t0, "table": lines}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
