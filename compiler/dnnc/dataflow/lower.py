"""Dataflow lowering: IR layers -> blocks (`group`, the one grouping every FPGA backend shares) -> streaming
stages (FINN's node types), and width converters between folded stages.

Streams carry feature maps pixel-major with channels innermost (NHWC, FINN's layout); so a dense layer
after a conv gets its weight columns permuted from the IR's (C, H, W) flatten order to (H, W, C), and a
conv's columns are ordered (kh, kw, c) like the sliding-window generator's output. Neither changes a sum.
A negative BN slope is kept as direction -1 per channel: stored weights are never negated. A k-bit
activation (MultiThreshold) streams its integer levels as int8 lanes (kind "i8", FINN's ActVal = out_bias).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dnnc.dataflow.stages import Stage
from dnnc.errors import DnncError
from dnnc.ir.model import ArgMax, IRModel, Linear, MaxPool, MultiThreshold, OutputAffine, Threshold
from dnnc.vocabulary import BINARY, BIPOLAR, INT32, TERNARY, UINT8, int_dtype, weight_set_of


def _u_kind(lo: int, hi: int) -> str:
    return "i16" if -(2**15) <= lo and hi < 2**15 else "i32"


def _mvau_weights(layer: Linear, fmap: tuple[int, ...]) -> np.ndarray:
    """(MH, MW) weight matrix with columns in stream order; `fmap` is the (C, H, W) shape the stream
    feeding this layer carries (the IR may already show a dense layer's input as flat)."""
    w = layer.weight.astype(np.int8)
    if layer.kind == "conv":
        return w.transpose(0, 2, 3, 1).reshape(w.shape[0], -1)  # (O, kh, kw, C)
    shape = tuple(fmap)
    if len(shape) == 3 and shape[1] * shape[2] > 1 and int(np.prod(shape)) == w.shape[1]:
        c, h, wd = shape
        return w.reshape(-1, c, h, wd).transpose(0, 2, 3, 1).reshape(w.shape[0], -1)
    return w.reshape(w.shape[0], -1)


def _check_acc(layer: Linear) -> None:
    if layer.acc_min < -(2**31) or layer.acc_max >= 2**31:
        raise DnncError(f"layer '{layer.name}': accumulator range [{layer.acc_min}, {layer.acc_max}] "
                        "exceeds int32, the widest dataflow stream element")


def _threshold_params(t: Threshold) -> dict:
    lo, hi = int(t.threshold.min(initial=0)), int(t.threshold.max(initial=0))
    return {
        "thr": t.threshold.astype(np.int64), "dir": t.direction.astype(np.int8),
        "cst": np.where(t.const > 0, 1, -1).astype(np.int8),
        "thr_bits": 32 if -(2**31) <= lo and hi < 2**31 else 64,
    }


def _multi_params(t: MultiThreshold) -> dict:
    """A k-bit activation's ROMs: thresholds (C, T) counted along the direction, level = bias + count."""
    return {"mthr": t.thresholds.astype(np.int64), "dir": t.direction.astype(np.int8), "bias": int(t.out_bias),
            "thr_bits": 32}


def _act_params(t: Threshold | MultiThreshold) -> dict:
    return _multi_params(t) if isinstance(t, MultiThreshold) else _threshold_params(t)


def _act_attrs(t: Threshold | MultiThreshold) -> tuple[str, str, int, int]:
    """(stream kind, outputDataType, ActVal, numSteps) of an activation's output."""
    if isinstance(t, MultiThreshold):
        return "i8", t.out_dtype, int(t.out_bias), int(t.thresholds.shape[1])
    return "bits", BIPOLAR, 0, 1


@dataclass
class Block:
    """The IR layers that lower to one chain of stages around an MVAU: the Linear, then its threshold (fused
    into the MVAU), a max-pool and a threshold (StreamingMaxPool, Thresholding), or the output affine."""

    linear: Linear
    pool: MaxPool | None = None
    threshold: Threshold | MultiThreshold | None = None
    affine: OutputAffine | None = None


def group(model: IRModel) -> list[Block]:
    """The layer grouping every dataflow backend implements: Linear [MaxPool] Threshold ... Linear OutputAffine."""
    layers = [x for x in model.layers if not isinstance(x, ArgMax)]
    blocks: list[Block] = []
    i = 0
    while i < len(layers):
        layer = layers[i]
        if not isinstance(layer, Linear):
            raise DnncError(f"layer '{layer.name}': the dataflow expects a Linear here, "
                            f"got {type(layer).__name__}")
        _check_acc(layer)
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        if isinstance(nxt, (Threshold, MultiThreshold)):
            blocks.append(Block(layer, threshold=nxt))
            i += 2
        elif isinstance(nxt, MaxPool):
            if nxt.k != nxt.stride:
                raise DnncError(f"layer '{nxt.name}': the dataflow supports max-pool with stride == k only")
            thr = layers[i + 2] if i + 2 < len(layers) else None
            if not isinstance(thr, (Threshold, MultiThreshold)):
                raise DnncError(f"layer '{nxt.name}': max-pool must be followed by a threshold")
            blocks.append(Block(layer, pool=nxt, threshold=thr))
            i += 3
        elif isinstance(nxt, OutputAffine):
            if i + 2 != len(layers):
                raise DnncError(f"layer '{nxt.name}': the output affine must be the last layer")
            blocks.append(Block(layer, affine=nxt))
            return blocks
        else:
            raise DnncError(f"layer '{layer.name}': unsupported successor "
                            f"{type(nxt).__name__ if nxt is not None else 'none'} for the dataflow")
    raise DnncError("model: no output affine layer; the dataflow needs one")


def lower(model: IRModel) -> list[Stage]:
    """The stage list of the grouped layers, every stage at PE = SIMD = 1 (folding decides later)."""
    stages: list[Stage] = []
    kind = "u8"  # kind of the stream feeding the next stage
    fmap: tuple[int, ...] = tuple(model.input_shape)  # (C, H, W) of the stream between layers
    for n_lin, block in enumerate(group(model)):
        layer = block.linear
        name = f"L{n_lin}"
        in_dt = layer.in_dtype  # UINT8 (raw), BIPOLAR (signs) or a k-bit activation's INTn / UINTn
        if layer.in_dtype == UINT8 and (layer.in_mul, layer.in_add) != (1, 0):
            lo, hi = sorted((layer.in_add, layer.in_mul * 255 + layer.in_add))
            in_dt = int_dtype(lo, hi)
            n = int(np.prod(layer.in_shape))
            stages.append(Stage(f"{name}_input", "InputConvert", {
                "NumElems": n, "inWidth": 1, "outWidth": 1, "mul": layer.in_mul, "add": layer.in_add,
                "inputDataType": UINT8, "outputDataType": in_dt, "dataType": in_dt,
            }, layer.name, "u8", _u_kind(lo, hi), n))
            kind = _u_kind(lo, hi)
        nv = [1]
        mvau_in_dt = in_dt
        if layer.kind == "conv":
            c, h, wd = layer.in_shape
            _, _, kh, kw = layer.weight.shape
            _, oh, ow = layer.out_shape
            p, s = layer.pad, layer.stride
            out_kind = "i8" if (p > 0 and kind == "bits") else kind
            if out_kind == "i8":
                mvau_in_dt = TERNARY  # padded bipolar windows carry 0 at padded positions
            stages.append(Stage(f"{name}_swg", "ConvolutionInputGenerator", {
                "ConvKernelDim": [kh, kw], "IFMChannels": c, "IFMDim": [h + 2 * p, wd + 2 * p],
                "OFMDim": [oh, ow], "SIMD": 1, "Stride": [s, s], "Dilation": [1, 1], "depthwise": 0,
                "inputDataType": in_dt, "outputDataType": mvau_in_dt,
                "ifm_h": h, "ifm_w": wd, "pad": p,
            }, layer.name, kind, out_kind, oh * ow * c * kh * kw))
            kind = out_kind
            nv = [1, oh, ow]
        weights = _mvau_weights(layer, fmap)
        mh, mw = weights.shape
        xnor = kind == "bits" and weight_set_of(layer.weight_values) == "binary"
        fused = block.threshold is not None and block.pool is None
        act_kind, act_dt, act_val, _ = _act_attrs(block.threshold) if fused else ("i32", "", 0, 0)
        attrs = {
            "MW": mw, "MH": mh, "PE": 1, "SIMD": 1, "numInputVectors": nv,
            "inputDataType": BINARY if xnor else mvau_in_dt,
            "weightDataType": BINARY if xnor else layer.weight_dtype,
            "accDataType": int_dtype(0, mw) if xnor else int_dtype(layer.acc_min, layer.acc_max),
            "binaryXnorMode": int(xnor), "noActivation": 0 if fused else 1, "ActVal": act_val,
            "resType": "lut", "mem_mode": "internal_decoupled", "ram_style": "auto",
            "ram_style_thresholds": "distributed",
        }
        attrs["outputDataType"] = act_dt if fused else int_dtype(layer.acc_min, layer.acc_max)
        params = {"weight": weights, "wkind": "bits" if xnor else "i8", "acc_min": layer.acc_min,
                  "acc_max": layer.acc_max, "act_dir": None}
        nvp = int(np.prod(nv))
        stages.append(Stage(f"{name}_mvau", "MVAU", attrs, layer.name, kind, act_kind, mh * nvp, params))
        fmap = tuple(layer.out_shape)
        if fused:
            params.update(_act_params(block.threshold))
            kind = act_kind
            continue
        kind = "i32"
        if block.pool is not None:
            pool, thr = block.pool, block.threshold
            c, h, wd = pool.in_shape
            _, oh, ow = pool.out_shape
            stages.append(Stage(f"{name}_pool", "StreamingMaxPool", {
                "ImgDim": [h, wd], "PoolDim": [pool.k, pool.k], "NumChannels": c, "PE": 1, "CeilMode": 0,
                "dataType": attrs["outputDataType"], "tied": True,
            }, pool.name, "i32", "i32", oh * ow * c))
            fmap = tuple(pool.out_shape)
            act_kind, act_dt, act_val, steps = _act_attrs(thr)
            stages.append(Stage(f"{name}_thr", "Thresholding", {
                "NumChannels": c, "PE": 1, "numInputVectors": [1, oh, ow], "numSteps": steps, "ActVal": act_val,
                "inputDataType": attrs["outputDataType"], "weightDataType": attrs["outputDataType"],
                "outputDataType": act_dt, "tied": True,
            }, thr.name, "i32", act_kind, oh * ow * c,
                {**_act_params(thr), "acc_min": layer.acc_min, "acc_max": layer.acc_max}))
            kind = act_kind
            continue
        aff = block.affine
        k = model.num_classes
        if mh * nvp != k:
            raise DnncError(f"layer '{layer.name}': the output layer must produce {k} accumulators "
                            f"(got {mh} x {nvp} positions)")
        stages.append(Stage("label_select", "LabelSelect", {
            "Labels": k, "PE": 1, "K": 1, "inputDataType": attrs["outputDataType"],
            "outputDataType": int_dtype(0, k - 1),
        }, aff.name, "i32", "", 1, {"scale": aff.scale.astype(np.float32), "bias": aff.bias.astype(np.float32),
                                              "post": [(op, np.asarray(v, np.float32)) for op, v in aff.post]}))
    return stages


def connect(stages: list[Stage]) -> list[Stage]:
    """Set input-converter widths and insert width converters where a producer's lanes differ."""
    out: list[Stage] = []
    for idx, s in enumerate(stages):
        if s.op == "InputConvert":
            w = stages[idx + 1].in_width
            s.attrs["inWidth"] = s.attrs["outWidth"] = w
        if out and out[-1].out_width != s.in_width:
            prev = out[-1]
            out.append(Stage(f"{prev.name}_dwc", "StreamingDataWidthConverter", {
                "NumElems": prev.out_elems, "inWidth": prev.out_width, "outWidth": s.in_width,
                "dataType": prev.attrs.get("outputDataType", prev.attrs.get("dataType", INT32)),
            }, prev.layer, prev.out_kind, prev.out_kind, prev.out_elems))
            out[-1].check()
        out.append(s)
    return out
