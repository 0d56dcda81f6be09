"""A plain-data description of a lowered IRModel (what `dnnc inspect` prints): layers, types, ranges, memory.

Memory figures use dense encodings: weight codes at `weight_bits` bits each, thresholds at the smallest
of 1/2/4 bytes holding the accumulator width, ±1 activations at 1 bit, the raw input at 8 bits and the
output accumulators as int32. The activation figure is the peak of (input + output) over layers with
materialized tensors (a ping-pong arena); backends report their own exact figures.
"""

from __future__ import annotations

import itertools

import numpy as np

from dnnc.ir.model import (
    THRESHOLD_LIMIT,
    ArgMax,
    IRModel,
    Linear,
    MaxPool,
    MultiThreshold,
    OutputAffine,
    Threshold,
)
from dnnc.vocabulary import BIPOLAR, FLOAT32, INT64, UINT8


def _bytes_for_bits(bits: int) -> int:
    return 1 if bits <= 8 else 2 if bits <= 16 else 4


def _act_bytes(shape: tuple[int, ...], bits: int) -> int:
    return -(-int(np.prod(shape)) * bits // 8)


def describe(model: IRModel) -> dict:
    layers, weight_total, thr_total = [], 0, 0
    acts = [_act_bytes(model.input_shape, 8)]
    thr_meta = model.meta.get("thresholds", {})
    last_linear = None
    for layer in model.layers:
        d: dict = {"name": layer.name, "type": type(layer).__name__, "in_shape": list(layer.in_shape),
                   "out_shape": list(layer.out_shape)}
        if isinstance(layer, Linear):
            wbytes = -(-layer.weight.size * layer.weight_bits // 8)
            weight_total += wbytes
            last_linear = layer
            d.update(kind=layer.kind, weight_shape=list(layer.weight.shape), weight_dtype=layer.weight_dtype,
                     weight_values=list(layer.weight_values), weight_bits=layer.weight_bits, fan_in=layer.fan_in,
                     in_dtype=layer.in_dtype, in_mul=layer.in_mul, in_add=layer.in_add, acc_min=layer.acc_min,
                     acc_max=layer.acc_max, acc_bits=layer.acc_bits, weight_bytes=wbytes)
            if layer.kind == "conv":
                d.update(stride=layer.stride, pad=layer.pad)
        elif isinstance(layer, MaxPool):
            d.update(k=layer.k, stride=layer.stride)
        elif isinstance(layer, Threshold):
            nbytes = layer.channels * _bytes_for_bits(last_linear.acc_bits if last_linear else 32)
            thr_total += nbytes
            extra = thr_meta.get(layer.name, {})
            d.update(channels=layer.channels, ge=int((layer.direction > 0).sum()),
                     le_gamma_negative=int((layer.direction < 0).sum()),
                     constant=int((layer.direction == 0).sum()),
                     constant_gamma_zero=extra.get("gamma_zero"), constant_saturated=extra.get("saturated"),
                     threshold_bytes=nbytes, out_dtype=BIPOLAR)
            acts.append(_act_bytes(layer.out_shape, 1))
        elif isinstance(layer, MultiThreshold):
            nbytes = layer.thresholds.size * _bytes_for_bits(last_linear.acc_bits if last_linear else 32)
            thr_total += nbytes
            const = (np.abs(layer.thresholds) >= THRESHOLD_LIMIT).all(axis=1)
            d.update(channels=layer.channels, thresholds_per_channel=layer.levels - 1,
                     le_gamma_negative=int((layer.direction < 0).sum()), constant=int(const.sum()),
                     out_bias=layer.out_bias, threshold_bytes=nbytes, out_dtype=layer.out_dtype, bits=layer.bits)
            acts.append(_act_bytes(layer.out_shape, layer.bits))
        elif isinstance(layer, OutputAffine):
            d.update(out_dtype=FLOAT32)
            acts.append(int(np.prod(layer.in_shape)) * 4)
        elif isinstance(layer, ArgMax):
            d.update(out_dtype=INT64)
        layers.append(d)
    peak = max((a + b for a, b in itertools.pairwise(acts)), default=acts[0])
    return {
        "name": model.name, "input_shape": list(model.input_shape), "input_dtype": UINT8,
        "num_classes": model.num_classes, "layers": layers,
        "memory": {"weight_bytes": weight_total, "threshold_bytes": thr_total, "activation_peak_bytes": peak},
    }


def format_text(desc: dict) -> str:
    lines = [f"model {desc['name']}: input UINT8 {tuple(desc['input_shape'])}, {desc['num_classes']} classes"]
    for d in desc["layers"]:
        head = f"  {d['name']:<14} {d['type']:<13} {tuple(d['in_shape'])} -> {tuple(d['out_shape'])}"
        if d["type"] == "Linear":
            conv = f" stride {d['stride']} pad {d['pad']}" if d["kind"] == "conv" else ""
            head += (f"  {d['kind']}{conv} W{tuple(d['weight_shape'])} {d['weight_dtype']} {d['weight_values']} "
                     f"{d['weight_bits']}b, in {d['in_dtype']} (u={d['in_mul']}x{d['in_add']:+d}), "
                     f"acc [{d['acc_min']}, {d['acc_max']}] INT{d['acc_bits']}, {d['weight_bytes']} B")
        elif d["type"] == "MaxPool":
            head += f"  k {d['k']} stride {d['stride']}"
        elif d["type"] == "Threshold":
            head += (f"  {d['channels']} ch: {d['ge']} acc>=t, {d['le_gamma_negative']} acc<=t (gamma<0), "
                     f"{d['constant']} constant (gamma=0: {d['constant_gamma_zero']}, "
                     f"saturated: {d['constant_saturated']}), {d['threshold_bytes']} B")
        elif d["type"] == "MultiThreshold":
            head += (f"  {d['channels']} ch x {d['thresholds_per_channel']} thresholds -> {d['out_dtype']} "
                     f"(bias {d['out_bias']:+d}, {d['bits']} bit planes): {d['le_gamma_negative']} acc<=t (gamma<0), "
                     f"{d['constant']} constant, {d['threshold_bytes']} B")
        lines.append(head)
    m = desc["memory"]
    lines.append(f"memory: weights {m['weight_bytes']} B, thresholds {m['threshold_bytes']} B, "
                 f"activations peak {m['activation_peak_bytes']} B")
    return "\n".join(lines)
