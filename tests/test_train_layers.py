"""Distribution layers against their definitions: exact enumeration, autograd and Monte Carlo."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from dnnc.train import layers as L
from dnnc.train.weights import moments, most_probable_index, sample_index, values
from dnnc.vocabulary import WEIGHT_SETS


@pytest.mark.parametrize("weight_set", list(WEIGHT_SETS))
def test_values_are_codes_times_scale(weight_set):
    codes, scale = WEIGHT_SETS[weight_set]
    assert np.array_equal(values(weight_set), np.array(codes) * scale)


@pytest.mark.parametrize("weight_set", list(WEIGHT_SETS))
def test_moments_match_enumeration_and_autograd(weight_set):
    vals = torch.tensor(values(weight_set), dtype=torch.float64)
    d = len(vals)
    logits = (torch.randn(d, 4, 5, dtype=torch.float64) * 2).requires_grad_()
    mean, var = moments(logits, vals)
    # independent reference: E[w] and E[w^2] - E[w]^2 by plain enumeration, differentiated by autograd
    ref_logits = logits.detach().clone().requires_grad_()
    q = torch.exp(ref_logits) / torch.exp(ref_logits).sum(0)
    ref_mean = sum(q[k] * float(vals[k]) for k in range(d))
    ref_var = sum(q[k] * float(vals[k]) ** 2 for k in range(d)) - ref_mean**2
    assert torch.allclose(mean, ref_mean, atol=1e-12) and torch.allclose(var, ref_var, atol=1e-12)
    g1, g2 = torch.randn(4, 5, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64)
    (mean * g1 + var * g2).sum().backward()
    (ref_mean * g1 + ref_var * g2).sum().backward()
    assert torch.allclose(logits.grad, ref_logits.grad, atol=1e-12)


def test_ternary_moments_closed_form():
    logits = torch.log(torch.tensor([[0.2], [0.3], [0.5]], dtype=torch.float64))
    mean, var = moments(logits, torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64))
    mu = 0.5 - 0.2
    assert math.isclose(float(mean), mu) and math.isclose(float(var), 0.2 * (1 + mu) ** 2 + 0.3 * mu**2 + 0.5 * (1 - mu) ** 2)


def test_most_probable_ties_go_to_first_value_and_sampling_is_seeded():
    logits = np.array([[1.0, 0.0], [1.0, 2.0], [0.0, 2.0]])
    assert most_probable_index(logits).tolist() == [0, 1]
    big = np.log(np.array([[0.2] * 20000, [0.5] * 20000, [0.3] * 20000]))
    a = sample_index(big, np.random.default_rng(5))
    assert np.array_equal(a, sample_index(big, np.random.default_rng(5)))
    freq = np.bincount(a, minlength=3) / a.size
    assert np.allclose(freq, [0.2, 0.5, 0.3], atol=0.015)


def test_gauss_max_matches_monte_carlo():
    gen = torch.Generator().manual_seed(0)
    m = torch.tensor([[0.0, 0.5, -0.3, 0.2]], dtype=torch.float64)
    v = torch.tensor([[1.0, 0.8, 1.2, 0.9]], dtype=torch.float64)
    mean = m.reshape(1, 1, 2, 2)
    var = v.reshape(1, 1, 2, 2)
    pm, pv = L.gauss_maxpool2(mean, var)
    n = 400000
    samples = m + v.sqrt() * torch.randn(n, 4, generator=gen, dtype=torch.float64)
    top = torch.maximum(samples[:, 0], samples[:, 1])
    bot = torch.maximum(samples[:, 2], samples[:, 3])
    mc = torch.maximum(top, bot)
    # Clark's moment matching is exact for one max of two Gaussians; the nested max treats the first
    # max as Gaussian, so it is only close for similar inputs (3 % of the mean, 10 % of the variance);
    # with very unequal variances the error grows (a known limit of the approximation)
    assert abs(float(pm) - float(mc.mean())) < 0.03 * abs(float(mc.mean()))
    assert abs(float(pv) - float(mc.var())) < 0.10 * float(mc.var())
    m1, v1 = L.gauss_max(m[:, :1], v[:, :1], m[:, 1:2], v[:, 1:2])
    assert abs(float(m1) - float(top.mean())) < 0.01 and abs(float(v1) - float(top.var())) < 0.01


def test_gauss_maxpool_is_two_by_two_stride_two():
    mean = torch.arange(16.0).reshape(1, 1, 4, 4) * 10
    var = torch.full_like(mean, 1e-6)
    pm, _ = L.gauss_maxpool2(mean, var)
    assert torch.allclose(pm, torch.nn.functional.max_pool2d(mean, 2), atol=1e-3)


def test_distribution_batch_norm():
    gen = torch.Generator().manual_seed(1)
    mean = torch.randn(8, 3, 4, 4, generator=gen, dtype=torch.float64) + 2
    var = torch.rand(8, 3, 4, 4, generator=gen, dtype=torch.float64)
    gamma, beta = torch.tensor([1.0, 2.0, -0.5], dtype=torch.float64), torch.tensor([0.0, 1.0, 3.0], dtype=torch.float64)
    om, ov = L.dist_bn(mean, var, gamma, beta)
    for c in range(3):
        mc, vc = mean[:, c].reshape(-1), var[:, c].reshape(-1)
        mb = mc.mean()
        vb = ((vc + (mc - mb) ** 2).sum() / (mc.numel() - 1)).item()  # eq. 9-10, unbiased
        a = gamma[c] / math.sqrt(vb + 1e-8)
        assert torch.allclose(om[:, c], a * (mean[:, c] - mb) + beta[c], atol=1e-12)
        assert torch.allclose(ov[:, c], a * a * var[:, c], atol=1e-12)
    # normalized means have mean beta; total variance (within + between) gamma^2
    tot = (ov + (om - om.mean((0, 2, 3), keepdim=True)) ** 2).sum((0, 2, 3)) / (8 * 16 - 1)
    assert torch.allclose(tot, gamma**2, atol=1e-6)


def test_gumbel_sign_without_noise_is_two_phi_minus_one():
    mean = torch.linspace(-3, 3, 13, dtype=torch.float64)
    var = torch.full_like(mean, 0.7)
    z = L.gumbel_sign(mean, var, noise=False)
    phi = 0.5 * (1 + torch.special.erf(mean / math.sqrt(0.7) / math.sqrt(2)))
    assert torch.allclose(z, 2 * phi - 1, atol=1e-5)


def test_gumbel_sign_noise_has_the_right_mean_and_range():
    mean, var = torch.full((200000,), 0.3, dtype=torch.float64), torch.full((200000,), 1.0, dtype=torch.float64)
    torch.manual_seed(0)
    z = L.gumbel_sign(mean, var)
    assert float(z.abs().max()) < 1.0
    # the relaxed sample is a tanh of logistic noise around the log-odds; the hard sign of it is exact
    p_pos = 0.5 * (1 + math.erf(0.3 / math.sqrt(2)))
    assert abs(float((z > 0).double().mean()) - p_pos) < 0.005


def test_dist_linear_matches_enumeration():
    vals = [-1.0, 0.0, 1.0]
    probs = np.array([[0.1, 0.3, 0.6], [0.5, 0.25, 0.25]])  # two weights of one output unit
    x = torch.tensor([[0.5, -2.0]], dtype=torch.float64)
    w_mean = torch.tensor([[probs[j] @ vals for j in range(2)]], dtype=torch.float64)
    w_var = torch.tensor([[probs[j] @ np.square(vals) - (probs[j] @ vals) ** 2 for j in range(2)]], dtype=torch.float64)
    m, v = L.dist_linear(x, w_mean, w_var, "dense")
    outs, ps = [], []
    for combo in itertools.product(range(3), repeat=2):
        outs.append(sum(vals[c] * float(x[0, j]) for j, c in enumerate(combo)))
        ps.append(np.prod([probs[j, c] for j, c in enumerate(combo)]))
    outs, ps = np.array(outs), np.array(ps)
    assert math.isclose(float(m), ps @ outs) and math.isclose(float(v), ps @ (outs - ps @ outs) ** 2)


def test_inverted_dropout_and_sign_of_zero():
    x = torch.ones(100000, dtype=torch.float64)
    torch.manual_seed(0)
    y = L.dropout(x, 0.3, training=True)
    assert set(torch.unique(y).tolist()) <= {0.0, 1 / 0.7} and abs(float(y.mean()) - 1) < 0.01
    assert torch.equal(L.dropout(x, 0.3, training=False), x)
    assert L.sign(torch.tensor([-1e-30, 0.0, -0.0, 2.0])).tolist() == [-1.0, 1.0, 1.0, 1.0]
