"""Hand-built DiscreteNet edge models shared by every backend's tests (IR, C, HLS).

They exercise what trained models rarely hit: gamma < 0 (with multi-bit weights that must not be
flipped), gamma = 0 (constant channels, both signs of beta), batch-norm means placed so that
accumulators land exactly on thresholds, fan-ins that are not multiples of 32, conv with zero padding
and stride, max-pool before a negative-gamma threshold, and a net whose output layer is its first.
`edge_models()` yields (name, DiscreteNet) for every weight set.
"""

from __future__ import annotations

import numpy as np
from dnnc.netspec import BatchNorm, DiscreteNet, LinearLayer
from dnnc.vocabulary import WEIGHT_SETS

WEIGHT_SET_NAMES = ("binary", "ternary", "quaternary", "quinary")


def _weights(rng, shape, weight_set):
    codes = np.array(WEIGHT_SETS[weight_set][0], np.int8)
    return rng.choice(codes, size=shape).astype(np.int8)


def _bn(rng, c, ws, first, tie_acc=None):
    """BN with gamma < 0 on ~1/3 of channels, gamma = 0 on two (beta >= 0 and < 0), exact ties elsewhere.

    gamma*inv_std is a power of two on tie channels so float32 A*acc + B cancels exactly at acc == mean.
    """
    gamma = rng.choice([0.5, 1.0, 2.0], size=c) * rng.choice([1.0, 1.0, -1.0], size=c)
    gamma[rng.random(c) < 0.3] *= rng.uniform(0.3, 3.0)  # some channels with non-dyadic scale
    inv_std = np.ones(c)
    gamma[0], gamma[-1] = -abs(gamma[0]), abs(gamma[-1])  # always at least one gamma < 0 and one > 0
    if c >= 4:
        gamma[1], gamma[2] = 0.0, 0.0
    beta = np.zeros(c)
    if c >= 4:
        beta[1], beta[2] = 0.25, -0.25
    scale = ws / (255.0 if first else 1.0)
    acc = tie_acc if tie_acc is not None else rng.integers(-6, 7, size=c)
    mean = scale * np.asarray(acc, np.float64)  # real-domain mean at an integer accumulator
    beta += np.where(rng.random(c) < 0.2, rng.normal(0, 0.5, size=c), 0.0)  # some off-tie channels
    return BatchNorm(gamma=gamma, beta=beta, mean=mean, inv_std=inv_std)


def _out(rng, k, fan_in, weight_set):
    return LinearLayer("dense", _weights(rng, (k, fan_in), weight_set), weight_set,
                       bias=rng.normal(0, 0.3, size=k), out_scale=1.0 / np.sqrt(fan_in + 1))


def _first_ties(rng, w):
    """Accumulators of the first layer that inputs can hit: acc = sum w (2p - 255) has the parity of 255 sum(w)."""
    par = (255 * w.astype(np.int64).reshape(w.shape[0], -1).sum(axis=1)) % 2
    return 2 * rng.integers(-150, 150, size=w.shape[0]) + par


def _bit_ties(rng, w):
    """Accumulators of a layer on ±1 inputs: sum w x has the parity of sum(w)."""
    par = w.astype(np.int64).reshape(w.shape[0], -1).sum(axis=1) % 2
    return 2 * rng.integers(-4, 5, size=w.shape[0]) + par


def dense_model(weight_set: str, seed: int = 0) -> DiscreteNet:
    """(1, 5, 7) input (35 pixels) -> 37 -> 33 -> 10; fan-ins 35, 37, 33 (none a multiple of 32)."""
    rng = np.random.default_rng(seed)
    ws = WEIGHT_SETS[weight_set][1]
    w0 = _weights(rng, (37, 35), weight_set)
    h0 = LinearLayer("dense", w0, weight_set, bn=_bn(rng, 37, ws, True, _first_ties(rng, w0)))
    w1 = _weights(rng, (33, 37), weight_set)
    par1 = w1.astype(np.int64).sum(axis=1) % 2  # bipolar inputs: acc has the parity of sum(w)
    tie1 = 2 * rng.integers(-3, 4, size=33) + par1
    h1 = LinearLayer("dense", w1, weight_set, bn=_bn(rng, 33, ws, False, tie1))
    return DiscreteNet((1, 5, 7), [h0, h1], _out(rng, 10, 33, weight_set), arch=f"edge-dense-{weight_set}")


def conv_model(weight_set: str, seed: int = 0) -> DiscreteNet:
    """(1, 11, 11) -> conv 3x3 pad 1 stride 2 (6 ch, 6x6) -> conv 3x3 pad 1 (5 ch) + pool 2 (3x3) -> 10."""
    rng = np.random.default_rng(seed)
    ws = WEIGHT_SETS[weight_set][1]
    w0 = _weights(rng, (6, 1, 3, 3), weight_set)
    par = (255 * w0.astype(np.int64).reshape(6, -1).sum(axis=1)) % 2
    tie0 = 2 * rng.integers(-100, 100, size=6) + par
    h0 = LinearLayer("conv", w0, weight_set, stride=2, padding=1, bn=_bn(rng, 6, ws, True, tie0))
    w1 = _weights(rng, (5, 6, 3, 3), weight_set)
    h1 = LinearLayer("conv", w1, weight_set, stride=1, padding=1, pool=2,
                     bn=_bn(rng, 5, ws, False, rng.integers(-8, 9, size=5)))
    return DiscreteNet((1, 11, 11), [h0, h1], _out(rng, 10, 5 * 3 * 3, weight_set), arch=f"edge-conv-{weight_set}")


def output_only_model(weight_set: str, seed: int = 0) -> DiscreteNet:
    """The output layer is the first layer: (1, 4, 9) pixels -> 7 classes, input normalization kept."""
    rng = np.random.default_rng(seed)
    return DiscreteNet((1, 4, 9), [], _out(rng, 7, 36, weight_set), arch=f"edge-linear-{weight_set}")


def edge_models():
    for ws in WEIGHT_SET_NAMES:
        yield f"dense-{ws}", dense_model(ws)
        yield f"conv-{ws}", conv_model(ws)
    yield "output-only-quaternary", output_only_model("quaternary")


def wide_dense_model(weight_set: str, seed: int = 0) -> DiscreteNet:
    """(1, 7, 11) input (77 pixels, not a multiple of 4) -> 100 -> 70 -> 10: output counts that fill four
    16-output blocks and leave partial ones, the shapes the output-lane (host) kernels split on."""
    rng = np.random.default_rng(seed)
    ws = WEIGHT_SETS[weight_set][1]
    w0, w1 = _weights(rng, (100, 77), weight_set), _weights(rng, (70, 100), weight_set)
    h0 = LinearLayer("dense", w0, weight_set, bn=_bn(rng, 100, ws, True, _first_ties(rng, w0)))
    h1 = LinearLayer("dense", w1, weight_set, bn=_bn(rng, 70, ws, False, _bit_ties(rng, w1)))
    return DiscreteNet((1, 7, 11), [h0, h1], _out(rng, 10, 70, weight_set), arch=f"wide-dense-{weight_set}")


def wide_conv_model(weight_set: str, seed: int = 0, in_c: int = 1) -> DiscreteNet:
    """(in_c, 9, 10) -> conv 5x5 pad 2 (70 ch) + pool 2 (4x5) -> conv 3x3 pad 1 (67 ch, 3 words per pixel) + pool 2
    (2x2) -> 10: more than 64 channels, odd kernel widths, partial 16-output blocks."""
    rng = np.random.default_rng(seed)
    ws = WEIGHT_SETS[weight_set][1]
    w0, w1 = _weights(rng, (70, in_c, 5, 5), weight_set), _weights(rng, (67, 70, 3, 3), weight_set)
    h0 = LinearLayer("conv", w0, weight_set, padding=2, pool=2, bn=_bn(rng, 70, ws, True, _first_ties(rng, w0)))
    h1 = LinearLayer("conv", w1, weight_set, padding=1, pool=2, bn=_bn(rng, 67, ws, False, _bit_ties(rng, w1)))
    return DiscreteNet((in_c, 9, 10), [h0, h1], _out(rng, 10, 67 * 2 * 2, weight_set),
                       arch=f"wide-conv-{weight_set}")


def wide_models():
    """Models sized for the output-lane layout of the host target (runtime/dnnc_lanes.h)."""
    for ws in WEIGHT_SET_NAMES:
        yield f"wide-dense-{ws}", wide_dense_model(ws)
        yield f"wide-conv-{ws}", wide_conv_model(ws)
    yield "wide-conv3-ternary", wide_conv_model("ternary", seed=1, in_c=3)
    # 3 x 5 x 2 = 30 tap quads per output: more than the 21 VPMADDUBSW pairs an int16 sums safely for |w| = 3,
    # so the AVX2 first conv widens to int32 part-way through the window
    yield "wide-conv3-quaternary", wide_conv_model("quaternary", seed=2, in_c=3)


def pixel_lane_model(weight_set: str, seed: int = 0, in_c: int = 2, mid: int = 35) -> DiscreteNet:
    """(in_c, 27, 30) -> conv 5x5 pad 2 (mid ch) + pool 2 (13x15) -> conv 3x3 no pad (33 ch; 35 channels are 2
    words per input pixel, 29 one) + pool 3 stride 3 (3x4) -> 10: convs with enough pixels for the pixel-lane layout
    of AVX2 hosts (runtime/dnnc_pixconv.h), odd channel counts, a partial input word, rows of 30 and 13 pixels,
    odd pooling."""
    rng = np.random.default_rng(seed)
    ws = WEIGHT_SETS[weight_set][1]
    w0, w1 = _weights(rng, (mid, in_c, 5, 5), weight_set), _weights(rng, (33, mid, 3, 3), weight_set)
    h0 = LinearLayer("conv", w0, weight_set, padding=2, pool=2, bn=_bn(rng, mid, ws, True, _first_ties(rng, w0)))
    h1 = LinearLayer("conv", w1, weight_set, padding=0, pool=3, bn=_bn(rng, 33, ws, False, _bit_ties(rng, w1)))
    return DiscreteNet((in_c, 27, 30), [h0, h1], _out(rng, 10, 33 * 3 * 4, weight_set),
                       arch=f"pixel-lane-{weight_set}")


def pixel_lane_models():
    """Models whose convs take the pixel-lane layout on AVX2 hosts; 4-level and 5-level weights on one input
    channel (two would let a first-layer sum of |w| * 255 exceed int16, and the compiler keep the output lanes)."""
    for ws in WEIGHT_SET_NAMES:
        yield f"pixel-lane-{ws}", pixel_lane_model(ws, in_c=2 if ws in ("binary", "ternary") else 1)
    yield "pixel-lane-ternary-1word", pixel_lane_model("ternary", seed=1, mid=29)
