"""The optimization recipe (training-method.md b.9) for one stage of training.

Adam with two learning rates (logits 1e-2, everything else 1e-3), loss = mean cross-entropy + 1e-10 *
sum of squared logits, logits clipped to [-5, 5] after every step; after every epoch one pass over the
shuffled training set re-estimates the batch-norm running statistics on the prediction path (MAP
weights, hard sign), then the validation error of that deterministic net drives the plateau schedule
(halve the learning rates; patience 10, cooldown 50) and model selection (best validation error).
"""

from __future__ import annotations

import copy
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from dnnc.train import distributed as D
from dnnc.train.model import Net
from dnnc.train.resume import Run

LOGIT_L2 = 1e-10


@dataclass
class Recipe:
    epochs: int
    batch_size: int = 100
    lr_logits: float = 1e-2
    lr_other: float = 1e-3
    lr_real: float = 1e-3  # the real pre-training net's weights
    weight_decay_real: float = 1e-4  # L2 of the real pre-training net's weights
    patience: int = 10
    cooldown: int = 50
    factor: float = 0.5


def to_input(raw: np.ndarray | torch.Tensor, device: str = "cpu") -> torch.Tensor:
    """uint8 images -> float32 x = (2p - 255)/255 (the checkpoint's recorded normalization)."""
    t = torch.as_tensor(raw).to(device)
    return (t.to(torch.float32) * 2.0 - 255.0) / 255.0


@torch.no_grad()
def reestimate_bn(model: Net, x_raw: torch.Tensor, batch_size: int, gen: torch.Generator | None) -> None:
    """One pass of prediction-path batch statistics into the running EMAs (alpha = 0.1)."""
    weights = model.map_weights()
    order = torch.randperm(len(x_raw), generator=gen) if gen is not None else torch.arange(len(x_raw))
    for lo in range(0, len(x_raw), batch_size):
        idx = order[lo:lo + batch_size]
        model.predict(to_input(x_raw[idx], _device(model)), update_bn=True, weights=weights)


@torch.no_grad()
def error_rate(model: Net, x_raw: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    """Error of the deterministic prediction path (MAP weights, running BN, sign(0) = +1)."""
    wrong, weights = 0, model.map_weights()
    for lo in range(0, len(x_raw), batch_size):
        logits = model.predict(to_input(x_raw[lo:lo + batch_size], _device(model)), weights=weights)
        wrong += int((logits.argmax(1).cpu() != y[lo:lo + batch_size]).sum())
    return wrong / max(len(x_raw), 1)


def _device(model: Net) -> str:
    return str(model.bias.device)


def _optimizer(model: Net, recipe: Recipe) -> torch.optim.Optimizer:
    if hasattr(model, "param_groups"):  # a method with its own learning rates (train/few_mult.py)
        return torch.optim.Adam(model.param_groups(recipe), betas=(0.9, 0.999), eps=1e-8, fused=True)
    others = [*model.gamma, *model.beta, model.bias]
    if model.discrete:
        # weight_decay 2e-10 on the logits == the loss term 1e-10 * sum(rho^2), added in the fused step
        groups = [{"params": list(model.params), "lr": recipe.lr_logits, "weight_decay": 2 * LOGIT_L2},
                  {"params": others, "lr": recipe.lr_other}]
    else:
        groups = [{"params": list(model.params), "lr": recipe.lr_real,
                   "weight_decay": recipe.weight_decay_real},
                  {"params": others, "lr": recipe.lr_other}]
    return torch.optim.Adam(groups, betas=(0.9, 0.999), eps=1e-8, fused=True)


def fit(model: Net, train: tuple, val: tuple, recipe: Recipe, seed: int, stage: str,
        progress: bool = True, run: Run | None = None) -> list[dict]:
    """Train `model` in place for recipe.epochs; leave it at the best-validation epoch; return history.

    train, val: (uint8 images tensor, int64 labels tensor). run: snapshots after every epoch and the
    state of a resumed run (dnnc.train.resume); under torchrun the rules of dnnc.train.distributed.
    """
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    (x_tr, y_tr), (x_va, y_va) = train, val
    opt = _optimizer(model, recipe)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=recipe.factor,
                                                       patience=recipe.patience, cooldown=recipe.cooldown)
    dev = _device(model)
    D.check_batch(recipe.batch_size)
    net = D.wrap(model)

    def evaluate() -> float:  # after-epoch BN pass and validation: once, on rank 0, then broadcast
        model.eval()

        def on_main() -> float:
            reestimate_bn(model, x_tr, recipe.batch_size, gen)
            return error_rate(model, x_va, y_va)
        return D.once(on_main, model, gen)

    restored = run.restore(stage, model, opt, sched, gen) if run is not None else None
    if restored is not None:
        first, best_err, best_state, history = restored
    else:  # epoch 0: the initialization itself (BN statistics of its prediction path), also a candidate
        first, history = 1, []
        best_err = evaluate()
        best_state = copy.deepcopy(model.state_dict())
        history.append({"stage": stage, "epoch": 0, "loss": None, "val_error": best_err,
                        "lr": opt.param_groups[0]["lr"], "seconds": 0.0, "train_seconds": 0.0})
    bar = tqdm(range(first, recipe.epochs + 1), desc=stage, unit="epoch", file=sys.stderr,
               disable=not progress or not D.current().main, leave=False)
    for epoch in bar:
        t0 = time.perf_counter()
        model.train()
        total, count = 0.0, 0
        for idx in D.batches(len(x_tr), recipe.batch_size, gen):
            logits = net(to_input(x_tr[idx], dev))
            loss = F.cross_entropy(logits, y_tr[idx].to(dev))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            model.clip_logits()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        total, count = D.total(total, count)
        t_train = time.perf_counter() - t0
        val_err = evaluate()
        sched.step(val_err)
        if val_err < best_err:
            best_err, best_state = val_err, copy.deepcopy(model.state_dict())
        rec = {"stage": stage, "epoch": epoch, "loss": total / max(count, 1), "val_error": val_err,
               "lr": opt.param_groups[0]["lr"], "seconds": time.perf_counter() - t0, "train_seconds": t_train,
               "world_size": D.current().size}
        history.append(rec)
        bar.set_postfix(loss=f"{rec['loss']:.4f}", val_err=f"{val_err:.4f}", best=f"{best_err:.4f}")
        if run is not None and D.current().main:
            run.epoch_done(stage, epoch, model, opt, sched, gen, best_err, best_state, history)
    bar.close()
    model.load_state_dict(best_state)
    model.eval()
    return history
