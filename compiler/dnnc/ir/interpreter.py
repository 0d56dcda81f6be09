"""The IR's integer reference interpreter (numpy): the semantics every backend must reproduce.

Integer layers are computed exactly: products and sums of small integers are formed with float BLAS,
float32 when every partial sum is provably below 2^24 (bound from the weights and the actual inputs),
else float64 (exact below 2^53), and converted to int64.
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
    MultiThreshold,
    OutputAffine,
    Threshold,
)
from dnnc.ir.outputs import Outputs
from dnnc.vocabulary import conv_out_size


def _channel_shape(ndim: int) -> tuple[int, ...]:
    return (1, -1) + (1,) * (ndim - 2)


def _exact_int(x: np.ndarray) -> np.ndarray:
    return np.rint(x).astype(np.int64)


def _sum_dtype(w: np.ndarray, u: np.ndarray) -> type:
    """float32 when every partial sum is provably below 2^24 (exact, half the memory), else float64."""
    bound = float(np.abs(w).reshape(w.shape[0], -1).sum(axis=1).max(initial=0)) * float(np.abs(u).max(initial=0))
    return np.float32 if bound < 2**24 else np.float64


def _linear(layer: Linear, x: np.ndarray) -> np.ndarray:
    u = x.astype(np.int64) * layer.in_mul + layer.in_add
    ft = _sum_dtype(layer.weight, u)
    w = layer.weight.astype(ft)
    if layer.kind == "dense":
        return _exact_int(u.reshape(u.shape[0], -1).astype(ft) @ w.T)
    n, c, h, wd = u.shape
    o, _, kh, kw = w.shape
    p, s = layer.pad, layer.stride
    up = np.pad(u.astype(ft), ((0, 0), (0, 0), (p, p), (p, p))).transpose(0, 2, 3, 1)  # NHWC, zeros in u domain
    oh, ow = conv_out_size(h, kh, s, p), conv_out_size(wd, kw, s, p)
    taps = [(a, b) for a in range(kh) for b in range(kw)]
    views = [up[:, a:a + s * (oh - 1) + 1:s, b:b + s * (ow - 1) + 1:s, :] for a, b in taps]
    if c * kh * kw <= 64:  # small receptive field (e.g. the first conv): one im2col matmul
        cols = np.stack(views, axis=3).reshape(n * oh * ow, len(taps) * c)  # (tap, channel) order
        wmat = w.transpose(2, 3, 1, 0).reshape(len(taps) * c, o)
        return _exact_int((cols @ wmat).reshape(n, oh, ow, o).transpose(0, 3, 1, 2))
    acc = np.zeros((n, oh, ow, o), ft)
    for a in range(kh):  # one matmul per kernel tap: no im2col blow-up
        for b in range(kw):
            patch = np.ascontiguousarray(up[:, a:a + s * (oh - 1) + 1:s, b:b + s * (ow - 1) + 1:s, :])
            acc += (patch.reshape(-1, patch.shape[-1]) @ np.ascontiguousarray(w[:, :, a, b].T)).reshape(acc.shape)
    return _exact_int(acc.transpose(0, 3, 1, 2))


def _maxpool(layer: MaxPool, a: np.ndarray) -> np.ndarray:
    k, s = layer.k, layer.stride
    win = np.lib.stride_tricks.sliding_window_view(a, (k, k), axis=(2, 3))[:, :, ::s, ::s]
    oh, ow = conv_out_size(a.shape[2], k, s), conv_out_size(a.shape[3], k, s)
    return win[:, :, :oh, :ow].max(axis=(4, 5))


def _threshold(layer: Threshold, a: np.ndarray) -> np.ndarray:
    shape = _channel_shape(a.ndim)
    d = layer.direction.reshape(shape)
    t = layer.threshold.astype(np.int64).reshape(shape)
    plus = np.where(d > 0, a >= t, np.where(d < 0, a <= t, layer.const.reshape(shape) > 0))
    return np.where(plus, 1, -1).astype(np.int64)


def _multi_threshold(layer: MultiThreshold, a: np.ndarray) -> np.ndarray:
    shape = _channel_shape(a.ndim)
    d = layer.direction.astype(np.int64).reshape(shape)
    count = np.zeros(a.shape, np.int64)
    for j in range(layer.thresholds.shape[1]):
        t = layer.thresholds[:, j].astype(np.int64).reshape(shape)
        count += np.where(d > 0, a >= t, a <= t)
    return count + layer.out_bias


def _bn_sign(layer: BatchNormSign, a: np.ndarray) -> np.ndarray:
    shape = _channel_shape(a.ndim)
    y = a.astype(np.float32) * layer.scale.astype(np.float32).reshape(shape)
    y = y + layer.bias.astype(np.float32).reshape(shape)
    return np.where(y >= np.float32(0), 1, -1).astype(np.int64)


def _affine(layer: OutputAffine, a: np.ndarray) -> np.ndarray:
    y = a.reshape(a.shape[0], -1).astype(np.float32) * layer.scale.astype(np.float32)
    y = (y + layer.bias.astype(np.float32)).astype(np.float32)
    for op, v in layer.post:
        v = np.asarray(v, np.float32)
        if op == "bipolar":  # a sign output: +v where y / v >= 0 (QONNX BipolarQuant), else -v
            y = np.where((y / v).astype(np.float32) >= np.float32(0), v, -v).astype(np.float32)
        else:
            y = (y + v if op == "add" else y * v if op == "mul" else y / v).astype(np.float32)
    return y


def quantize_input(thresholds: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Raw codes of a float32 input: how many ascending thresholds x >= (NaN compares false: code 0)."""
    x = np.asarray(x, np.float32)
    t = np.asarray(thresholds, np.float32)
    codes = np.searchsorted(t, x, side="right")
    # searchsorted orders -0.0 == +0.0 like the C comparison; NaN sorts last, so fix it explicitly
    return np.where(np.isnan(x), 0, codes).astype(np.uint8)


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
    if isinstance(layer, MultiThreshold):
        return _multi_threshold(layer, x)
    if isinstance(layer, BatchNormSign):
        return _bn_sign(layer, x)
    if isinstance(layer, OutputAffine):
        return _affine(layer, x)
    if isinstance(layer, ArgMax):
        return np.argmax(x, axis=1).astype(np.int64)
    raise DnncError(f"layer '{layer.name}': the interpreter does not support {type(layer).__name__}")


def model_codes(model: IRModel, x: np.ndarray) -> np.ndarray:
    """The raw uint8 codes the integer layers read: x itself, a float32 input quantized, or bytes mapped
    through the byte table (a model with a stated input map takes either float32 or bytes)."""
    x = np.asarray(x)
    if model.input_thresholds is None:
        return x
    if model.byte_codes is not None and x.dtype == np.uint8:
        return model.byte_codes[x]
    if x.dtype != np.float32 or x.shape[1:] != tuple(model.input_shape):
        raise DnncError(f"inputs must be float32 of shape (N, {', '.join(map(str, model.input_shape))}), "
                        f"got {x.dtype} {x.shape}")
    return quantize_input(model.input_thresholds, x)


def trace(model: IRModel, raw: np.ndarray) -> list[np.ndarray]:
    """Every layer's output, in order, for inputs of shape (N, *input_shape): raw uint8, or float32 when the
    model quantizes a float input."""
    raw = model_codes(model, raw)
    if raw.dtype != np.uint8 or raw.shape[1:] != tuple(model.input_shape):
        raise DnncError(f"inputs must be uint8 of shape (N, {', '.join(map(str, model.input_shape))}), "
                        f"got {raw.dtype} {raw.shape}")
    x: np.ndarray = raw
    values = []
    for layer in model.layers:
        x = apply_layer(layer, x)
        values.append(x)
    return values


def run(model: IRModel, raw: np.ndarray, batch: int = 256) -> Outputs:
    """Execute the model on raw inputs (uint8, (N, C, H, W)) and return its three outputs."""
    raw = np.asarray(raw)
    if len(raw) > batch:
        parts = [run(model, raw[i:i + batch], batch) for i in range(0, len(raw), batch)]
        return Outputs(acc=np.concatenate([p.acc for p in parts]), logits=np.concatenate([p.logits for p in parts]),
                       cls=np.concatenate([p.cls for p in parts]))
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
