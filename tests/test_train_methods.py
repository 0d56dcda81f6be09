"""--method lrt (Berger et al. 2023) and --method few-mult (Lin et al. 2015): each method's distinctive
piece against its formula or a Monte-Carlo estimate, and tiny CLI runs whose checkpoints export and
verify on host."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from dnnc.cli import main
from dnnc.train import layers as L
from dnnc.train.few_mult import (
    FewMultNet,
    QuantizedBackprop,
    pow2_quantize,
    probabilities,
    stochastic_weights,
)
from dnnc.train.lrt import hard_gumbel_sign, lrnets_probabilities, sign_probability
from dnnc.train.weights import moments


def test_pow2_quantize_values_exact():
    x = torch.tensor([0.0, 1.0, -1.0, 0.75, 0.7, 0.5, 0.3, -0.36, 1e-9, 2.0**-7, 2.0**-8, -2.0**-6, 3.0])
    want = torch.tensor([0.0, 1.0, -1.0, 1.0, 0.5, 0.5, 0.25, -0.5, 2.0**-7, 2.0**-7, 2.0**-7, -2.0**-6, 1.0])
    assert torch.equal(pow2_quantize(x), want)
    pixels = (torch.arange(256.0) * 2 - 255) / 255  # every first-layer input value: a power of two or -1..1
    q = pow2_quantize(pixels)
    mant, _ = torch.frexp(q.abs())
    assert torch.all(mant == 0.5) and torch.all(q.abs() <= 1) and torch.all(torch.sign(q) == torch.sign(pixels))


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_quantized_backprop_weight_gradient_uses_pow2_inputs(kind):
    gen = torch.Generator().manual_seed(0)
    if kind == "dense":
        x = torch.rand(7, 37, generator=gen) * 2 - 1
        w = torch.where(torch.rand(5, 37, generator=gen) < 0.5, -1.0, 1.0)
    else:
        x = torch.rand(3, 2, 6, 6, generator=gen) * 2 - 1
        w = torch.where(torch.rand(4, 2, 3, 3, generator=gen) < 0.5, -1.0, 1.0)
    x.requires_grad_(True)
    w.requires_grad_(True)
    y = QuantizedBackprop.apply(x, w, kind)
    assert torch.equal(y, L.linear(x.detach(), w.detach(), kind))  # the forward is the exact product
    g = torch.randn(y.shape, generator=gen)
    y.backward(g)
    # reference: autograd of the plain product, taken once with x replaced by its power-of-two rounding
    xq = pow2_quantize(x.detach()).requires_grad_(True)
    wr = w.detach().clone().requires_grad_(True)
    L.linear(xq, wr, kind).backward(g)
    assert torch.equal(w.grad, wr.grad)
    xr = x.detach().clone().requires_grad_(True)
    L.linear(xr, w.detach(), kind).backward(g)
    assert torch.equal(x.grad, xr.grad)  # the input gradient is not quantized
    wu = w.detach().clone().requires_grad_(True)
    L.linear(x.detach(), wu, kind).backward(g)
    assert not torch.equal(w.grad, wu.grad)  # and the rounding did change the weight gradient


def test_stochastic_weights_follow_the_rule_and_pass_gradient_straight_through():
    torch.manual_seed(0)
    w = torch.tensor([-1.0, -0.5, 0.0, 0.3, 1.0]).repeat(40000, 1).requires_grad_(True)
    for ws in ("binary", "ternary"):
        s = stochastic_weights(w, ws)
        vals = [-1.0, 1.0] if ws == "binary" else [-1.0, 0.0, 1.0]
        freq = torch.stack([(s.detach() == v).float().mean(0) for v in vals])
        assert torch.isin(s.detach(), torch.tensor(vals)).all()
        assert (freq - probabilities(w[0].detach(), ws)).abs().max() < 0.01  # 40000 draws: 4 sd ~ 0.01
        (g,) = torch.autograd.grad(s.sum(), w)
        assert torch.equal(g, torch.ones_like(w))


def test_few_mult_deterministic_weights_are_the_checkpoint_argmax():
    from dnnc.train.arch import parse_arch

    for ws, want in (("binary", [-1, -1, -1, -1, 1]), ("ternary", [-1, 0, 0, 0, 1])):
        net = FewMultNet(parse_arch("FC5-FC10"), (1, 1, 1), ws)
        with torch.no_grad():
            net.params[0][:] = torch.tensor([-0.7, -1e-30, 0.0, 1e-30, 0.51]).unsqueeze(1)
        # ties (equal float64 probabilities, here w = +-1e-30 and 0) go to the first value, as argmax
        assert net.map_weights()[0][:, 0].tolist() == want
        assert torch.equal(net.as_distribution_net().map_weights()[0], net.map_weights()[0])


def test_lrt_sign_probability_matches_monte_carlo():
    """P(sign(a) = +1) = Phi(mu / sigma) from the CLT moments vs sampled discrete weights (ternary, fan-in
    300): tolerance 0.03 = CLT error at fan-in 300 plus 4 standard errors of 4000 draws (0.008)."""
    gen = torch.Generator().manual_seed(1)
    vals = torch.tensor([-1.0, 0.0, 1.0])
    logits = torch.randn(3, 24, 300, generator=gen) * 1.5
    x = torch.rand(1, 300, generator=gen) * 2 - 1
    mean, var = L.dist_linear(x, *moments(logits, vals), "dense")
    p = sign_probability(mean, var)[0]
    q = torch.softmax(logits, 0)
    idx = torch.multinomial(q.permute(1, 2, 0).reshape(-1, 3), 4000, replacement=True, generator=gen)
    w = vals[idx].reshape(24, 300, 4000)
    a = torch.einsum("j,ijs->is", x[0], w)
    freq = (a >= 0).double().mean(1)
    assert (freq - p.double()).abs().max() < 0.03
    assert float(p.min()) < 0.2 and float(p.max()) > 0.8  # the test covers confident units too


def test_lrt_hard_gumbel_sample_is_exact_bernoulli_with_soft_gradient():
    torch.manual_seed(2)
    mean = torch.tensor([-2.0, -0.3, 0.0, 0.4, 3.0]).repeat(40000, 1).requires_grad_(True)
    var = torch.full_like(mean, 0.8)
    s = hard_gumbel_sign(mean, var)
    assert torch.isin(s.detach(), torch.tensor([-1.0, 1.0])).all()  # the forward is an exact +-1 sample
    p = sign_probability(mean[0].detach(), var[0])
    assert torch.allclose(p, torch.tensor([0.5 * (1 + math.erf(m / math.sqrt(2 * 0.8))) for m in
                                           [-2.0, -0.3, 0.0, 0.4, 3.0]]), atol=1e-6)
    freq = (s.detach() == 1).float().mean(0)
    assert (freq - p).abs().max() < 0.01  # 40000 draws: 4 sd <= 0.01
    (g,) = torch.autograd.grad(s.sum(), mean)
    assert torch.all(g >= 0) and torch.all(g.mean(0) > 0)  # relaxed gradient: larger mean, more +1


def test_lrnets_initialization_matches_the_weights_in_expectation():
    w = np.linspace(-0.3, 0.3, 61)
    for ws, vals in (("ternary", [-1, 0, 1]), ("binary", [-1, 1])):
        q = lrnets_probabilities(w, ws)
        assert np.allclose(q.sum(0), 1) and q.min() >= 0
        mean = np.asarray(vals) @ q
        wn = w / w.std()
        inside = np.abs(wn) < 0.23  # no clip: ternary p(+1 | != 0) reaches 0.95 at |w| = 0.045 / 0.19
        assert np.allclose(mean[inside], wn[inside])
        assert np.all(np.diff(mean) >= -1e-12)


@pytest.mark.parametrize("method,weights", [("lrt", "ternary"), ("few-mult", "binary")])
def test_cli_method_trains_exports_and_verifies_on_host(tmp_path, method, weights):
    out = tmp_path / "m.pt"
    run = CliRunner().invoke
    r = run(main, ["train", "--method", method, "--arch", "tiny-fc", "--weights", weights, "--epochs", "1",
                   "--pretrain-epochs", "1", "--train-limit", "300", "-o", str(out)])
    assert r.exit_code == 0, r.output
    hist = json.loads((tmp_path / "m.history.json").read_text())
    assert hist["options"]["method"] == method
    r = run(main, ["export", str(out), "-o", str(tmp_path / "m.onnx")])
    assert r.exit_code == 0, r.output
    r = run(main, ["verify", str(out), "--target", "host", "--samples", "200", "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert report["mismatches"] == 0 and report["samples"] == 200


@pytest.mark.parametrize("args,needle", [
    (["--method", "lrt", "--weights", "quinary"], "quinary"),
    (["--method", "few-mult", "--weights", "real"], "real"),
    (["--method", "lrt", "--weights", "ternary", "--init", "random"], "--init"),
    (["--method", "few-mult", "--weights", "binary", "--two-stage"], "--two-stage"),
])
def test_cli_method_bad_options_exit_2_nothing_written(tmp_path, args, needle):
    r = CliRunner().invoke(main, ["train", "--arch", "tiny-fc", *args, "--epochs", "1", "-o", str(tmp_path / "m.pt")])
    assert r.exit_code == 2, r.output
    assert needle in r.output and list(tmp_path.iterdir()) == []


def test_lrt_layerwise_phases_binarize_from_the_input_side():
    from dnnc.train.lrt import train_lrt

    ck = train_lrt(arch="FC16-FC16-FC10", weights="ternary", epochs=3, pretrain_epochs=1, train_limit=200)
    stages = [h["stage"] for h in ck["history"]]
    assert stages == ["real-tanh"] * 2 + ["lrt-ternary-binary1"] * 2 + ["lrt-ternary-sign"] * 3
    assert ck["activation"] == "sign" and ck["options"]["method"] == "lrt"
