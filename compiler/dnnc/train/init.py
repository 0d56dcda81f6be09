"""Initialization of weight distributions (eq. 11 of the paper, training-method.md b.8).

From a pre-trained real net: stretch each layer's weights through its empirical CDF, separately for
w <= 0 -> ECDF_neg(w) S - S and w > 0 -> ECDF_pos(w) S (S = largest |value| + half the value spacing),
then set piecewise-linear probabilities with q_max = 0.95 around the stretched value; logits = log q.
Hence every discrete value is about equally often the most probable and signs are preserved.
Random init (no pre-trained net): w ~ N(0, 1) straight into the piecewise-linear step (ND's Theano code).
"""

from __future__ import annotations

import numpy as np
import torch

from dnnc.errors import DnncError
from dnnc.train.model import Net

Q_MAX = 0.95


def _ecdf(w: np.ndarray) -> np.ndarray:
    """ECDF at each element: np.unique counts, cumsum / n (the smallest maps to 1/n, ties share)."""
    if w.size == 0:
        return w.astype(np.float64)
    _uniq, inverse, counts = np.unique(w, return_inverse=True, return_counts=True)
    return (np.cumsum(counts, dtype=np.float64) / w.size)[inverse]


def stretch(w: np.ndarray, vals: np.ndarray) -> np.ndarray:
    """The empirical-CDF stretch of eq. 11 onto [-S, S]."""
    spacing = float(np.min(np.diff(vals)))
    s = float(np.max(np.abs(vals))) + 0.5 * spacing
    w = np.asarray(w, np.float64).reshape(-1)
    out = np.empty_like(w)
    neg = w <= 0
    out[neg] = _ecdf(w[neg]) * s - s
    out[~neg] = _ecdf(w[~neg]) * s
    return out


def probabilities(w_tilde: np.ndarray, vals: np.ndarray, q_max: float = Q_MAX) -> np.ndarray:
    """Piecewise-linear probabilities (D, n) from values w_tilde (n,): ND's initialize_from_expectation."""
    d = len(vals)
    q_min = (1.0 - q_max) / (d - 1)
    w_tilde = np.asarray(w_tilde, np.float64).reshape(-1)
    q = np.full((d, w_tilde.size), q_min)
    k = np.clip(np.searchsorted(vals, w_tilde, side="right") - 1, 0, d - 2)  # v_k <= w < v_k+1
    lo, hi = vals[k], vals[k + 1]
    t = np.clip(w_tilde, vals[0], vals[-1]) - lo
    s = (q_max - q_min) / (hi - lo)
    cols = np.arange(w_tilde.size)
    q[k, cols] = q_max - s * t
    q[k + 1, cols] = q_min + s * t
    return q


def logits_from_real(w: np.ndarray, vals: np.ndarray) -> np.ndarray:
    """Eq. 11: logits (D, *w.shape) from real weights w."""
    q = probabilities(stretch(w, vals), vals)
    return np.log(q).reshape((len(vals), *np.shape(w)))


@torch.no_grad()
def init_from_real(model: Net, real: Net) -> None:
    """Initialize a discrete model from a real one: logits by eq. 11, BN and output bias copied."""
    if not model.discrete or real.discrete or model.arch.layers != real.arch.layers:
        raise DnncError(f"cannot initialize {model.weight_set} {model.arch.text!r} from "
                        f"{real.weight_set} {real.arch.text!r}: needs a real net of the same arch")
    vals = model.vals.double().cpu().numpy()
    for i, p in enumerate(real.params):
        model.params[i].copy_(torch.from_numpy(logits_from_real(p.detach().cpu().numpy(), vals)))
    copy_bn(model, real)


@torch.no_grad()
def init_from_discrete(model: Net, other: Net) -> None:
    """Copy logits and BN (two-stage: the tanh net's distributions start the sign net)."""
    if other.weight_set != model.weight_set or model.arch.layers != other.arch.layers:
        raise DnncError(f"cannot initialize {model.weight_set} {model.arch.text!r} from "
                        f"{other.weight_set} {other.arch.text!r}")
    for p, q in zip(model.params, other.params, strict=True):
        p.copy_(q)
    copy_bn(model, other)


def copy_bn(model: Net, src: Net) -> None:
    for i in range(len(model.gamma)):
        model.gamma[i].copy_(src.gamma[i])
        model.beta[i].copy_(src.beta[i])
        for dst, s in zip(model.running(i), src.running(i), strict=True):
            dst.copy_(s)
    model.bias.copy_(src.bias)


@torch.no_grad()
def init_random(model: Net, seed: int) -> None:
    """Random init: w ~ N(0, 1) into the piecewise-linear probabilities; BN identity, bias 0."""
    if not model.discrete:
        return
    rng = np.random.default_rng(seed)
    vals = model.vals.double().cpu().numpy()
    for p in model.params:
        w = rng.standard_normal(p.shape[1:])
        p.copy_(torch.from_numpy(np.log(probabilities(w, vals)).reshape(p.shape)))
