"""The collapsed discrete network: the contract between training (producer) and export (consumer).

A `DiscreteNet` is plain numpy data, no torch: tests build one by hand, `dnnc.train.collapse` builds
one from a checkpoint, `dnnc.interchange` exports one to the deployment ONNX.

Semantics (real arithmetic; this is what "the discrete network" computes):

  x0 = (input_mul * raw + input_add) / input_div          raw: uint8 array of shape `input_shape`
  for each hidden layer:
      a = weight_scale * linear(W, x)                      dense: W @ x.flatten(); conv: cross-correlation
                                                           with zero padding of x (the normalized input)
      a = maxpool(a, pool) if pool                         pool x pool window, stride pool
      y = a * (gamma * inv_std) + (beta - gamma * inv_std * mean)   per channel (batch norm, eq. 9-10)
      x = +1 where y >= 0 else -1                          sign(0) = +1
  logits = (weight_scale * (W_out @ x.flatten()) + bias) * out_scale     out_scale = 1/sqrt(fan_in + 1)
  class = argmax(logits), ties to the lowest index

W holds small integers (the weight set's integer codes, see vocabulary.WEIGHT_SETS); weight_scale turns
them into the paper's real values. Dropout is inverted during training, so it does not appear here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dnnc.vocabulary import WEIGHT_SETS, conv_out_size


@dataclass
class BatchNorm:
    """Inference batch norm in the paper's form: running mean and running inverse std (float64)."""

    gamma: np.ndarray
    beta: np.ndarray
    mean: np.ndarray
    inv_std: np.ndarray


@dataclass
class LinearLayer:
    """A dense or conv layer with integer weight codes; hidden layers carry `bn`, the output `bias`."""

    kind: str  # "dense" | "conv"
    weight: np.ndarray  # int8: (out, in) or (out, in, kh, kw)
    weight_set: str
    stride: int = 1
    padding: int = 0  # symmetric zero padding (conv only)
    pool: int = 0  # 0 = none, else pool x pool max-pool with stride pool, before batch norm
    bn: BatchNorm | None = None  # hidden layers
    bias: np.ndarray | None = None  # output layer: real bias
    out_scale: float = 1.0  # output layer: 1/sqrt(fan_in + 1)

    @property
    def weight_scale(self) -> float:
        return WEIGHT_SETS[self.weight_set][1]

    @property
    def out_channels(self) -> int:
        return int(self.weight.shape[0])


@dataclass
class DiscreteNet:
    input_shape: tuple[int, ...]  # (C, H, W)
    hidden: list[LinearLayer]
    output: LinearLayer
    input_mul: int = 2
    input_add: int = -255
    input_div: int = 255
    arch: str = ""
    meta: dict = field(default_factory=dict)

    def validate(self) -> None:
        """Raise ValueError naming the layer if a weight is outside its set or a BN value is not finite."""
        for i, layer in enumerate([*self.hidden, self.output]):
            codes = WEIGHT_SETS[layer.weight_set][0]
            bad = ~np.isin(layer.weight, codes)
            if bad.any():
                raise ValueError(f"layer {i}: weight value {layer.weight[bad][0]} not in {layer.weight_set} {codes}")
            if layer.bn is not None:
                for name in ("gamma", "beta", "mean", "inv_std"):
                    if not np.all(np.isfinite(getattr(layer.bn, name))):
                        raise ValueError(f"layer {i}: batch norm {name} is not finite")


def _conv(x: np.ndarray, w: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """Cross-correlation of x (N, C, H, W) with w (O, C, kh, kw), zero padding, float64."""
    h, wd = x.shape[2:]
    kh, kw = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh, ow = conv_out_size(h, kh, stride, padding), conv_out_size(wd, kw, stride, padding)
    cols = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    cols = cols[:, :, :oh, :ow]  # (N, C, oh, ow, kh, kw)
    return np.einsum("nchwij,ocij->nohw", cols, w.astype(np.float64), optimize=True)


def _maxpool(a: np.ndarray, k: int) -> np.ndarray:
    n, c, h, w = a.shape
    oh, ow = conv_out_size(h, k, k), conv_out_size(w, k, k)
    return a[:, :, : oh * k, : ow * k].reshape(n, c, oh, k, ow, k).max(axis=(3, 5))


def forward_float64(net: DiscreteNet, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference forward of the discrete network in float64: (logits (N, classes), class (N,)).

    This is "the PyTorch discrete network" computed in numpy with float64, used to check that the
    deployment ONNX predicts the same classes.
    """
    x = (net.input_mul * raw.astype(np.float64) + net.input_add) / net.input_div
    x = x.reshape((raw.shape[0], *net.input_shape))
    for layer in net.hidden:
        if layer.kind == "conv":
            a = _conv(x, layer.weight, layer.stride, layer.padding)
        else:
            a = x.reshape(x.shape[0], -1) @ layer.weight.astype(np.float64).T
        a = a * layer.weight_scale
        if layer.pool:
            a = _maxpool(a, layer.pool)
        bn = layer.bn
        shape = (1, -1) + (1,) * (a.ndim - 2)
        scale = (bn.gamma * bn.inv_std).reshape(shape)
        y = a * scale + (bn.beta - bn.gamma * bn.inv_std * bn.mean).reshape(shape)
        x = np.where(y >= 0, 1.0, -1.0)
    out = net.output
    acc = x.reshape(x.shape[0], -1) @ out.weight.astype(np.float64).T
    logits = (out.weight_scale * acc + out.bias.astype(np.float64)) * out.out_scale
    return logits, np.argmax(logits, axis=1)
