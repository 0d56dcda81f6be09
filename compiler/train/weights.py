"""Distributions over discrete weights: values, mean/variance from logits, most probable weights.

Logits are stored with the value axis FIRST: shape (D, *weight_shape), so q[d] = softmax(logits)[d] is the
probability of value d (values in netspec.WEIGHT_SETS order, e.g. ternary [-1, 0, +1]).
The mean and variance go through a custom autograd function with the closed-form gradient

    d mu / d rho_k = q_k (v_k - mu)          d var / d rho_k = q_k ((v_k - mu)^2 - var)

which is several times faster than differentiating through the softmax (training-method.md, "Cost").
The variance uses the safe form sum_d q_d (v_d - mu)^2, never E[w^2] - mu^2.
"""

from __future__ import annotations

import numpy as np
import torch
from dnnc.errors import DnncError
from dnnc.netspec import WEIGHT_SETS

DISCRETE = tuple(WEIGHT_SETS)  # binary, ternary, quaternary, quinary
LOGIT_BOUND = 5.0  # logits clipped to [-5, 5] after every optimizer step


def codes(weight_set: str) -> tuple[int, ...]:
    if weight_set not in WEIGHT_SETS:
        raise DnncError(f"unknown weight set {weight_set!r} (choose from {', '.join(DISCRETE)})")
    return WEIGHT_SETS[weight_set][0]


def values(weight_set: str) -> np.ndarray:
    """The real weight values (float64), e.g. quaternary [-1, -1/3, 1/3, 1]."""
    c, scale = codes(weight_set), WEIGHT_SETS[weight_set][1]
    return np.asarray(c, np.float64) * scale


def _bshape(v: torch.Tensor, ndim: int) -> torch.Tensor:
    return v.reshape((-1,) + (1,) * (ndim - 1))


class WeightMoments(torch.autograd.Function):
    """(mean, variance) of the weights given logits (D, ...) and values (D,), closed-form backward."""

    @staticmethod
    def forward(ctx, logits: torch.Tensor, vals: torch.Tensor):  # type: ignore[override]
        q = torch.softmax(logits, dim=0)
        v = _bshape(vals.to(logits.dtype), logits.ndim)
        mean = (q * v).sum(0)
        diff2 = (v - mean.unsqueeze(0)).square_()
        var = (q * diff2).sum(0)
        ctx.save_for_backward(q, vals, mean, var)
        return mean, var

    @staticmethod
    def backward(ctx, g_mean: torch.Tensor, g_var: torch.Tensor):  # type: ignore[override]
        q, vals, mean, var = ctx.saved_tensors
        d = _bshape(vals.to(q.dtype), q.ndim) - mean.unsqueeze(0)  # v_k - mu
        if g_mean is None:
            g_mean = torch.zeros_like(mean)
        if g_var is None:
            g_var = torch.zeros_like(var)
        inner = g_mean.unsqueeze(0) * d + g_var.unsqueeze(0) * (d.square() - var.unsqueeze(0))
        return q * inner, None


def moments(logits: torch.Tensor, vals: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight mean and variance, each of shape logits.shape[1:]."""
    return WeightMoments.apply(logits, vals)


def most_probable_index(logits: np.ndarray | torch.Tensor) -> np.ndarray:
    """Index of the most probable value per weight; ties go to the first index (argmax semantics)."""
    arr = logits.detach().cpu().numpy() if isinstance(logits, torch.Tensor) else np.asarray(logits)
    return np.argmax(arr, axis=0)


def sample_index(logits: np.ndarray | torch.Tensor, rng: np.random.Generator) -> np.ndarray:
    """One categorical draw per weight from softmax(logits) (inverse CDF with a seeded generator)."""
    arr = logits.detach().cpu().numpy() if isinstance(logits, torch.Tensor) else np.asarray(logits)
    arr = arr.astype(np.float64)
    q = np.exp(arr - arr.max(axis=0, keepdims=True))
    cdf = np.cumsum(q / q.sum(axis=0, keepdims=True), axis=0)
    u = rng.random(arr.shape[1:])
    return np.minimum((u[None] > cdf).sum(axis=0), arr.shape[0] - 1)
