import numpy as np
import pytest
from dnnc.netspec import BatchNorm, DiscreteNet, LinearLayer, forward_float64


def _net(weight_hidden):
    bn = BatchNorm(gamma=np.array([1.0, -1.0, 0.0]), beta=np.array([0.0, 0.0, 0.5]),
                   mean=np.zeros(3), inv_std=np.ones(3))
    hidden = LinearLayer("dense", weight_hidden, "ternary", bn=bn)
    out = LinearLayer("dense", np.array([[1, 1, 1], [-1, -1, -1]], np.int8), "ternary",
                      bias=np.zeros(2), out_scale=0.5)
    return DiscreteNet((1, 1, 2), [hidden], out)


def test_forward_sign_zero_is_plus_one_and_gamma_sign():
    net = _net(np.array([[1, -1], [1, -1], [1, 1]], np.int8))
    raw = np.array([[[[0, 0]]], [[[255, 0]]]], np.uint8)  # x = (-1,-1) and (1,-1)
    logits, cls = forward_float64(net, raw)
    # sample 0: a = (0, 0, -2): channel0 y=0 -> +1; channel1 gamma<0, y=-0=0 -> +1; channel2 const +1
    assert logits[0].tolist() == [1.5, -1.5]
    # sample 1: a = (2, 2, 0): ch0 +1, ch1 y=-2 -> -1, ch2 +1
    assert logits[1].tolist() == [0.5, -0.5]
    assert cls.tolist() == [0, 0]


def test_validate_rejects_weight_outside_set():
    net = _net(np.array([[2, -1], [1, -1], [1, 1]], np.int8))
    with pytest.raises(ValueError, match="layer 0: weight value 2"):
        net.validate()
