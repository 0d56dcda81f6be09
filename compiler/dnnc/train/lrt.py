"""`--method lrt`: Berger, Navon, Fetaya 2023 (arXiv 2307.01683), discrete weights and binary activations
both trained through the local reparameterization trick.

Per hidden layer: the pre-activation is Gaussian by the central limit theorem (mean and variance from
the weight distributions, as LR-nets / the distribution method), batch norm acts on that Gaussian, the
binary activation sign(a) is +1 with probability P = Phi(mu / sigma), and it is sampled with the *hard*
Gumbel estimator: the forward pass sends an exact +-1 sample to the next layer, the backward pass the
gradient of the relaxed (Gumbel-softmax, tau = 1) sample. So, unlike the distribution method (relaxed
samples forward), every layer trains on the activations it sees when deployed.

Initialization (LR-nets, the paper's starting point): from a pre-trained real net, each layer's weights
divided by their standard deviation, w, then p(0) = clip(0.95 - 0.9 |w|), p(+1 | != 0) = clip((1 + w /
(1 - p(0))) / 2), clipped to [0.05, 0.95], so E[weight] = w where no clipping applies (binary: p(+1) =
clip((1 + w) / 2)); BN parameters and output bias copied from the real net.
Layer-wise procedure: the hidden activations are binarized one layer at a time from the input side;
phase k trains with the first k hidden layers binary (hard Gumbel) and the others tanh of a Gaussian
LRT sample; the phases share --epochs evenly (the last takes the remainder), so the training budget is
the distribution method's; each runs the family's recipe (dnnc.train.loop.fit) from the previous
phase's selected state. The checkpoint is the last phase's (all binary), so it has the
distribution checkpoint's contract: export, compile and verify read it unchanged.
"""

from __future__ import annotations

import numpy as np
import torch

from dnnc.errors import DnncError
from dnnc.train import distributed as D
from dnnc.train import layers as L
from dnnc.train.api import (
    DEFAULT_EPOCHS,
    DEFAULT_PRETRAIN_EPOCHS,
    begin_run,
    load_splits,
    run_stage,
    set_threads,
    validate_options,
)
from dnnc.train.checkpoint import from_checkpoint, load_checkpoint, to_checkpoint
from dnnc.train.init import copy_bn
from dnnc.train.loop import error_rate
from dnnc.train.model import Net

WEIGHT_SETS = ("binary", "ternary")  # the weight sets of LR-nets and of the paper
P_MIN, P_MAX = 0.05, 0.95  # LR-nets' initialization bounds


def sign_probability(mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """P(sign(a) = +1) = Phi(mean / sd) for a ~ N(mean, var) (sign(0) = +1 has probability 0 here)."""
    return 0.5 * (1.0 + L.sign_moments(mean, var))


def hard_gumbel_sign(mean: torch.Tensor, var: torch.Tensor, tau: float = L.TAU) -> torch.Tensor:
    """One +-1 sample of sign(a) with P(+1) = Phi(mean / sd): the hard (straight-through) Gumbel estimator.

    Forward: +1 iff log P+ + g+ >= log P- + g- (Gumbel-max, an exact sample of the Bernoulli);
    backward: the gradient of tanh((log P+ + g+ - log P- - g-) / (2 tau)), the relaxed sample.
    """
    m = L.sign_moments(mean, var)
    logit = torch.log(1.0 + m + L.LOG_EPS) - torch.log(1.0 - m + L.LOG_EPS)
    g_pos = -torch.log(-torch.log(D.rand_like(m) + L.GUMBEL_EPS) + L.GUMBEL_EPS)
    g_neg = -torch.log(-torch.log(D.rand_like(m) + L.GUMBEL_EPS) + L.GUMBEL_EPS)
    soft = torch.tanh((logit + g_pos - g_neg) / (2.0 * tau))
    hard = L.sign(soft)
    return hard + (soft - soft.detach())


class LrtNet(Net):
    """Distribution weights (logits, as Net) with hard-Gumbel binary activations on the first
    `binary_layers` hidden layers and tanh of a Gaussian LRT sample on the rest."""

    def __init__(self, arch, input_shape, weight_set: str, binary_layers: int | None = None):
        super().__init__(arch, input_shape, weight_set, "sign")
        n_hidden = len(self.shapes) - 1
        self.binary_layers = n_hidden if binary_layers is None else binary_layers

    def hidden_activation(self, i: int) -> str:
        return "sign" if i < self.binary_layers else "tanh"

    def sign_sample(self, i: int, mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
        """Hard-Gumbel binary activation on the binarized layers, tanh of a Gaussian LRT sample on the rest."""
        if i < self.binary_layers:
            return hard_gumbel_sign(mean, var)
        return torch.tanh(L.gauss_sample(mean, var))


def lrnets_probabilities(w: np.ndarray, weight_set: str) -> np.ndarray:
    """LR-nets' initialization: probabilities (D, n) whose mean is w / std(w) (clipped to [P_MIN, P_MAX])."""
    w = np.asarray(w, np.float64).reshape(-1)
    w = w / max(float(w.std()), 1e-12)
    if weight_set == "binary":
        p_pos = np.clip(0.5 * (1.0 + w), P_MIN, P_MAX)
        return np.stack([1.0 - p_pos, p_pos])
    p_zero = np.clip(P_MAX - (P_MAX - P_MIN) * np.abs(w), P_MIN, P_MAX)
    p_pos_nz = np.clip(0.5 * (1.0 + w / (1.0 - p_zero)), P_MIN, P_MAX)
    return np.stack([(1.0 - p_zero) * (1.0 - p_pos_nz), p_zero, (1.0 - p_zero) * p_pos_nz])


@torch.no_grad()
def init_lrnets(model: LrtNet, real: Net) -> None:
    """Logits = log of LR-nets' initial probabilities from the real net's weights; BN and bias copied."""
    if real.discrete or model.arch.layers != real.arch.layers:
        raise DnncError(f"lrt starts from a real net of the same arch, not {real.weight_set} {real.arch.text!r}")
    for p, w in zip(model.params, real.params, strict=True):
        q = lrnets_probabilities(w.detach().cpu().numpy(), model.weight_set)
        p.copy_(torch.from_numpy(np.log(q).reshape(p.shape)))
    copy_bn(model, real)


def train_lrt(arch: str = "tiny-fc", weights: str = "ternary", init: str = "pretrain",
              dataset="mnist10k", epochs: int = DEFAULT_EPOCHS, pretrain_epochs: int = DEFAULT_PRETRAIN_EPOCHS,
              seed: int = 0, train_limit: int | None = None, batch_size: int = 100, layerwise: bool = True,
              progress: bool = False, snapshot_to=None, resume: dict | None = None) -> dict:
    """Train with `--method lrt` and return the checkpoint dict (the distribution checkpoint's layout).

    snapshot_to, resume: per-epoch snapshots and the continuation of a run, as train_model (every phase
    is a stage of the run; under torchrun the rules of dnnc.train.distributed)."""
    if weights not in WEIGHT_SETS:
        raise DnncError(f"--method lrt trains {' or '.join(WEIGHT_SETS)} weights, not {weights!r}")
    if init == "random":
        raise DnncError("--method lrt starts from a real net: --init pretrain or a real checkpoint PATH")
    args = {"method": "lrt", "arch": arch, "weights": weights, "init": init,
            "dataset": dataset if isinstance(dataset, str) else dataset.name, "epochs": epochs,
            "pretrain_epochs": pretrain_epochs, "seed": seed, "train_limit": train_limit,
            "batch_size": batch_size, "layerwise": layerwise}
    a, data = validate_options(arch, weights, "sign", init, dataset)
    world = D.start("cpu")
    D.check_batch(batch_size)
    set_threads()
    train, val = load_splits(data, train_limit)

    def options() -> dict:
        return {"method": "lrt", "init": init, "epochs": epochs, "pretrain_epochs": pretrain_epochs,
                "layerwise": layerwise, "train_limit": train_limit, "batch_size": batch_size, "device": "cpu",
                "world_size": world.size, "seconds": run.seconds(), "train_samples": len(train[0]),
                "numpy_version": np.__version__}

    run = begin_run(args, data.name, options, snapshot_to, resume)
    if init == "pretrain":  # the real tanh net, as `dnnc train --weights real` trains it
        torch.manual_seed(seed)
        real = run_stage(run, Net(a, data.input_shape, "real", "tanh"), pretrain_epochs, "real-tanh", seed + 2,
                         train, val, batch_size, progress)
    else:
        real_ckpt = load_checkpoint(init)
        real = from_checkpoint(real_ckpt)
        if resume is None:
            run.history.extend(real_ckpt.get("history", []))
    n_hidden = len(a.layers) - 1
    model = LrtNet(a, data.input_shape, weights, binary_layers=1 if layerwise else n_hidden)
    init_lrnets(model, real)  # a resumed run past this point restores the snapshot's model over it
    torch.manual_seed(seed)
    phases = list(range(model.binary_layers, n_hidden + 1))
    for j, k in enumerate(phases):  # --epochs in total, split evenly, the last phase takes the remainder
        model.binary_layers = k
        n = epochs - (len(phases) - 1) * (epochs // len(phases)) if k == n_hidden else epochs // len(phases)
        stage = f"lrt-{weights}-sign" if k == n_hidden else f"lrt-{weights}-binary{k}"
        run_stage(run, model, n, stage, seed + 2 + j, train, val, batch_size, progress)
    final = [h for h in run.history if h["stage"] == f"lrt-{weights}-sign"]
    best = min(final, key=lambda h: h["val_error"], default={"epoch": 0})
    val_err = D.once(lambda: error_rate(model, *val), model)
    return to_checkpoint(model, dataset=data.name, seed=seed, history=run.history,
                         best={"epoch": best["epoch"], "val_error": val_err}, options=options())
