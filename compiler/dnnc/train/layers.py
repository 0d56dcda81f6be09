"""Functional building blocks of the distribution network (training-method.md b.2-b.7).

Every function takes and returns plain tensors so tests can check each against its formula or Monte
Carlo. Constants (epsilons, tau = 1) are the paper code's (ND), quoted in training-method.md.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from dnnc.train import distributed as D
from dnnc.vocabulary import same_pad

BN_EPS = 1e-8  # inside the sqrt of the batch-norm variance (ND)
POOL_EPS = 1e-8  # max-pool variance epsilon (ND)
LRT_EPS = 1e-8  # output layer Gaussian LRT
SIGN_EPS = 1e-8  # inside erf's sqrt
GUMBEL_EPS = 1e-8
LOG_EPS = 1e-6
TAU = 1.0


def linear(x: torch.Tensor, w: torch.Tensor, kind: str) -> torch.Tensor:
    """Dense (x @ w.T) or conv ('same' zero padding, cross-correlation, stride 1)."""
    if kind == "conv":
        return F.conv2d(x, w, padding=same_pad(w.shape[-1]))
    return x @ w.t()


def dist_linear(x: torch.Tensor, w_mean: torch.Tensor, w_var: torch.Tensor, kind: str):
    """CLT moments of a linear layer with a deterministic input: (sum mu_w x, sum var_w x^2).

    In the sign networks every hidden layer sees (relaxed) samples, so this is the only case (b.2).
    """
    mean = linear(x, w_mean, kind)
    var = linear(x * x, w_var, kind).clamp_min(0.0)
    return mean, var


def _norm_cdf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))


def _norm_pdf(x: torch.Tensor) -> torch.Tensor:
    return torch.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def gauss_max(m1, v1, m2, v2):
    """Moments of max(X1, X2) of independent Gaussians (Clark; eq. 6-8), without correlation term."""
    a = torch.sqrt(v1 + v2 + POOL_EPS)
    alpha = (m1 - m2) / a
    cdf, cdf_neg, pdf = _norm_cdf(alpha), _norm_cdf(-alpha), _norm_pdf(alpha)
    m = m1 * cdf + m2 * cdf_neg + a * pdf
    v = (v1 + m1 * m1) * cdf + (v2 + m2 * m2) * cdf_neg + (m1 + m2) * a * pdf - m * m + POOL_EPS
    return m, v.clamp_min(0.0)


def gauss_maxpool2(mean: torch.Tensor, var: torch.Tensor):
    """2x2 stride-2 max-pool of Gaussians: max(max(x00, x01), max(x10, x11)) (horizontal pairs first)."""
    m00, m01 = mean[..., 0::2, 0::2], mean[..., 0::2, 1::2]
    m10, m11 = mean[..., 1::2, 0::2], mean[..., 1::2, 1::2]
    v00, v01 = var[..., 0::2, 0::2], var[..., 0::2, 1::2]
    v10, v11 = var[..., 1::2, 0::2], var[..., 1::2, 1::2]
    mt, vt = gauss_max(m00, v00, m01, v01)
    mb, vb = gauss_max(m10, v10, m11, v11)
    return gauss_max(mt, vt, mb, vb)


def batch_stats(mean: torch.Tensor, var: torch.Tensor | None = None, synced: bool = False):
    """Per-channel batch mean and inverse std over (N, H, W), unbiased variance (eq. 9-10).

    synced: under torchrun, over the global batch (all ranks' shards, differentiable all-reduce) as one
    process computes it; the training forward uses that, the rank-0-only BN re-estimation must not.
    """
    dims = [0] + list(range(2, mean.ndim))
    n = mean.numel() // mean.shape[1]
    if synced and D.current().distributed:
        n = n * D.current().size
        m_b = D.batch_sum(mean.sum(dims, keepdim=True)) / n
        ss = (mean - m_b).square()
        if var is not None:
            ss = ss + var
        v_b = D.batch_sum(ss.sum(dims)) / max(n - 1, 1)
        return m_b.reshape(-1), torch.rsqrt(v_b + BN_EPS)
    m_b = mean.mean(dims, keepdim=True)
    ss = (mean - m_b).square()
    if var is not None:
        ss = ss + var
    v_b = ss.sum(dims) / max(n - 1, 1)
    return m_b.reshape(-1), torch.rsqrt(v_b + BN_EPS)


def _chan(t: torch.Tensor, ndim: int) -> torch.Tensor:
    return t.reshape((1, -1) + (1,) * (ndim - 2))


def bn_apply(mean, var, gamma, beta, mu, inv_std):
    """y = a x + b with a = gamma inv_std, b = beta - a mu; the variance scales by a^2."""
    a = _chan(gamma * inv_std, mean.ndim)
    b = _chan(beta, mean.ndim) - a * _chan(mu, mean.ndim)
    out = mean * a + b
    return out, (None if var is None else var * a * a)


def dist_bn(mean, var, gamma, beta):
    """Batch norm over distributions with batch statistics (training mode), over the global batch."""
    mu, inv = batch_stats(mean, var, synced=True)
    return bn_apply(mean, var, gamma, beta, mu, inv)


def sign_moments(mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """E[sign(a)] for a ~ N(mean, var): erf(mean / sqrt(2 var + eps)) = 2 Phi(mean / sd) - 1."""
    return torch.erf(mean / torch.sqrt(2.0 * var + SIGN_EPS))


def gumbel_sign(mean: torch.Tensor, var: torch.Tensor, noise: bool = True, tau: float = TAU):
    """Relaxed sample of sign(a) by the Gumbel-softmax LRT (b.6); without noise it equals 2 Phi - 1."""
    m = sign_moments(mean, var)
    l_neg = torch.log(1.0 - m + LOG_EPS)
    l_pos = torch.log(1.0 + m + LOG_EPS)
    if noise:
        g_pos = -torch.log(-torch.log(D.rand_like(m) + GUMBEL_EPS) + GUMBEL_EPS)
        g_neg = -torch.log(-torch.log(D.rand_like(m) + GUMBEL_EPS) + GUMBEL_EPS)
        l_pos, l_neg = l_pos + g_pos, l_neg + g_neg
    return torch.tanh((l_pos - l_neg) / (2.0 * tau))


def gauss_sample(mean: torch.Tensor, var: torch.Tensor, eps: float = LRT_EPS) -> torch.Tensor:
    """Gaussian local reparameterization: mean + sqrt(var + eps) * N(0, 1)."""
    return mean + torch.sqrt(var + eps) * D.randn_like(mean)


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Inverted dropout (NDT style): scaled by 1/(1-p) while training, identity at inference."""
    if not training or p <= 0.0:
        return x
    return x * (D.rand_like(x) >= p).to(x.dtype) / (1.0 - p)


def sign(x: torch.Tensor) -> torch.Tensor:
    """Hard sign with sign(0) = +1 (DESIGN.md)."""
    return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)
