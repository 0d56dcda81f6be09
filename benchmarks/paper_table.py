"""The family's comparison table on one dataset split (default: the bundled 10k MNIST, 7000/1000/2000):
every training method and weight set, test error of the deployed network and training cost relative to
the real net, written as Markdown and as a PNG (matplotlib, Agg backend: no display needed).

Rows: Real + Tanh; distribution (Roth et al. 2019) ternary / quaternary / quinary; lrt (Berger et al.
2023) binary / ternary; few-mult (Lin et al. 2015) binary / ternary; Brevitas STE baselines ste binary /
ternary and ste-stochastic binary (needs the `interop` extra; --methods leaves them out). Per seed one
real tanh net is pre-trained and distribution and lrt start from it, as in their papers; few-mult and
the STE baselines train from scratch. Test error: the collapsed most-probable discrete net of a
checkpoint (for the real net its own prediction path; for STE the Brevitas model, whose deployed QONNX
import has the same error, docs/interop.md), mean +- std over seeds.
Cost: CPU seconds per training batch (forward, backward, optimizer step) of every row's network,
measured interleaved in one process with process time (best of 3 rounds of 20 batches), times the
batches of an epoch; the ratio to the real net's is the stable figure. The median wall time of an
epoch's gradient steps from the training histories is printed beside it (it swings with machine load).

  nice python benchmarks/paper_table.py --seeds 1 --pretrain-epochs 15 --epochs 4 --out-dir table/
"""

from __future__ import annotations

import argparse
import json
import math
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

ROWS = {  # method -> weight sets (the ones each paper trains)
    "distribution": ("ternary", "quaternary", "quinary"),
    "lrt": ("binary", "ternary"),
    "few-mult": ("binary", "ternary"),
    "ste": ("binary", "ternary"),
    "ste-stochastic": ("binary",),
}
LABEL = {"real": "Real + Tanh", "distribution": "distribution (Roth 2019)", "lrt": "lrt (Berger 2023)",
         "few-mult": "few-mult (Lin 2015)", "ste": "STE (Brevitas)", "ste-stochastic": "STE stochastic"}


def _test_error(ckpt: dict, data) -> float:
    x, y = data.split("test")
    return float((predict_checkpoint(ckpt, x) != y).mean())


def _epoch_seconds(history: list[dict], stages: tuple[str, ...]) -> list[float]:
    """Seconds of the gradient steps of each epoch (without the BN pass and validation)."""
    return [h["train_seconds"] for h in history if h["stage"] in stages and h["epoch"] > 0]


def train_row(method: str, weights: str, args, data, real_path: Path, seed: int) -> tuple[float, list[float]]:
    """(test error, wall seconds of each epoch's gradient steps) of one trained row."""
    kw = {"dataset": data, "seed": seed, "train_limit": args.train_limit, "progress": True}
    if method == "distribution":
        ck = train_model(arch=args.arch, weights=weights, init=str(real_path), epochs=args.epochs, **kw)
        return _test_error(ck, data), _epoch_seconds(ck["history"], (f"{weights}-sign",))
    if method == "lrt":
        from dnnc.train.lrt import train_lrt

        ck = train_lrt(arch=args.arch, weights=weights, init=str(real_path), epochs=args.epochs, **kw)
        stages = tuple({h["stage"] for h in ck["history"] if h["stage"].startswith("lrt-")})
        return _test_error(ck, data), _epoch_seconds(ck["history"], stages)
    if method == "few-mult":
        from dnnc.train.few_mult import train_few_mult

        ck = train_few_mult(arch=args.arch, weights=weights, epochs=args.epochs, **kw)
        return _test_error(ck, data), _epoch_seconds(ck["history"], (f"few-mult-{weights}-sign",))
    from dnnc.train.ste import test_error, train_ste

    res = train_ste(arch=args.arch, weights=weights, method=method, epochs=args.epochs, seed=seed,
                    train_limit=args.train_limit, dataset=args.dataset, progress=True)
    per_epoch = res["options"]["seconds"] / max(1, len(res["history"]))  # STE history has no per-epoch time
    return test_error(res["model"], args.dataset), [per_epoch]


def _row_net(method: str, weights: str, arch, shape):
    """(network, optimizer, input transform) of a row, as its training builds them."""
    import torch
    from dnnc.train.loop import Recipe, _optimizer, to_input

    if method in ("real", "distribution", "lrt", "few-mult"):
        from dnnc.train.few_mult import FewMultNet
        from dnnc.train.lrt import LrtNet
        from dnnc.train.model import Net

        if method == "real":
            net = Net(arch, shape, "real", "tanh")
        else:
            net = {"distribution": lambda: Net(arch, shape, weights, "sign"), "lrt": lambda: LrtNet(arch, shape, weights),
                   "few-mult": lambda: FewMultNet(arch, shape, weights)}[method]()
        return net, _optimizer(net, Recipe(1)), to_input, net.clip_logits
    from dnnc.train.ste import SteNet

    net = SteNet(arch, shape, weights)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def clip():
        with torch.no_grad():
            for w in net.latent():
                w.clamp_(-1.0, 1.0)
    return net, opt, lambda raw: raw.float(), clip


def batch_cpu_seconds(arch_text: str, data, rows: list[tuple[str, str]], batches: int = 20, rounds: int = 3) -> dict:
    """CPU seconds per training batch of each row's network, measured interleaved (best of `rounds`)."""
    import torch
    from dnnc.train.api import set_threads
    from dnnc.train.arch import parse_arch

    set_threads()
    arch = parse_arch(arch_text)
    x, y = (torch.from_numpy(t[: batches * 100]) for t in data.split("train"))
    nets = {row: _row_net(*row, arch, data.input_shape) for row in rows}
    cost: dict[tuple[str, str], list[float]] = {row: [] for row in rows}
    for _ in range(rounds):
        for row, (net, opt, prep, clip) in nets.items():
            net.train()
            c0 = time.process_time()
            for lo in range(0, len(x), 100):
                loss = torch.nn.functional.cross_entropy(net(prep(x[lo:lo + 100])), y[lo:lo + 100])
                opt.zero_grad()
                loss.backward()
                opt.step()
                clip()
            cost[row].append((time.process_time() - c0) / batches)
    return {row: min(v) for row, v in cost.items()}


def _cell(errs: list[float]) -> str:
    sd = statistics.stdev(errs) if len(errs) > 1 else 0.0
    return f"{100 * statistics.mean(errs):.2f} ± {100 * sd:.2f}"


def write_png(path: Path, rows: list[tuple[str, str]], errors: dict, cpu_ratio: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [LABEL[m] if m == "real" else f"{LABEL[m]}\n{w}" for m, w in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 0.5 * len(rows) + 1.5), sharey=True)
    y = np.arange(len(rows))
    means = [100 * statistics.mean(errors[r]) for r in rows]
    sds = [100 * statistics.stdev(errors[r]) if len(errors[r]) > 1 else 0.0 for r in rows]
    ax1.barh(y, means, xerr=sds, color="tab:blue")
    ax1.set_yticks(y, names, fontsize=8)
    ax1.invert_yaxis()
    ax1.set_xlabel("test error of the deployed network [%]")
    ax2.barh(y, [cpu_ratio[r] for r in rows], color="tab:orange")
    ax2.axvline(1.0, color="k", lw=0.8)
    ax2.set_xlabel("CPU time per epoch / real net")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="mnist-pi")
    ap.add_argument("--dataset", default="mnist10k")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--pretrain-epochs", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--methods", default=",".join(ROWS), help=f"comma-separated subset of {', '.join(ROWS)}")
    ap.add_argument("--train-limit", type=int, default=None)
    ap.add_argument("--out-dir", type=Path, default=Path("paper_table"))
    args = ap.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    unknown = [m for m in methods if m not in ROWS]
    if unknown:
        ap.error(f"unknown method {unknown[0]!r} ({', '.join(ROWS)})")
    data = load_dataset(args.dataset)
    rows = [("real", "real")] + [(m, w) for m in methods for w in ROWS[m]]
    errors: dict = {r: [] for r in rows}
    secs: dict = {r: [] for r in rows}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(1, args.seeds + 1):
            real = train_model(arch=args.arch, weights="real", activation="tanh", dataset=data,
                               epochs=args.pretrain_epochs, seed=seed, train_limit=args.train_limit, progress=True)
            errors[rows[0]].append(_test_error(real, data))
            secs[rows[0]] += _epoch_seconds(real["history"], ("real-tanh",))
            real_path = Path(tmp) / f"real{seed}.pt"
            save_checkpoint(real, real_path)
            for row in rows[1:]:
                err, s = train_row(*row, args, data, real_path, seed)
                errors[row].append(err)
                secs[row] += s
                print(f"seed {seed} {row[0]} {row[1]}: test error {100 * err:.2f} %", file=sys.stderr)
    cpu = batch_cpu_seconds(args.arch, data, rows)
    n_train = len(data.split("train")[1]) if args.train_limit is None else min(args.train_limit,
                                                                                len(data.split("train")[1]))
    per_epoch = {r: cpu[r] * math.ceil(n_train / 100) for r in rows}
    ratio = {r: per_epoch[r] / per_epoch[rows[0]] for r in rows}
    real_wall = float(np.median(secs[rows[0]]))
    lines = [(f"{args.arch} on {data.name} ({n_train} training images): test error [%] of the deployed network, "
             f"mean ± std over {args.seeds} seed(s); real net {args.pretrain_epochs} epochs, every other row "
             f"{args.epochs} epochs (distribution and lrt from the real net)"), "",
             "| method | weights | test error [%] | CPU s / epoch | CPU / real | wall s / epoch | wall / real |",
             "|---|---|--:|--:|--:|--:|--:|"]
    for r in rows:
        wall = float(np.median(secs[r]))
        lines.append(f"| {LABEL[r[0]]} | {r[1]} | {_cell(errors[r])} | {per_epoch[r]:.3g} | {ratio[r]:.1f} | "
                     f"{wall:.3g} | {wall / real_wall:.1f} |")
    table = "\n".join(lines)
    print(table)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "paper_table.md").write_text(table + "\n")
    write_png(args.out_dir / "paper_table.png", rows, errors, ratio)
    result = {"args": {k: str(v) for k, v in vars(args).items()}, "rows": [list(r) for r in rows],
              "errors": [errors[r] for r in rows], "cpu_seconds_per_batch": [cpu[r] for r in rows],
              "cpu_ratio": [ratio[r] for r in rows], "wall_seconds": time.perf_counter() - t0, "table": lines}
    (args.out_dir / "paper_table.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
