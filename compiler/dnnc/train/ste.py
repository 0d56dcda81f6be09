"""Straight-through-estimator baselines trained with Brevitas, exported as QONNX (the paper's comparison).

BNN-style STE (Hubara et al. 2016): real latent weights clipped to [-1, 1], binary or ternary weights
through Brevitas' constant-scale (1.0) quantizers, sign activations through `SignedBinaryActPerTensorConst`
(clamp to [-1, 1] then sign: the saturating STE). Stochastic binarization (Lin et al. 2015): during
training the weights are binarized as sign(w + u), u ~ U(-1, 1), i.e. +1 with probability
hard_sigmoid(w); the gradient reaches w straight through; test time uses sign(w).

Initialization: deterministic binary uses PyTorch's default (small) init and one Adam rate. Ternary
(threshold 0.5) and stochastic binarization need the latent weights spread over [-1, 1]: they start
uniform there and learn with 10x the base rate (with the small init, ternary weights all quantize to 0
and stochastic signs are coin flips: measured 88.8 % and 78.9 % mnist-pi test error after 10 epochs).

The network takes raw pixels (float 0..255) and normalizes them in the graph by (2p - 255)/256 — powers
of two only, so dnnc folds it exactly. The output is (W x + b) / 2^k, 2^k ~ sqrt(fan_in). The result is
exported by `dnnc.interchange.brevitas_export` (Brevitas' own QONNX export, input annotated UINT8), so
`dnnc compile` reads it like any third-party QONNX file.
"""

from __future__ import annotations

import copy
import math
import os

import torch
import torch.nn.functional as F

from dnnc.errors import DnncError
from dnnc.train import distributed as D
from dnnc.train.arch import Arch, check_input, parse_arch
from dnnc.train.resume import Run, snapshot_of
from dnnc.vocabulary import conv_out_size, same_pad

METHODS = ("ste", "ste-stochastic")
SNAPSHOT_FORMAT = "dnnc-ste-snapshot"  # m.resume.pt beside m.onnx while the run is in progress
LATENT_LR_FACTOR = 10.0  # latent weights in [-1, 1] need larger steps than BN parameters to flip


ACT_BITS = (1, 2, 3, 4)
WEIGHT_BITS = {1: "binary", 2: "ternary"}  # --weight-bits B: signed narrow B-bit = these weight sets


def _quantizers(weights: str, act_bits: int = 1):
    """(weight quantizer, activation quantizer, its bit width or None) for Brevitas' Quant layers."""
    if weights not in ("binary", "ternary"):
        raise DnncError(f"--method ste trains binary or ternary weights, not {weights!r}")
    if act_bits not in ACT_BITS:
        raise DnncError(f"--act-bits {act_bits}: the STE baselines take 1 to 4 activation bits")
    from brevitas.quant import (
        SignedBinaryActPerTensorConst,
        SignedBinaryWeightPerTensorConst,
        SignedTernaryWeightPerTensorConst,
    )

    class BinaryWeight(SignedBinaryWeightPerTensorConst):
        scaling_const = 1.0

    class TernaryWeight(SignedTernaryWeightPerTensorConst):
        scaling_const = 1.0

    wq = BinaryWeight if weights == "binary" else TernaryWeight
    if act_bits == 1:
        return wq, SignedBinaryActPerTensorConst, None
    # bnn_pynq's own activation quantizer (W1A2, W2A2): signed narrow K-bit, ROUND, constant scale with
    # levels in [-1, 1]: K = 2 gives {-1, 0, 1} (a ternary activation), K = 3 gives {-3..3}/3, ...
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant

    return wq, CommonActQuant, act_bits


class SteNet(torch.nn.Module):
    """Brevitas layers for an Arch: [linear -> (pool) -> BN -> act]* -> linear + bias, scaled by 2^-k;
    act = sign (act_bits 1) or bnn_pynq's signed narrow K-bit quantizer."""

    def __init__(self, arch: Arch, input_shape: tuple[int, int, int], weights: str, act_bits: int = 1,
                 dropout: float = 0.0):
        super().__init__()
        import brevitas.nn as qnn

        wq, aq, abits = _quantizers(weights, act_bits)
        act_kw = {} if abits is None else {"bit_width": abits}
        c, h, w = input_shape
        self.body = torch.nn.ModuleList()
        fan_in = c * h * w
        for i, spec in enumerate(arch.layers):
            last = i == len(arch.layers) - 1
            if spec.kind == "conv":
                mods = [qnn.QuantConv2d(c, spec.out, spec.kernel, padding=same_pad(spec.kernel), bias=False,
                                        weight_quant=wq)]
                if spec.pool:
                    mods.append(torch.nn.MaxPool2d(spec.pool))
                    h, w = conv_out_size(h, spec.pool, spec.pool), conv_out_size(w, spec.pool, spec.pool)
                mods.append(torch.nn.BatchNorm2d(spec.out))
                c = spec.out
                fan_in = c * h * w
            else:
                mods = [torch.nn.Flatten(1)] if i == 0 or arch.layers[i - 1].kind == "conv" else []
                mods.append(qnn.QuantLinear(fan_in, spec.out, bias=last, weight_quant=wq))
                if not last:
                    mods.append(torch.nn.BatchNorm1d(spec.out))
                self.out_shift = round(math.log2(math.sqrt(fan_in)))
                fan_in = spec.out
            if not last:
                mods.append(qnn.QuantIdentity(act_quant=aq, return_quant_tensor=False, **act_kw))
            if dropout > 0:  # bnn_pynq: on the input and after every activation (training only)
                mods.insert(0, torch.nn.Dropout(dropout))
            self.body.append(torch.nn.Sequential(*mods))

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        x = raw * (1.0 / 128.0) - 255.0 / 256.0  # (2p - 255) / 256: exact powers of two
        for block in self.body:
            x = block(x)
        return x * (2.0 ** -self.out_shift)

    def latent(self) -> list[torch.nn.Parameter]:
        return [m.weight for m in self.modules() if hasattr(m, "weight_quant")]


@torch.no_grad()
def error_rate(model: SteNet, x: torch.Tensor, y: torch.Tensor, batch: int = 500) -> float:
    model.eval()
    wrong = sum(int((model(x[i:i + batch]).argmax(1) != y[i:i + batch]).sum()) for i in range(0, len(x), batch))
    return wrong / max(1, len(x))


def train_ste(arch: str = "tiny-fc", weights: str = "binary", method: str = "ste", epochs: int = 10,
              seed: int = 0, batch_size: int = 100, train_limit: int | None = None, lr: float = 1e-3,
              max_steps: int | None = None, dataset: str = "mnist10k", progress: bool = False,
              act_bits: int = 1, dropout: float = 0.0, snapshot_to=None, resume: dict | None = None) -> dict:
    """Train an STE baseline; returns {"model", "history", "best", "options"} (model: the best SteNet).

    snapshot_to(snapshot): called on rank 0 after every epoch with a resumable snapshot (SNAPSHOT_FORMAT,
    its `resume` section as dnnc.train.resume writes it); resume: such a section, to continue that run."""
    from dnnc.data.datasets import load_dataset

    args = {"method": method, "arch": arch, "weights": weights, "epochs": epochs, "seed": seed,
            "batch_size": batch_size, "train_limit": train_limit, "lr": lr, "max_steps": max_steps,
            "dataset": dataset, "act_bits": act_bits, "dropout": dropout}
    if method not in METHODS:
        raise DnncError(f"unknown STE method {method!r} ({', '.join(METHODS)})")
    if method == "ste-stochastic" and weights != "binary":
        raise DnncError("--method ste-stochastic is stochastic binarization: use --weights binary")
    _quantizers(weights, act_bits)
    a = parse_arch(arch)
    data = load_dataset(dataset)
    check_input(a, data.input_shape, data.classes)
    torch.set_num_threads(int(os.environ.get("DNNC_THREADS", min(2, os.cpu_count() or 1))))
    world = D.start("cpu")  # under torchrun: dnnc.train.distributed's rules (BN statistics stay per shard)
    D.check_batch(batch_size)
    torch.manual_seed(seed)
    if not 0.0 <= dropout < 1.0:
        raise DnncError(f"--dropout {dropout}: must be in [0, 1)")
    model = SteNet(a, data.input_shape, weights, act_bits, dropout)
    gen0 = torch.Generator().manual_seed(seed)
    x_tr, y_tr = (torch.from_numpy(t) for t in data.split("train"))
    if train_limit:
        x_tr, y_tr = x_tr[:train_limit], y_tr[:train_limit]
    x_tr = x_tr.float()
    x_va, y_va = (torch.from_numpy(t) for t in data.split("val"))
    x_va = x_va.float()
    unit = weights == "ternary" or method == "ste-stochastic"
    if unit:  # latent weights spread over the clip range: ternary threshold 0.5, hard_sigmoid probabilities
        with torch.no_grad():
            for w in model.latent():
                w.uniform_(-1.0, 1.0, generator=gen0)
    latent = {id(w) for w in model.latent()}
    opt = torch.optim.Adam([{"params": model.latent(), "lr": (LATENT_LR_FACTOR if unit else 1.0) * lr},
                            {"params": [p for p in model.parameters() if id(p) not in latent], "lr": lr}])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, epochs))
    gen = torch.Generator().manual_seed(seed)
    history, best, best_state, steps, first = [], {"epoch": 0, "val_error": 1.0}, None, 0, 1
    run = Run(args, (lambda _, state: snapshot_to({"format": SNAPSHOT_FORMAT, "resume": state}))
              if snapshot_to is not None else None, resume)
    restored = run.restore(method, model, opt, sched, gen)
    if restored is not None:  # a snapshot is taken after epoch >= 1, so best_state is set
        first, best_err, best_state, history = restored
        best = {"epoch": max(h["epoch"] for h in history if h["val_error"] == best_err), "val_error": best_err}
        steps = history[-1]["steps"]
    from tqdm import tqdm

    net = D.wrap(model)
    bar = tqdm(range(first, epochs + 1), desc=f"{method} {weights}", disable=not progress or not world.main,
               file=None)
    for epoch in bar:
        model.train()
        for idx in D.batches(len(x_tr), batch_size, gen):
            saved = None
            if method == "ste-stochastic":  # sign(w + U(-1,1)) = +1 with probability hard_sigmoid(w)
                saved = [w.detach().clone() for w in model.latent()]
                with torch.no_grad():
                    for w in model.latent():
                        w.add_(torch.rand(w.shape, generator=gen) * 2 - 1)
            loss = F.cross_entropy(net(x_tr[idx]), y_tr[idx])
            opt.zero_grad()
            loss.backward()
            with torch.no_grad():
                for w, s in zip(model.latent(), saved or []):
                    w.copy_(s)
            opt.step()
            with torch.no_grad():
                for w in model.latent():
                    w.clamp_(-1.0, 1.0)  # BNN: clip the latent weights
            steps += 1
            if max_steps and steps >= max_steps:
                break
        sched.step()
        err = D.once(lambda: error_rate(model, x_va, y_va), model)  # rank 0's BN buffers go to all
        history.append({"stage": method, "epoch": epoch, "loss": D.total(loss.item())[0] / world.size,
                        "val_error": err, "world_size": world.size, "steps": steps})
        if err <= best["val_error"]:  # the last minimum (a resumed run finds it again from the history)
            best, best_state = {"epoch": epoch, "val_error": err}, copy.deepcopy(model.state_dict())
        if world.main:
            run.epoch_done(method, epoch, model, opt, sched, gen, best["val_error"], best_state, history)
        if max_steps and steps >= max_steps:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return {"model": model, "history": history, "best": best, "arch": a.text, "dataset": data.name,
            "input_shape": data.input_shape, "options": {
                "method": method, "weights": weights, "act_bits": act_bits, "dropout": dropout, "epochs": epochs, "seed": seed,
                "batch_size": batch_size, "train_limit": train_limit, "lr": lr, "steps": steps,
                "world_size": world.size, "seconds": run.seconds()}}


def load_snapshot(path) -> dict:
    """The resume section of an interrupted STE run's snapshot file; anything else is a one-line error."""
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise DnncError(f"{path}: no snapshot of an interrupted run (an STE run keeps one beside its .onnx "
                        "output until it completes)")
    try:
        snap = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - every decoding failure means "not our snapshot"
        raise DnncError(f"{path}: not a readable dnnc snapshot ({type(exc).__name__})") from None
    if not isinstance(snap, dict) or snap.get("format") != SNAPSHOT_FORMAT:
        raise DnncError(f"{path}: not a dnnc STE snapshot (no '{SNAPSHOT_FORMAT}' marker)")
    state = snapshot_of(snap, str(path))
    if state["args"].get("method") not in METHODS:
        raise DnncError(f"{path}: the snapshot's method is not an STE baseline")
    return state


def test_error(model: SteNet, dataset: str = "mnist10k") -> float:
    from dnnc.data.datasets import load_dataset

    x, y = (torch.from_numpy(t) for t in load_dataset(dataset).split("test"))
    return error_rate(model, x.float(), y)
