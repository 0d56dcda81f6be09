"""Eq. 11 initialization and the architecture parser."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from dnnc.errors import DnncError
from dnnc.train.arch import PRESETS, check_input, parse_arch
from dnnc.train.init import init_from_real, logits_from_real, probabilities, stretch
from dnnc.train.model import Net
from dnnc.train.weights import values
from dnnc.vocabulary import WEIGHT_SETS


@pytest.mark.parametrize("weight_set", list(WEIGHT_SETS))
def test_eq11_each_value_equally_often_most_probable_and_signs_kept(weight_set):
    vals = values(weight_set)
    rng = np.random.default_rng(0)
    w = np.concatenate([-rng.exponential(0.3, 6000), rng.exponential(0.1, 6000)])  # skewed, unequal scales
    logits = logits_from_real(w, vals)
    assert logits.shape == (len(vals), w.size)
    idx = np.argmax(logits, axis=0)
    counts = np.bincount(idx, minlength=len(vals)) / w.size
    assert np.allclose(counts, 1.0 / len(vals), atol=0.002), counts
    mp = vals[idx]
    assert np.all(mp[w < 0] <= 0) and np.all(mp[w > 0] >= 0)  # signs preserved
    q = np.exp(logits)
    assert np.allclose(q.sum(0), 1.0) and np.isclose(q.max(), 0.95) and np.isclose(q.min(), 0.05 / (len(vals) - 1))


def test_stretch_is_the_empirical_cdf_onto_minus_s_s():
    vals = values("ternary")  # S = 1.5
    w = np.array([-3.0, -1.0, -1.0, -0.5, 0.0, 0.2, 4.0])
    got = stretch(w, vals)
    # negatives (incl. 0): ECDF over {-3,-1,-1,-0.5,0} = 1/5, 3/5, 3/5, 4/5, 1; positives: 1/2, 1
    want = np.array([0.2, 0.6, 0.6, 0.8, 1.0]) * 1.5 - 1.5
    assert np.allclose(got[:5], want) and np.allclose(got[5:], [0.75, 1.5])


def test_piecewise_linear_probabilities():
    vals = values("ternary")
    q = probabilities(np.array([-2.0, -1.0, -0.5, 0.0, 0.25, 1.0, 9.0]), vals)
    assert np.allclose(q[:, 0], [0.95, 0.025, 0.025]) and np.allclose(q[:, 1], [0.95, 0.025, 0.025])
    assert np.allclose(q[:, 2], [0.4875, 0.4875, 0.025]) and np.allclose(q[:, 3], [0.025, 0.95, 0.025])
    assert np.allclose(q[:, 4], [0.025, 0.95 - 0.925 / 4, 0.025 + 0.925 / 4])
    assert np.allclose(q[:, 5], [0.025, 0.025, 0.95]) and np.allclose(q[:, 6], [0.025, 0.025, 0.95])


def test_init_from_real_copies_batch_norm_and_bias():
    arch = parse_arch("tiny-cnn")
    real = Net(arch, (1, 28, 28), "real", "tanh")
    with torch.no_grad():
        real.gamma[0].fill_(1.5)
        real.bias.fill_(0.25)
        real.running(1)[1].fill_(3.0)
    model = Net(arch, (1, 28, 28), "quinary", "sign")
    init_from_real(model, real)
    assert torch.equal(model.gamma[0], real.gamma[0]) and torch.equal(model.bias, real.bias)
    assert torch.equal(model.running(1)[1], real.running(1)[1])
    assert model.params[0].shape == (5, 4, 1, 3, 3)


def test_parse_arch_paper_notation_and_presets():
    a = parse_arch("2x128C3-P2-2x256C3-P2-2x512C3-P2-FC1024-FC10")
    assert [(s.kind, s.out, s.kernel, s.pool) for s in a.layers[:3]] == [
        ("conv", 128, 3, 0), ("conv", 128, 3, 2), ("conv", 256, 3, 0)]
    assert len(a.layers) == 8 and a.dropout[1:7] == (0.2, 0.2, 0.3, 0.3, 0.3, 0.4) and a.dropout[7] == 0
    assert parse_arch("cifar-vgg").text == a.text
    assert parse_arch("FC1200-FC1200-FC10").dropout == (0.1, 0.2, 0.3) == parse_arch("mnist-pi").dropout
    assert parse_arch("32C5-P2-64C5-P2-FC512-FC10").text == "32C5-P2-64C5-P2-FC512-FC10"
    for name in PRESETS:
        parse_arch(name)


@pytest.mark.parametrize("text,needle", [("FC10-Q3-FC10", "'Q3'"), ("P2-FC10", "'P2'"), ("32C4-FC10", "32C4"),
                                         ("32C3-P3-FC10", "P3"), ("FC10-32C3-FC10", "before"), ("32C3", "output")])
def test_parse_arch_errors_name_the_token(text, needle):
    with pytest.raises(DnncError, match=needle):
        parse_arch(text)


def test_check_input_rejects_odd_pool_and_class_mismatch():
    with pytest.raises(DnncError, match="odd"):
        check_input(parse_arch("4C3-P2-4C3-P2-4C3-P2-FC10"), (1, 28, 28), 10)
    with pytest.raises(DnncError, match="classes"):
        check_input(parse_arch("FC32-FC3"), (1, 28, 28), 10)
