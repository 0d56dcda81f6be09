"""First conv layers on Helium targets (runtime/dnnc_layers.h dnnc_conv_u8_s16 and dnnc_conv_u8_i8, kernels in
runtime/dnnc_mve.h; docs/targets/cortex-m55.md): which layout fits, and its weights, thresholds or constants and
scratch, in the order the runtime reads them."""

from __future__ import annotations

import numpy as np

from dnnc.backends.c.packing import ConvEncoding, border_corrections, border_patterns
from dnnc.ir.model import Linear


def first_conv(layer: Linear, t: np.ndarray, ch: int, cw: int, pool_k: int) -> ConvEncoding | None:
    """The int16 layout where its sums cannot overflow, else the int8 one, else None (another target's layout)."""
    return _s16(layer, t, ch, cw, pool_k) or (_i8(layer, ch, cw, pool_k) if pool_k <= 4 else None)


def _patterns(layer: Linear, ch: int, cw: int) -> tuple[list, list, np.ndarray]:
    """Row and column border pattern ids, and per pattern and output the weight sum of the valid taps."""
    o, _, kh, kw = layer.weight.shape
    _, h, w = layer.in_shape
    rows, rmasks = border_patterns(ch, layer.stride, layer.pad, kh, h)
    cols, cmasks = border_patterns(cw, layer.stride, layer.pad, kw, w)
    padsum, _ = border_corrections(layer.weight, rmasks, cmasks)
    wsum = layer.weight.astype(np.int64).reshape(o, -1).sum(axis=1)
    return rows, cols, (wsum[None, None, :] - padsum.astype(np.int64)).reshape(-1, o)


def _s16(layer: Linear, t: np.ndarray, ch: int, cw: int, pool_k: int) -> ConvEncoding | None:
    """VMLA by a scalar (u8_wide = 3): sixteen outputs in two int16 vectors, each raw pixel p of the zero-padded
    image times its tap's weights, w8 [o16/16][c][kh][kw][16]. The int16 sums s = sum w p are exact when
    255 * sum |w| <= 32640; the test in_mul * s + in_add * (the valid taps' weight sum) >= t becomes s >= T per
    border pattern and output (the weights negated when in_mul < 0): T = ceil((t - offset) / |in_mul|), clamped
    to +-32767 (|s| <= 32640: always / never; padded outputs never), in w16 [pattern][o16]."""
    o, c, kh, kw = layer.weight.shape
    _, h, w = layer.in_shape
    w2 = layer.weight.astype(np.int64).reshape(o, -1)
    if 255 * int(np.abs(w2).sum(axis=1).max(initial=0)) > 32640 or pool_k > 8:  # runtime: 64 windows
        return None
    o16 = -(-o // 16) * 16
    w8 = np.zeros((o16, c * kh * kw), np.int64)
    w8[:o] = w2 * (-1 if layer.in_mul < 0 else 1)
    w8 = w8.reshape(o16 // 16, 16, -1).transpose(0, 2, 1)  # [group][tap][16]
    rows, cols, valid = _patterns(layer, ch, cw)
    offset = int(layer.in_add) * valid
    tt, m = t.astype(np.int64)[None, :], abs(int(layer.in_mul))
    big = np.where(offset >= tt, -32767, 32767) if m == 0 else -((offset - tt) // m)
    t16 = np.full((offset.shape[0], o16), 32767, np.int64)
    t16[:, :o] = np.where(tt == np.iinfo(np.int32).min, -32767, np.clip(big, -32767, 32767))
    arrays = {"w8": ("int8_t", w8.astype(np.int8).reshape(-1)), "w16": ("int16_t", t16.astype(np.int16).reshape(-1)),
              "rowpat": ("uint8_t", np.array(rows, np.uint8)), "colpat": ("uint8_t", np.array(cols, np.uint8))}
    return ConvEncoding(arrays, {"u8_wide": 3, "ncolpat": len(set(cols))}, w8.size + t16.size * 2,
                     -(-(c * (h + 2 * layer.pad) * (w + 2 * layer.pad) + 4) // 4))  # the padded image, + 3 bytes


def _i8(layer: Linear, ch: int, cw: int, pool_k: int) -> ConvEncoding | None:
    """VMLADAV (u8_wide = 2): int8 weights [o][kpad], kpad = c*kh*kw rounded up to 16, the pixels as p - 128 and
    the zero padding as p = 0; corr holds the constant of each border pattern, 128 * in_mul * sum(w) + in_add *
    (the valid taps' weight sum). None when the weights or the sums do not fit int8 / int32."""
    o, c, kh, kw = layer.weight.shape
    _, h, w = layer.in_shape
    if layer.weight.size and not -128 <= int(layer.weight.min()) <= int(layer.weight.max()) <= 127:
        return None
    k = c * kh * kw
    kpad = -(-k // 16) * 16
    wsum = layer.weight.astype(np.int64).reshape(o, -1).sum(axis=1)
    babs = np.abs(layer.weight.astype(np.int64)).reshape(o, -1).sum(axis=1)
    mul, add = int(layer.in_mul), int(layer.in_add)
    # |in_mul * (w . (p - 128))| and |constant| bounds: every partial sum of the kernel fits int32
    if int((abs(mul) * 128 * babs + 128 * abs(mul) * np.abs(wsum) + abs(add) * babs).max(initial=0)) >= 2**31:
        return None
    w8 = np.zeros((o, kpad), np.int8)
    w8[:, :k] = layer.weight.reshape(o, -1)
    rows, cols, valid = _patterns(layer, ch, cw)
    corr = 128 * mul * wsum[None, :] + add * valid
    arrays = {"w8": ("int8_t", w8.reshape(-1)), "rowpat": ("uint8_t", np.array(rows, np.uint8)),
              "colpat": ("uint8_t", np.array(cols, np.uint8)), "corr": ("int32_t", corr.astype(np.int32).reshape(-1))}
    # col: the pool window's receptive fields, then the image
    return ConvEncoding(arrays, {"u8_wide": 2, "kpad": kpad, "ncolpat": len(set(cols))}, w8.size + corr.size * 4,
                     -(-(pool_k * pool_k * kpad + c * (h + 2 * layer.pad) * (w + 2 * layer.pad)) // 4))
