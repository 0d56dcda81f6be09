"""Distributions over discrete weights: values, mean/variance from logits, most probable weights.

Logits are stored with the value axis FIRST: shape (D, *weight_shape), so q[d] = softmax(logits)[d] is the
probability of value d (values in vocabulary.WEIGHT_SETS order, e.g. ternary [-1, 0, +1]).
The mean and variance go through a custom autograd function with the closed-form gradient

    d mu / d rho_k = q_k (v_k - mu)          d var / d rho_k = q_k ((v_k - mu)^2 - var)

which is several times faster than differentiating through the softmax (training-method.md, "Cost").
The variance uses the safe form sum_d q_d (v_d - mu)^2, never E[w^2] - mu^2.
"""

from __future__ import annotations

import numpy as np
import torch

from dnnc.vocabulary import WEIGHT_SETS, weight_codes, weight_scale

DISCRETE = tuple(WEIGHT_SETS)  # binary, ternary, quaternary, quinary
LOGIT_BOUND = 5.0  # logits clipped to [-5, 5] after every optimizer step


def values(weight_set: str) -> np.ndarray:
    """The real weight values (float64), e.g. quaternary [-1, -1/3, 1/3, 1]."""
    return np.asarray(weight_codes(weight_set), np.float64) * weight_scale(weight_set)


def _bshape(v: torch.Tensor, ndim: int) -> torch.Tensor:
    return v.reshape((-1,) + (1,) * (ndim - 1))


class WeightMoments(torch.autograd.Function):
    """(mean, variance) of the weights given logits (D, ...) and values (D,), closed-form backward.

    Written as few passes over the (large) weight tensors as eager torch allows: the elementwise work
    on the weights, not the matrix products, dominates the cost of distribution training on a CPU.
    """

    @staticmethod
    def forward(ctx, logits: torch.Tensor, vals: torch.Tensor):  # type: ignore[override]
        q = torch.softmax(logits, dim=0)
        v = vals.to(logits.dtype)
        mean = torch.tensordot(v, q, dims=1)
        diff = _bshape(v, logits.ndim) - mean.unsqueeze(0)  # v_d - mu, kept for the backward pass
        var = torch.zeros_like(mean)
        for d in range(q.shape[0]):
            var.addcmul_(q[d], diff[d].square())
        ctx.save_for_backward(q, diff, var)
        return mean, var

    @staticmethod
    def backward(ctx, g_mean: torch.Tensor, g_var: torch.Tensor):  # type: ignore[override]
        q, diff, var = ctx.saved_tensors
        if g_mean is None:
            g_mean = torch.zeros_like(var)
        if g_var is None:
            g_var = torch.zeros_like(var)
        g_var_var = g_var * var
        grad = torch.empty_like(q)
        for k in range(q.shape[0]):  # q_k [g_mu d_k + g_var (d_k^2 - var)] = q_k [d_k (g_mu + g_var d_k) - g_var var]
            t = torch.addcmul(g_mean, g_var, diff[k])
            t.mul_(diff[k]).sub_(g_var_var)
            torch.mul(t, q[k], out=grad[k])
        return grad, None


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
