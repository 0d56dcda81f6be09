"""Conv layers in pixel lanes (runtime/dnnc_pixconv.h; docs/targets/host.md, "Pixel lanes"): which layers fit, and
their tables, per-pixel thresholds and scratch, in the order the runtime reads them."""

from __future__ import annotations

import numpy as np

from dnnc.backends.c.packing import ConvEncoding, border_corrections, border_patterns
from dnnc.ir.model import Linear
from dnnc.vocabulary import UINT8


def fits(layer: Linear, ch: int, cw: int) -> bool:
    """Stride 1, conv rows of at most 32 pixels (a row of bits is one word), at least 64 conv pixels (Brevitas
    CNV's 10 x 10 conv measured faster in pixel lanes), int16 sums that cannot wrap (sum |w| <= 32767 per output,
    times 255 on the raw input, whose affine scale must not be 0), tables within 1 MiB."""
    o, c, kh, kw = layer.weight.shape
    wabs = int(np.abs(layer.weight.astype(np.int64)).reshape(o, -1).sum(axis=1).max())
    if layer.in_dtype == UINT8:
        ok = 255 * wabs <= 32767 and layer.in_mul != 0
    else:
        ok = wabs <= 32767 and o * kh * kw * 8 * -(-c // 32) * 16 <= 1 << 20
    return ok and layer.stride == 1 and layer.pad <= 16 and cw <= 32 and ch * cw >= 64


def packed(layer: Linear, t: np.ndarray, wpp: int, ch: int, cw: int, oh: int, ow: int) -> ConvEncoding:
    """Packed input (dnnc_pix_packed): per output, tap and nibble g of the input words, the 16 dot products e of
    channels 4g..4g+3 with every input nibble (bit 1 = +1). e has the parity of the 4 weights' sum whatever the
    input, so the tables hold h = (e - parity) / 2 (twice as many int8 sums before widening), and each pixel's
    threshold folds in the parities of its valid taps: 2 sum(h) + C(o, pixel) >= t exactly when
    sum(h) > ceil((t - C) / 2) - 1."""
    o, c, kh, kw = layer.weight.shape
    _, h_in, w_in = layer.in_shape
    G, o2 = 8 * wpp, o + o % 2
    w = np.zeros((o2, kh, kw, 4 * G), np.int64)  # [o][ky][kx][channel], outputs padded to even
    w[:o, :, :, :c] = layer.weight.transpose(0, 2, 3, 1)
    signs = np.array([[1 if (v >> i) & 1 else -1 for i in range(4)] for v in range(16)], np.int64)  # [v][i]
    tab = w.reshape(o2, kh, kw, G, 4) @ signs.T  # [o][ky][kx][g][v]
    par = tab[..., :1] & 1
    tab = (tab - par) >> 1
    big = int(np.abs(tab).max()) or 1
    p16 = -(-cw // 16) * 16  # the planes' row pitch: dnnc_pix_pitch
    pitch = p16 if -(-(ch * p16) // 32) == -(-(ch * cw) // 32) else cw
    plen = -(-((h_in + 2 * layer.pad) * pitch + 64) // 64) * 64
    words = -(-(ch * pitch) // 32)
    # per pixel (y, x) at y * pitch + x: the parities of its valid taps, and the threshold on sum(h)
    vr = np.array([[0 <= y + ky - layer.pad < h_in for ky in range(kh)] for y in range(ch)], np.int64)
    vc = np.array([[0 <= x + kx - layer.pad < w_in for kx in range(kw)] for x in range(cw)], np.int64)
    cpar = np.einsum("yk,xl,okl->oyx", vr, vc, par[:o, ..., 0].sum(axis=3))
    bound = np.full((o, ch, pitch), 32767, np.int64)  # past conv_w: never set
    bound[:, :, :cw] = np.clip(-((cpar - t.astype(np.int64)[:, None, None]) // 2) - 1, -32768, 32767)
    flat = np.full((o, words * 32), 32767, np.int64)
    flat[:, :ch * pitch] = bound.reshape(o, -1)
    # the kernel's order: per register of 32 pixels, the 16 even ones, then the 16 odd ones
    pthr = flat.reshape(o, words, 16, 2).transpose(0, 1, 3, 2)
    # dnnc_conv_pix: 64-byte alignment, nibble planes, 8 nibble rows; then the bits
    scratch_bytes = 64 + kw * G * plen + 8 * (-(-(w_in + 96) // 32) * 32)
    return ConvEncoding(
        arrays={"ptab": ("int8_t", tab.astype(np.int8).reshape(-1)), "pthr": ("int16_t", pthr.astype(np.int16).reshape(-1))},
        fields={"pchunk": 127 // big & ~3},  # int8 sums of a multiple of 4 lookups (four nibbles a kernel step)
        weight_bytes=tab.size, threshold_bytes=pthr.size * 2,
        scratch_words=scratch_bytes // 4 + _bits_words(words, o, oh, ow))


def raw(layer: Linear, t: np.ndarray, ch: int, cw: int, oh: int, ow: int) -> ConvEncoding:
    """The first conv on the raw image (dnnc_pix_raw): VPMADDUBSW of tap pairs. The output is
    in_mul * S + in_add * (sum of the valid taps' weights) >= t, so with S' = sign(in_mul) * S (weights negated for
    in_mul < 0) each pixel's bit is S' > ceil((t - offset) / |in_mul|) - 1: one int16 per output and pixel."""
    o, c, kh, kw = layer.weight.shape
    _, h, w = layer.in_shape
    ntap, nreg = c * kh * kw, -(-(ch * cw) // 16)
    mul, sgn = int(layer.in_mul), 1 if layer.in_mul > 0 else -1
    taps = np.zeros((o + o % 2, ntap + ntap % 2), np.int64)
    taps[:o, :ntap] = sgn * layer.weight.astype(np.int64).reshape(o, -1)  # (c, ky, kx) order
    b = taps.reshape(o + o % 2, -1, 2).astype(np.int8).view(np.uint8).astype(np.uint32)
    pw2 = b[..., 0] | b[..., 1] << 8 | b[..., 0] << 16 | b[..., 1] << 24
    rows, rmasks = border_patterns(ch, 1, layer.pad, kh, h)
    cols, cmasks = border_patterns(cw, 1, layer.pad, kw, w)
    invalid, _ = border_corrections(layer.weight, rmasks, cmasks)  # [rp][cp][o]: the padded taps' weights
    offset = int(layer.in_add) * (layer.weight.astype(np.int64).reshape(o, -1).sum(axis=1) - invalid)
    pix_off = offset[np.array(rows)][:, np.array(cols)].reshape(ch * cw, o)  # [pixel][o]
    pthr = np.full((o, -(-nreg // 2) * 32), 32767, np.int64)  # whole words of pixels
    pthr[:, :ch * cw] = np.clip(-((pix_off - t.astype(np.int64)) // abs(mul)) - 1, -32768, 32767).T
    # dnnc_conv_pix: padded image, pair planes; then the bits
    img = -(-(c * (h + 2 * layer.pad) * (w + 2 * layer.pad + 32)) // 32) * 32
    scratch_bytes = img + -(-ntap // 2) * (32 * nreg + 32)
    return ConvEncoding(
        arrays={"pw2": ("uint32_t", pw2.reshape(-1)), "pthr": ("int16_t", pthr.astype(np.int16).reshape(-1))},
        fields={"in_u8": 1}, weight_bytes=pw2.size * 4, threshold_bytes=pthr.size * 2,
        scratch_words=scratch_bytes // 4 + _bits_words(-(-(ch * cw) // 32), o, oh, ow))


def _bits_words(words: int, o: int, oh: int, ow: int) -> int:
    """dnnc_conv_pix's bit arrays after the planes: the conv pixels' bits, `words` a row and 2 more (the pooling
    reads past a row), and the pooled pixels' bits, each for the outputs rounded up to 32."""
    return (words + 2 + -(-(oh * ow) // 32)) * 32 * -(-o // 32)
