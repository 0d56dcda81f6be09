"""The IR's integer reference interpreter (numpy): the semantics every backend must reproduce.

Integer layers are computed exactly: products and sums of small integers are formed in float64 BLAS
(exact while |sum| < 2^53, which range analysis guarantees with a wide margin) and converted to int64.
The float32 layers (BatchNormSign before folding, OutputAffine) round exactly like the deployment ONNX:
one float32 multiply, then one float32 add, no fused multiply-add.
"""

from __future__ import annotations

import numpy as np
from dnnc.errors import DnncError
from dnnc.ir.model import (
    ArgMax,
    BatchNormSign,
    InputAffine,
    IRModel,
    Layer,
    Linear,
    MaxPool,
    OutputAffine,
    Threshold,
)
from dnnc.ir.outputs import Outputs


def _channel_shape(ndim: int) -> tuple[int, ...]:
    return (1, -1) + (1,) * (ndim - 2)


def _exact_int(x: np.ndarray) -> np.ndarray:
    return np.rint(x).astype(np.int64)


def _linear(layer: Linear, x: np.ndarray) -> np.ndarray:
    u = x.astype(np.int64) * layer.in_mul + layer.in_add
    w = layer.weight.astype(np.float64)
    if layer.kind == "dense":
        return _exact_int(u.reshape(u.shape[0], -1).astype(np.float64) @ w.T)
    n, c, h, wd = u.shape
    o, _, kh, kw = w.shape
    p, s = layer.pad, layer.stride
    up = np.pad(u.astype(np.float64), ((0, 0), (0, 0), (p, p), (p, p)))  # zeros in the u domain
    oh = (h + 2 * p - kh) // s + 1
    ow = (wd + 2 * p - kw) // s + 1
    cols = np.lib.stride_tricks.sliding_window_view(up, (kh, kw), axis=(2, 3))[:, :, ::s, ::s][:, :, :oh, :ow]
    cols = cols.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * kh * kw)
    acc = cols @ w.reshape(o, -1).T  # (n*oh*ow, o)
    return _exact_int(acc.reshape(n, oh, ow, o).transpose(0, 3, 1, 2))


def _maxpool(layer: MaxPool, a: np.ndarray) -> np.ndarray:
    k, s = layer.k, layer.stride
    win = np.lib.stride_tricks.sliding_window_view(a, (k, k), axis=(2, 3))[:, :, ::s, ::s]
    oh = (a.shape[2] - k) // s + 1
    ow = (a.shape[3] - k) // s + 1
    return win[:, :, :oh, :ow].max(axis=(4, 5))


def _threshold(layer: Threshold, a: np.ndarray) -> np.ndarray:
    shape = _channel_shape(a.ndim)
    d = layer.direction.reshape(shape)
    t = layer.threshold.astype(np.int64).reshape(shape)
    plus = np.where(d > 0, a >= t, np.where(d < 0, a <= t, layer.const.reshape(shape) > 0))
    return np.where(plus, 1, -1).astype(np.int64)


def _bn_sign(layer: BatchNormSign, a: np.ndarray) -> np.ndarray:
    shape = _channel_shape(a.ndim)
    y = a.astype(np.float32) * layer.scale.astype(np.float32).reshape(shape)
    y = y + layer.bias.astype(np.float32).reshape(shape)
    return np.where(y >= np.float32(0), 1, -1).astype(np.int64)


def _affine(layer: OutputAffine, a: np.ndarray) -> np.ndarray:
    y = a.reshape(a.shape[0], -1).astype(np.float32) * layer.scale.astype(np.float32)
    return (y + layer.bias.astype(np.float32)).astype(np.float32)


def apply_layer(layer: Layer, x: np.ndarray) -> np.ndarray:
    """One layer's output for a batch (integers as int64, logits as float32, classes as int64)."""
    if isinstance(layer, InputAffine):
        return x.astype(np.int64) * layer.mul + layer.add
    if isinstance(layer, Linear):
        return _linear(layer, x)
    if isinstance(layer, MaxPool):
        return _maxpool(layer, x)
    if isinstance(layer, Threshold):
        return _threshold(layer, x)
    if isinstance(layer, BatchNormSign):
        return _bn_sign(layer, x)
    if isinstance(layer, OutputAffine):
        return _affine(layer, x)
    if isinstance(layer, ArgMax):
        return np.argmax(x, axis=1).astype(np.int64)
    raise DnncError(f"layer '{layer.name}': the interpreter does not support {type(layer).__name__}")


def trace(model: IRModel, raw: np.ndarray) -> list[np.ndarray]:
    """Every layer's output, in order, for raw uint8 inputs of shape (N, *input_shape)."""
    raw = np.asarray(raw)
    if raw.dtype != np.uint8 or raw.shape[1:] != tuple(model.input_shape):
        raise DnncError(f"inputs must be uint8 of shape (N, {', '.join(map(str, model.input_shape))}), "
                        f"got {raw.dtype} {raw.shape}")
    x: np.ndarray = raw
    values = []
    for layer in model.layers:
        x = apply_layer(layer, x)
        values.append(x)
    return values


def run(model: IRModel, raw: np.ndarray) -> Outputs:
    """Execute the model on raw inputs (uint8, (N, C, H, W)) and return its three outputs."""
    values = trace(model, raw)
    idx = {id(layer): i for i, layer in enumerate(model.layers)}
    acc = values[idx[id(model.output_linear)]]
    out_idx = next(i for i, layer in enumerate(model.layers) if isinstance(layer, OutputAffine))
    argmax_idx = next(i for i, layer in enumerate(model.layers) if isinstance(layer, ArgMax))
    return Outputs(
        acc=acc.reshape(acc.shape[0], -1).astype(np.int32),
        logits=values[out_idx].astype(np.float32),
        cls=values[argmax_idx].astype(np.int64),
    )
