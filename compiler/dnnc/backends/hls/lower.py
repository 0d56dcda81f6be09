"""Dataflow lowering: IR layers -> streaming stages (FINN's node types), and width converters.

Streams carry feature maps pixel-major with channels innermost (NHWC, FINN's layout); so a dense layer
after a conv gets its weight columns permuted from the IR's (C, H, W) flatten order to (H, W, C), and a
conv's columns are ordered (kh, kw, c) like the sliding-window generator's output. Neither changes a sum.
A negative BN slope is kept as direction -1 per channel: stored weights are never negated.
"""

from __future__ import annotations

import numpy as np

from dnnc.backends.hls.stages import Stage, int_dtype
from dnnc.errors import DnncError
from dnnc.ir.model import ArgMax, IRModel, Linear, MaxPool, OutputAffine, Threshold


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
                        "exceeds int32, which the HLS kernels use")


def _threshold_params(t: Threshold) -> dict:
    lo, hi = int(t.threshold.min(initial=0)), int(t.threshold.max(initial=0))
    return {
        "thr": t.threshold.astype(np.int64), "dir": t.direction.astype(np.int8),
        "cst": np.where(t.const > 0, 1, -1).astype(np.int8),
        "thr_type": "int32_t" if -(2**31) <= lo and hi < 2**31 else "int64_t",
    }


def lower(model: IRModel) -> list[Stage]:
    """The stage list, every stage at PE = SIMD = 1 (folding decides later)."""
    layers = [x for x in model.layers if not isinstance(x, ArgMax)]
    stages: list[Stage] = []
    kind = "u8"  # kind of the stream feeding the next stage
    i = 0
    n_lin = 0
    fmap: tuple[int, ...] = tuple(model.input_shape)  # (C, H, W) of the stream between layers
    while i < len(layers):
        layer = layers[i]
        if not isinstance(layer, Linear):
            raise DnncError(f"layer '{layer.name}': the HLS backend expects a Linear here, "
                            f"got {type(layer).__name__}")
        _check_acc(layer)
        name = f"L{n_lin}"
        n_lin += 1
        in_dt = "UINT8" if layer.in_dtype == "UINT8" else "BIPOLAR"
        if layer.in_dtype == "UINT8" and (layer.in_mul, layer.in_add) != (1, 0):
            lo, hi = sorted((layer.in_add, layer.in_mul * 255 + layer.in_add))
            in_dt = int_dtype(lo, hi)
            n = int(np.prod(layer.in_shape))
            stages.append(Stage(f"{name}_input", "InputConvert", {
                "NumElems": n, "inWidth": 1, "outWidth": 1, "mul": layer.in_mul, "add": layer.in_add,
                "inputDataType": "UINT8", "outputDataType": in_dt, "dataType": in_dt,
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
                mvau_in_dt = "TERNARY"  # padded bipolar windows carry 0 at padded positions
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
        xnor = kind == "bits" and tuple(layer.weight_values) == (-1, 1)
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        fused = isinstance(nxt, Threshold)
        attrs = {
            "MW": mw, "MH": mh, "PE": 1, "SIMD": 1, "numInputVectors": nv,
            "inputDataType": "BINARY" if xnor else mvau_in_dt,
            "weightDataType": "BINARY" if xnor else layer.weight_dtype,
            "accDataType": f"UINT{mw.bit_length()}" if xnor else int_dtype(layer.acc_min, layer.acc_max),
            "binaryXnorMode": int(xnor), "noActivation": 0 if fused else 1, "ActVal": 0,
            "resType": "lut", "mem_mode": "internal_decoupled", "ram_style": "auto",
            "ram_style_thresholds": "distributed",
        }
        attrs["outputDataType"] = "BIPOLAR" if fused else int_dtype(layer.acc_min, layer.acc_max)
        params = {"weight": weights, "wkind": "bits" if xnor else "i8", "acc_min": layer.acc_min,
                  "acc_max": layer.acc_max, "act_dir": None}
        nvp = int(np.prod(nv))
        mv = Stage(f"{name}_mvau", "MVAU", attrs, layer.name, kind, "bits" if fused else "i32", mh * nvp, params)
        stages.append(mv)
        i += 1
        fmap = tuple(layer.out_shape)
        if fused:
            params.update(_threshold_params(nxt))
            kind = "bits"
            i += 1
            continue
        kind = "i32"
        if isinstance(nxt, MaxPool):
            c, h, wd = nxt.in_shape
            _, oh, ow = nxt.out_shape
            if nxt.k != nxt.stride:
                raise DnncError(f"layer '{nxt.name}': the HLS backend supports max-pool with stride == k only")
            stages.append(Stage(f"{name}_pool", "StreamingMaxPool", {
                "ImgDim": [h, wd], "PoolDim": [nxt.k, nxt.k], "NumChannels": c, "PE": 1, "CeilMode": 0,
                "dataType": attrs["outputDataType"], "tied": True,
            }, nxt.name, "i32", "i32", oh * ow * c))
            fmap = tuple(nxt.out_shape)
            i += 1
            nxt = layers[i] if i < len(layers) else None
            if not isinstance(nxt, Threshold):
                raise DnncError(f"layer '{layers[i - 1].name}': max-pool must be followed by a threshold")
            stages.append(Stage(f"{name}_thr", "Thresholding", {
                "NumChannels": c, "PE": 1, "numInputVectors": [1, oh, ow], "numSteps": 1, "ActVal": 0,
                "inputDataType": attrs["outputDataType"], "weightDataType": attrs["outputDataType"],
                "outputDataType": "BIPOLAR", "tied": True,
            }, nxt.name, "i32", "bits", oh * ow * c,
                {**_threshold_params(nxt), "acc_min": layer.acc_min, "acc_max": layer.acc_max}))
            kind = "bits"
            i += 1
            continue
        if isinstance(nxt, OutputAffine):
            if i + 1 != len(layers):
                raise DnncError(f"layer '{nxt.name}': the output affine must be the last layer")
            k = model.num_classes
            if mh * nvp != k:
                raise DnncError(f"layer '{layer.name}': the output layer must produce {k} accumulators "
                                f"(got {mh} x {nvp} positions)")
            stages.append(Stage("label_select", "LabelSelect", {
                "Labels": k, "PE": 1, "K": 1, "inputDataType": attrs["outputDataType"],
                "outputDataType": int_dtype(0, k - 1),
            }, nxt.name, "i32", "", 1, {"scale": nxt.scale.astype(np.float32),
                                           "bias": nxt.bias.astype(np.float32)}))
            return stages
        raise DnncError(f"layer '{layer.name}': unsupported successor "
                        f"{type(nxt).__name__ if nxt is not None else 'none'} for the HLS backend")
    raise DnncError("model: no output affine layer; the HLS backend needs one")


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
                "dataType": prev.attrs.get("outputDataType", prev.attrs.get("dataType", "INT32")),
            }, prev.layer, prev.out_kind, prev.out_kind, prev.out_elems))
            out[-1].check()
        out.append(s)
    return out
