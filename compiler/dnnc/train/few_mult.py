"""`--method few-mult`: Lin, Courbariaux, Memisevic, Bengio 2015, "Neural Networks with Few Multiplications".

Real latent weights w in [-1, 1] (clipped after every step). Forward pass: each weight stochastically
binarized, +1 with probability (w + 1) / 2 (ternarized: sign(w) with probability |w|, else 0), so the
forward products are sign changes; the gradient reaches w straight through the sampling. Backward pass
("quantized back propagation"): the weight gradient of every layer is computed with the layer's input
rounded to a power of two, sign(x) 2^clip(round(log2 |x|), E_MIN, E_MAX) (0 stays 0), so the remaining
multiplications are shifts; the input gradient uses the same sampled weights (sign changes).
Inference: deterministic weights, the most probable value of the stochastic rule (binary: +1 iff w > 0;
ternary: sign(w) iff |w| > 1/2; equal float64 probabilities go to the first value, as argmax), written to the checkpoint as logits log p of that rule, so `dnnc
evaluate --collapse sample` draws exactly the training-time distribution and export / compile / verify
read the checkpoint unchanged.

Deployment needs sign activations (the paper's nets had real ReLU units): hidden layers are
linear -> (max-pool) -> batch norm -> sign, the sign trained straight through where |a| <= 1 (BinaryNet,
the same group's next paper). With +-1 hidden inputs their power-of-two rounding is exact; it changes the
first layer's weight gradient (pixels in [-1, 1]).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from dnnc.errors import DnncError
from dnnc.train import distributed as D
from dnnc.train import layers as L
from dnnc.train.api import DEFAULT_EPOCHS, begin_run, load_splits, run_stage, set_threads, validate_options
from dnnc.train.checkpoint import to_checkpoint
from dnnc.train.init import copy_bn
from dnnc.train.loop import Recipe, error_rate
from dnnc.train.model import Net
from dnnc.vocabulary import same_pad

WEIGHT_SETS = ("binary", "ternary")
E_MIN, E_MAX = -7, 0  # exponent range of the power-of-two inputs: 3 bits (inputs lie in [-1, 1])
P_FLOOR = 1e-6  # smallest probability written as a logit (log 0 is not a finite logit)


def pow2_quantize(x: torch.Tensor) -> torch.Tensor:
    """sign(x) 2^clip(round(log2|x|), E_MIN, E_MAX); exact zeros stay zero."""
    exp = torch.round(torch.log2(x.abs().clamp_min(2.0 ** (E_MIN - 1)))).clamp(E_MIN, E_MAX)
    return torch.where(x == 0, torch.zeros_like(x), torch.sign(x) * torch.exp2(exp))


class QuantizedBackprop(torch.autograd.Function):
    """y = x (*) w_b (dense or 'same' conv); dy/dx with w_b; dy/dw_b with pow2_quantize(x)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, w_b: torch.Tensor, kind: str):  # type: ignore[override]
        ctx.save_for_backward(x, w_b)
        ctx.kind = kind
        return L.linear(x, w_b, kind)

    @staticmethod
    def backward(ctx, g: torch.Tensor):  # type: ignore[override]
        x, w_b = ctx.saved_tensors
        xq = pow2_quantize(x)
        if ctx.kind == "conv":
            pad = same_pad(w_b.shape[-1])
            gx = torch.nn.grad.conv2d_input(x.shape, w_b, g, padding=pad)
            gw = torch.nn.grad.conv2d_weight(xq, w_b.shape, g, padding=pad)
        else:
            gx, gw = g @ w_b, g.t() @ xq
        return gx, gw, None


def probabilities(w: torch.Tensor, weight_set: str) -> torch.Tensor:
    """(D, *w.shape) probabilities of the stochastic rule, values in vocabulary order ([-1, (0,) 1])."""
    w = w.clamp(-1.0, 1.0)
    if weight_set == "binary":
        p_pos = (w + 1.0) / 2.0
        return torch.stack([1.0 - p_pos, p_pos])
    return torch.stack([(-w).clamp_min(0.0), 1.0 - w.abs(), w.clamp_min(0.0)])


def stochastic_weights(w: torch.Tensor, weight_set: str) -> torch.Tensor:
    """One sample of the stochastic rule; the gradient passes straight through to w."""
    u = torch.rand_like(w)
    if weight_set == "binary":
        sample = torch.where(u < (w + 1.0) / 2.0, 1.0, -1.0)
    else:
        sample = torch.sign(w) * (u < w.abs()).to(w.dtype)
    return sample + (w - w.detach())  # exactly the sample forward, gradient 1 to w


class SignSte(torch.autograd.Function):
    """sign(a) (sign(0) = +1) forward, gradient 1 where |a| <= 1 (the saturating straight-through)."""

    @staticmethod
    def forward(ctx, a: torch.Tensor):  # type: ignore[override]
        ctx.save_for_backward(a)
        return L.sign(a)

    @staticmethod
    def backward(ctx, g: torch.Tensor):  # type: ignore[override]
        (a,) = ctx.saved_tensors
        return g * (a.abs() <= 1.0).to(g.dtype)


class FewMultNet(Net):
    """Latent real weights in [-1, 1] in `params`; batch norm, bias and prediction path from Net."""

    def __init__(self, arch, input_shape, weight_set: str, quantized_backprop: bool = True):
        super().__init__(arch, input_shape, weight_set, "sign")
        self.quantized_backprop = quantized_backprop  # False: exact weight gradients (for comparison)
        self.params = torch.nn.ParameterList(
            torch.nn.Parameter(torch.empty(shape).uniform_(-1.0, 1.0)) for shape in self.shapes)
        self.dropout = tuple(0.0 for _ in self.dropout)  # the stochastic weights are the regularizer

    def export_logits(self, i: int) -> torch.Tensor:
        """Logits (D, *shape) = log p of the stochastic rule (floored at P_FLOOR)."""
        p = probabilities(self.params[i].detach().double(), self.weight_set)
        return torch.log(p.clamp_min(P_FLOOR)).float()

    def map_weights(self) -> list[torch.Tensor]:
        """Deterministic weights: argmax of the exported logits (what the checkpoint collapses to)."""
        return [self.vals[self.export_logits(i).argmax(0)] for i in range(len(self.params))]

    def clip_logits(self) -> None:
        with torch.no_grad():
            for p in self.params:
                p.clamp_(-1.0, 1.0)

    def param_groups(self, recipe: Recipe) -> list[dict]:
        return [{"params": list(self.params), "lr": recipe.lr_logits},
                {"params": [*self.gamma, *self.beta, self.bias], "lr": recipe.lr_other}]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n_hidden = len(self.shapes) - 1
        for i, spec in enumerate(self.arch.layers):
            if spec.kind == "dense":
                x = x.flatten(1)
            w_b = stochastic_weights(self.params[i], self.weight_set)
            a = QuantizedBackprop.apply(x, w_b, spec.kind) if self.quantized_backprop else L.linear(x, w_b, spec.kind)
            if i == n_hidden:
                return (a + self.bias) * self.out_scale
            a = F.max_pool2d(a, 2) if spec.pool else a
            a, _ = L.dist_bn(a, None, self.gamma[i], self.beta[i])
            x = SignSte.apply(a)
        raise AssertionError("unreachable")

    @torch.no_grad()
    def as_distribution_net(self) -> Net:
        """The plain Net whose logits are export_logits (for to_checkpoint)."""
        net = Net(self.arch, self.input_shape, self.weight_set, "sign")
        for i, p in enumerate(net.params):
            p.copy_(self.export_logits(i))
        copy_bn(net, self)
        net.dropout = self.dropout
        return net


def train_few_mult(arch: str = "tiny-fc", weights: str = "binary", dataset="mnist10k",
                   epochs: int = DEFAULT_EPOCHS, seed: int = 0, train_limit: int | None = None,
                   batch_size: int = 100, quantized_backprop: bool = True, progress: bool = False,
                   snapshot_to=None, resume: dict | None = None) -> dict:
    """Train with `--method few-mult` from scratch (as the paper) and return the checkpoint dict.

    snapshot_to, resume: per-epoch snapshots and the continuation of a run, as train_model (under
    torchrun the rules of dnnc.train.distributed; the stochastic weights are per-parameter noise)."""
    if weights not in WEIGHT_SETS:
        raise DnncError(f"--method few-mult trains {' or '.join(WEIGHT_SETS)} weights, not {weights!r}")
    args = {"method": "few-mult", "arch": arch, "weights": weights,
            "dataset": dataset if isinstance(dataset, str) else dataset.name, "epochs": epochs, "seed": seed,
            "train_limit": train_limit, "batch_size": batch_size, "quantized_backprop": quantized_backprop}
    a, data = validate_options(arch, weights, "sign", "random", dataset)
    world = D.start("cpu")
    D.check_batch(batch_size)
    set_threads()
    train, val = load_splits(data, train_limit)

    def options() -> dict:
        return {"method": "few-mult", "init": "random", "epochs": epochs, "train_limit": train_limit,
                "batch_size": batch_size, "device": "cpu", "world_size": world.size,
                "exponent_range": [E_MIN, E_MAX], "quantized_backprop": quantized_backprop,
                "seconds": run.seconds(), "train_samples": len(train[0]), "numpy_version": np.__version__}

    run = begin_run(args, data.name, options, snapshot_to, resume)
    torch.manual_seed(seed)
    model = FewMultNet(a, data.input_shape, weights, quantized_backprop)
    run_stage(run, model, epochs, f"few-mult-{weights}-sign", seed + 2, train, val, batch_size, progress)
    best = min(run.history, key=lambda h: h["val_error"], default={"epoch": 0})
    net = model.as_distribution_net()
    val_err = D.once(lambda: error_rate(net, *val), net)
    return to_checkpoint(net, dataset=data.name, seed=seed, history=run.history,
                         best={"epoch": best["epoch"], "val_error": val_err}, options=options())
