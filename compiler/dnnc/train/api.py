"""train_model: the paper's recipe end to end, returning a checkpoint dict (used by `dnnc train` and tests).

Discrete weights with init 'pretrain' (the default): train the real tanh net, initialize the
distributions from it by eq. 11, then train the sign net (two_stage: first the discrete tanh net, then
the sign net from its logits and BN). init 'random' skips pre-training; init PATH starts from a
checkpoint (a real net: eq. 11; a discrete net of the same weight set: its logits and BN).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from dnnc.data.datasets import Dataset, load_dataset
from dnnc.errors import DnncError
from dnnc.train import distributed as D
from dnnc.train import init as winit
from dnnc.train.arch import check_input, parse_arch
from dnnc.train.checkpoint import from_checkpoint, load_checkpoint, to_checkpoint
from dnnc.train.loop import Recipe, error_rate, fit, reestimate_bn
from dnnc.train.model import Net
from dnnc.train.resume import Run
from dnnc.train.weights import DISCRETE

DEFAULT_EPOCHS = 40
DEFAULT_PRETRAIN_EPOCHS = 100


def set_threads() -> None:
    """One torch thread unless DNNC_THREADS says otherwise.

    Measured on the shared 2-core machine under load (~10 runnable processes): with 2 threads the
    OpenMP workers spin-wait and a training batch took 8x the wall time and 8x the CPU of 1 thread.
    """
    torch.set_num_threads(max(1, int(os.environ.get("DNNC_THREADS", "1"))))


def _device(device: str) -> str:
    if device == "cuda" and not torch.cuda.is_available():
        raise DnncError("--device cuda: CUDA is not available on this machine")
    if device not in ("cpu", "cuda"):
        raise DnncError(f"unknown device {device!r} (cpu, cuda)")
    return device


def validate_options(arch: str, weights: str, activation: str, init: str, dataset: str | Dataset):
    """Check everything that can be checked before training (so bad input fails before any work)."""
    a = parse_arch(arch)
    if weights not in ("real", *DISCRETE):
        raise DnncError(f"unknown weight set {weights!r} (real, {', '.join(DISCRETE)})")
    if activation not in ("tanh", "sign"):
        raise DnncError(f"unknown activation {activation!r} (tanh, sign)")
    if weights == "real" and activation != "tanh":
        raise DnncError("--weights real needs --activation tanh (the real pre-training net)")
    if init not in ("pretrain", "random") and not Path(init).is_file():
        raise DnncError(f"--init {init}: not 'pretrain', 'random' or an existing checkpoint file")
    data = dataset if isinstance(dataset, Dataset) else load_dataset(dataset)
    check_input(a, data.input_shape, data.classes)
    return a, data


def load_splits(data: Dataset, train_limit: int | None) -> tuple[tuple, tuple]:
    """(train, val) as (uint8 images, int64 labels) tensors; train cut to the first train_limit images."""
    x_tr, y_tr = data.split("train")
    if train_limit:
        x_tr, y_tr = x_tr[:train_limit], y_tr[:train_limit]
    return (torch.from_numpy(x_tr), torch.from_numpy(y_tr)), tuple(torch.from_numpy(t) for t in data.split("val"))


def begin_run(args: dict, dataset_name: str, options: Callable[[], dict], snapshot_to=None,
              resume: dict | None = None) -> Run:
    """The Run of a training method (dnnc.train.resume): snapshots through snapshot_to(ckpt) on rank 0 after
    every epoch, each a loadable checkpoint of the stage's model (options() plus complete = False)."""

    def save(model: Net, state: dict) -> None:
        snapshot_to(to_checkpoint(model.as_distribution_net(), dataset=dataset_name, seed=args["seed"],
                                  history=state["prior_history"] + state["stage_history"],
                                  best={"epoch": None, "val_error": state["best_error"]},
                                  options={**options(), "complete": False}, resume=state))
    return Run(args, save if snapshot_to is not None else None, resume)


def run_stage(run: Run, model: Net, n: int, name: str, seed: int, train: tuple, val: tuple, batch_size: int,
              progress: bool) -> Net:
    """One stage of n epochs (dnnc.train.loop.fit) in `run`, its records appended to run.history; a stage
    that had finished before a resumed run's snapshot is skipped (its result is in the snapshot's model)."""
    if run.skip(name):
        return model
    if n <= 0:  # no training: still give the prediction path its own BN statistics
        gen = torch.Generator().manual_seed(seed)
        D.once(lambda: reestimate_bn(model, train[0], batch_size, gen) or 0.0, model)
    else:
        run.history.extend(fit(model, train, val, Recipe(n, batch_size), seed, name, progress, run))
    return model


def train_model(arch: str = "tiny-fc", weights: str = "ternary", activation: str = "sign",
                init: str = "pretrain", dataset: str | Dataset = "mnist10k", epochs: int = DEFAULT_EPOCHS,
                pretrain_epochs: int = DEFAULT_PRETRAIN_EPOCHS, seed: int = 0, device: str = "cpu",
                two_stage: bool = False, train_limit: int | None = None, batch_size: int = 100,
                progress: bool = False, snapshot_to=None, resume: dict | None = None) -> dict:
    """Train and return the checkpoint dict (see dnnc.train.checkpoint for its layout).

    snapshot_to(ckpt): called on rank 0 after every epoch with a resumable checkpoint (dnnc.train.resume);
    resume: the `resume` section of such a checkpoint, to continue that run (see dnnc.train.resume_run.resume_model).
    """
    args = {"arch": arch, "weights": weights, "activation": activation, "init": init,
            "dataset": dataset if isinstance(dataset, str) else dataset.name, "epochs": epochs,
            "pretrain_epochs": pretrain_epochs, "seed": seed, "device": device, "two_stage": two_stage,
            "train_limit": train_limit, "batch_size": batch_size}
    a, data = validate_options(arch, weights, activation, init, dataset)
    _device(device)
    world = D.start(device)
    D.check_batch(batch_size)
    dev = world.device
    set_threads()
    train, val = load_splits(data, train_limit)
    torch.manual_seed(seed)

    def options() -> dict:
        return {"init": init, "epochs": epochs, "pretrain_epochs": pretrain_epochs, "two_stage": two_stage,
                "train_limit": train_limit, "batch_size": batch_size, "device": device,
                "world_size": world.size, "seconds": run.seconds(), "train_samples": len(train[0]),
                "numpy_version": np.__version__}

    run = begin_run(args, data.name, options, snapshot_to, resume)
    history = run.history  # the finished stages' records (a resumed run's come from its snapshot)

    def stage(model: Net, n: int, name: str, stage_seed: int) -> Net:
        return run_stage(run, model, n, name, stage_seed, train, val, batch_size, progress)

    model = Net(a, data.input_shape, weights, activation).to(dev)
    if init not in ("pretrain", "random"):
        src = from_checkpoint(load_checkpoint(init), dev)
        if src.discrete:
            winit.init_from_discrete(model, src)
        elif model.discrete:
            winit.init_from_real(model, src)
        else:
            model.load_state_dict(src.state_dict())
        if resume is None:
            history.extend(load_checkpoint(init).get("history", []))
    elif init == "random":
        winit.init_random(model, seed)
    elif model.discrete:
        real = stage(Net(a, data.input_shape, "real", "tanh").to(dev), pretrain_epochs, "pretrain", seed)
        winit.init_from_real(model, real)
    if two_stage and model.discrete and activation == "sign":
        tanh_net = Net(a, data.input_shape, weights, "tanh").to(dev)
        winit.init_from_discrete(tanh_net, model)
        stage(tanh_net, epochs, "stage1-tanh", seed + 1)
        winit.init_from_discrete(model, tanh_net)
    stage(model, epochs, f"{weights}-{activation}", seed + 2)
    val_err = D.once(lambda: error_rate(model, *val), model)
    best = min((h for h in history if h["stage"] == f"{weights}-{activation}"),
               key=lambda h: h["val_error"], default={"epoch": 0})  # first minimum = the selected state
    return to_checkpoint(model, dataset=data.name, seed=seed, history=history,
                         best={"epoch": best["epoch"], "val_error": val_err}, options=options())
