"""Lower a backend-facing IRModel to a C plan: packed constant arrays, layer descriptors and an arena map.

The plan is plain data (dicts, lists, numpy arrays) that templates/c/ renders; no C text is built here.
Stages: every Linear with what follows it: [MaxPool] Threshold | MultiThreshold (hidden) or OutputAffine
ArgMax (output). Packing follows runtime/dnnc_runtime.h (bit 1 = +1, LSB first, zero padding, conv
activations HWC), k-bit activations as bit planes (runtime/dnnc_kbit.h; dense layers only).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dnnc.backends.c import helium, pixel_lanes
from dnnc.backends.c.packing import (
    RUNTIME_KINDS,
    ConvEncoding,
    border_corrections,
    border_patterns,
    flip_words,
    input_positions,
    multi_thresholds,
    pad_lanes,
    pad_words,
    runtime_kind,
    thresholds,
    to_lanes,
    weight_planes,
)
from dnnc.backends.c.toolchain import vector_kernels, vector_lanes
from dnnc.errors import DnncError
from dnnc.ir.model import ArgMax, IRModel, Linear, MaxPool, MultiThreshold, OutputAffine, Threshold
from dnnc.vocabulary import UINT8, conv_out_size

# The layer descriptor structs of runtime/dnnc_layers.h, field by field in declaration order, each with the
# value it keeps when a layer variant does not use it ("NULL" marks a pointer). This is the one list: the
# planner fills it, templates/c/model.c.j2 writes it as designated initializers, and
# tests/test_c_descriptors.py checks it against the C structs.
CONV_FIELDS: dict[str, int | str] = {  # dnnc_conv_t
    "in_c": 0,
    "in_h": 0,
    "in_w": 0,
    "out_c": 0,
    "kh": 0,
    "kw": 0,
    "stride": 0,
    "pad": 0,
    "conv_h": 0,
    "conv_w": 0,
    "pool_k": 0,
    "pool_s": 0,
    "out_h": 0,
    "out_w": 0,
    "in_u8": 0,
    "in_mul": 0,
    "in_add": 0,
    "kpad": 0,
    "w32": "NULL",
    "u8_wide": 0,
    "w16": "NULL",
    "kind": "DNNC_W_BINARY",
    "in_wpp": 0,
    "ncol": 0,
    "w": "NULL",
    "tot": "NULL",
    "rowpat": "NULL",
    "colpat": "NULL",
    "ncolpat": 0,
    "interior": -1,
    "corr": "NULL",
    "lanes": 0,
    "kq": 0,
    "w8": "NULL",
    "thr": "NULL",
    "flip": "NULL",
    "pix": 0,
    "ptab": "NULL",
    "pchunk": 0,
    "pw2": "NULL",
    "pthr": "NULL",
}
CONVB_FIELDS = ("in_c", "in_h", "in_w", "out_c", "kh", "kw", "stride", "pad", "pool_k", "pool_s", "out_h", "out_w",
                "in_u8", "in_mul", "in_add", "w", "nthr", "out_bias", "out_step", "thr", "flip")  # dnnc_convb_t (dnnc_kbit.h)
DENSE_U8_FIELDS: dict[str, int | str] = {  # dnnc_dense_u8_t
    "nin": 0,
    "nout": 0,
    "group": 0,
    "levels": 0,
    "vg": 0,
    "ngroups": 0,
    "chunk": 0,
    "in_mul": 0,
    "in_add": 0,
    "values": "NULL",
    "codes": "NULL",
}


@dataclass
class Array:
    """One const array of the generated model.c."""

    name: str
    ctype: str  # uint32_t, int32_t, int16_t, int8_t, uint8_t, float
    values: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.values.size * np.dtype(_NP[self.ctype]).itemsize)


_NP = {
    "uint32_t": np.uint32,
    "int32_t": np.int32,
    "int16_t": np.int16,
    "int8_t": np.int8,
    "uint8_t": np.uint8,
    "float": np.float32,
}


@dataclass
class Stage:
    name: str
    op: str  # dense_u8 | dense_bits | conv | output
    fields: dict  # descriptor struct fields (ints or array names)
    arrays: list[Array] = field(default_factory=list)
    weight_bytes: int = 0
    threshold_bytes: int = 0
    scratch: dict = field(default_factory=dict)  # buffer name -> words
    in_buf: str = "raw"  # raw | A | B
    out_buf: str = ""  # A | B | "" (output stage)
    out_words: int = 0
    in_words: int = 0  # packed input words read (>= the producer's out_words; the excess is zeroed)
    src: str = ""  # the IR layers, for comments and report
    macs: int = 0


@dataclass
class Plan:
    name: str
    input_shape: tuple[int, int, int]
    num_classes: int
    stages: list[Stage]
    arena: dict  # buffer -> (offset_words, words)
    arena_words: int
    out_acc: str  # scratch buffer holding the output accumulators
    lanes: int = 0  # output-lane layout (runtime/dnnc_lanes.h) when > 0
    pix: bool = False  # some conv layer uses the pixel-lane layout (runtime/dnnc_pixconv.h)
    input_thresholds: np.ndarray | None = None  # float32 input quantized on the device (IRModel's)
    byte_codes: np.ndarray | None = None  # uint8[256]: the byte entry point's table (IRModel's)
    input_map: str | None = None

    @property
    def kbit(self) -> bool:
        """Whether any stage reads or writes k-bit activations (the library ships runtime/dnnc_kbit.h)."""
        return any("mthr" in s.fields or "in_planes" in s.fields or s.fields.get("inner") == "dense_bytes"
                   for s in self.stages)

    @property
    def flash_bytes(self) -> int:
        extra = 0 if self.input_thresholds is None else self.input_thresholds.nbytes
        extra += 0 if self.byte_codes is None else self.byte_codes.nbytes
        return sum(a.nbytes for s in self.stages for a in s.arrays) + extra


class _Planner:
    def __init__(self, model: IRModel, target: dict):
        self.model = model
        self.target = target
        self.lut_bytes = target["lut_bytes"]
        self.lanes = vector_lanes(target)  # output-lane layout (runtime/dnnc_lanes.h) when > 0
        self.avx2 = self.lanes > 0 and vector_kernels(target) == "avx2"  # the output lanes' AVX2 kernels
        # pixel-lane conv kernels (runtime/dnnc_pixconv.h, pixel_lanes.py) where only AVX2 is there: VPSHUFB table
        # lookups beat the nibble-table popcount of the output lanes (docs/targets/host.md, "Pixel lanes")
        self.pix = self.avx2 and target["pixel_lanes"] == "auto"

    def check_kind(self, layer: Linear) -> tuple[str, int]:
        kind = runtime_kind(layer.weight_values)
        if kind is None:
            raise DnncError(
                f"layer '{layer.name}': weight values {tuple(int(v) for v in layer.weight_values)} are not a "
                f"supported set ({', '.join(RUNTIME_KINDS)})"
            )
        return kind

    def dense_u8_direct(self, layer: Linear, st: Stage) -> None:
        """First dense layer as plain int8 weights (hosts: the compiler vectorizes the u8 x s8 dot products)."""
        o, n = layer.weight.shape
        rowsum = layer.weight.astype(np.int64).sum(axis=1).astype(np.int32)
        st.arrays += [Array(f"{st.name}_w8", "int8_t", layer.weight.reshape(-1).astype(np.int8)),
                      Array(f"{st.name}_rowsum", "int32_t", rowsum)]
        st.weight_bytes = o * n + o * 4
        st.fields.update(nin=n, nout=o, in_mul=layer.in_mul, in_add=layer.in_add, w8=f"{st.name}_w8",
                         rowsum=f"{st.name}_rowsum")
        st.scratch.update(acc=o)
        st.macs = o * n

    def dense_u8_lanes(self, layer: Linear, st: Stage) -> None:
        """First dense layer as bit-packed weight codes in the output-lane layout (runtime dnnc_lanes_u8)."""
        o, n = layer.weight.shape
        values = np.array([int(v) for v in layer.weight_values], np.int64)
        a = int(values[1] - values[0]) if values.size > 1 else 1
        if values.size > 1 and np.array_equal(values, values[0] + a * np.arange(values.size)):
            b = int(values[0])
            d = np.searchsorted(values, layer.weight.astype(np.int64))
            # (AVX2: binary codes in 2-bit slots, 4 planes a group instead of 8 (whose registers spill): mnist-pi's
            # first layer 10.6 -> 9.3 us)
            bits = next(k for k in ((2, 4, 8) if self.avx2 else (1, 2, 4, 8)) if values.size <= 2**k)
        else:  # not affine in the index: plain bytes, d = w + 128
            a, b, bits = 1, -128, 8
            d = layer.weight.astype(np.int64) + 128
        r = 8 // bits
        gin = 4 * r
        ng = -(-n // gin)
        dpad = np.zeros((o, ng * gin), np.int64)
        dpad[:, :n] = d
        # [o][g][r][e] -> byte (g, e) of lane o holds the codes of inputs 4 (r g + r') + e at bits [bits r', ...)
        packed = (dpad.reshape(o, ng, r, 4) << (bits * np.arange(r))[None, None, :, None]).sum(axis=2)
        codes = to_lanes(packed.astype(np.uint8), self.lanes, inner=1)  # [blk][g][16][4]
        rowsum = layer.weight.astype(np.int64).sum(axis=1)
        mul, add = int(layer.in_mul), int(layer.in_add)
        kconst = pad_lanes(mul * a * 128 * d.sum(axis=1) + add * rowsum, self.lanes)
        worst = abs(mul * a) * int(d.max(initial=0)) * 128 * n + abs(mul * b) * 255 * n + int(np.abs(kconst).max())
        if worst >= 2**31:
            raise DnncError(f"layer '{layer.name}': partial sums up to {worst} overflow int32")
        st.arrays += [Array(f"{st.name}_codes", "uint8_t", codes.reshape(-1)),
                      Array(f"{st.name}_kconst", "int32_t", kconst.astype(np.int32))]
        st.weight_bytes = sum(x.nbytes for x in st.arrays)
        st.fields.update(nin=n, nout=o, nout_lanes=kconst.size, bits=bits, amul=mul * a, bmul=mul * b,
                         codes=f"{st.name}_codes", kconst=f"{st.name}_kconst")
        st.scratch.update(acc=kconst.size)
        st.macs = o * n

    def dense_u8(self, layer: Linear, st: Stage) -> None:
        values = tuple(int(v) for v in layer.weight_values)
        levels = len(values)
        o, n = layer.weight.shape
        # inputs per code byte: the largest table (levels^g <= 256) amortizes best over many outputs; few
        # outputs cannot pay for big tables. Cost model: tables ~2 instructions/entry, lookups ~4 each.
        gmax = max(g for g in range(1, 9) if levels**g <= 256)
        group = min(range(1, gmax + 1), key=lambda g: -(-n // g) * (2 * levels**g + 4 * o))
        vg = levels**group
        # whole blocks of 4 groups (the lookup loops take four codes a word; padded groups have code 0 and a
        # table whose entry 0 is 0, no u), and table chunks of whole blocks when the table RAM holds four tables
        ngroups = -(-n // (4 * group)) * 4
        digits = np.zeros((o, ngroups * group), np.int64)
        digits[:, :n] = np.searchsorted(np.array(values), layer.weight.astype(np.int64))
        codes = (digits.reshape(o, ngroups, group) * levels ** np.arange(group)).sum(axis=-1).astype(np.uint8)
        cap = self.lut_bytes // (4 * vg)
        chunk = max(1, min(ngroups, cap if cap < 4 else cap // 4 * 4))
        st.arrays += [
            Array(f"{st.name}_values", "int8_t", np.array(values, np.int8)),
            Array(f"{st.name}_codes", "uint8_t", codes.reshape(-1)),
        ]
        st.weight_bytes = codes.size
        st.fields.update(
            nin=n,
            nout=o,
            group=group,
            levels=levels,
            vg=vg,
            ngroups=ngroups,
            chunk=chunk,
            in_mul=layer.in_mul,
            in_add=layer.in_add,
            values=f"{st.name}_values",
            codes=f"{st.name}_codes",
        )
        st.scratch.update(u=-(-n // group) * group, tab=chunk * vg, acc=o)
        st.macs = o * n

    def plane_words(self, nwords: int, consumer: Linear) -> int:
        """Words per bit plane of a k-bit vector: the consumer kernel's block, or exact with lanes."""
        return nwords if self.lanes else pad_words(nwords, self.check_kind(consumer)[0])

    def dense_bits(self, layer: Linear, st: Stage, in_layout: tuple) -> None:
        kind, nplanes = self.check_kind(layer)
        o = layer.weight.shape[0]
        w2 = layer.weight.reshape(o, -1)
        pos, nwords = input_positions(layer, in_layout)
        if pos.shape[0] != w2.shape[1]:
            raise DnncError(
                f"layer '{layer.name}': fan-in {w2.shape[1]} does not match its input {pos.shape[0]}"
            )
        in_planes, level_bias = in_layout[2:4] if _kbit(in_layout) else (1, 0)
        # kernels count 4 (binary: 8) words per step; pad words are 0 everywhere. Lanes: any word count.
        # (k-bit input: P planes at this stride, which the producer wrote: `plane_words`)
        n4 = nwords if self.lanes else pad_words(nwords, kind)
        wfull = np.zeros((o, n4 * 32), np.int8)
        wfull[:, pos] = w2
        values = tuple(int(v) for v in layer.weight_values)
        planes = weight_planes(wfull, values)
        tot = np.abs(w2.astype(np.int64)).sum(axis=1)
        wsum = w2.astype(np.int64).sum(axis=1)
        if _kbit(in_layout):  # the kernels then return X_p = S_p + W (runtime/dnnc_kbit.h)
            tot = tot + wsum
        tot = tot.astype(np.int32)
        nout = o
        if self.lanes:
            planes = to_lanes(planes.reshape(o, n4, -1), self.lanes)
            tot = pad_lanes(tot, self.lanes)
            nout = tot.size
        st.arrays += [
            Array(f"{st.name}_w", "uint32_t", planes.reshape(-1)),
            Array(f"{st.name}_tot", "int32_t", tot),
        ]
        st.weight_bytes = planes.size * 4 + tot.size * 4
        st.fields.update(kind=kind, planes=nplanes, n=n4, n_real=nwords, nout=o, nout_lanes=nout,
                         w=f"{st.name}_w", tot=f"{st.name}_tot")
        st.in_words = n4 * in_planes
        st.scratch.update(acc=nout)
        if _kbit(in_layout):  # acc = bias * W + (sum_p 2^p X_p) / 2 (runtime/dnnc_kbit.h)
            kb = level_bias * wsum
            kb = pad_lanes(kb, self.lanes) if self.lanes else kb
            st.arrays.append(Array(f"{st.name}_kb", "int32_t", kb.astype(np.int32)))
            st.weight_bytes += 4 * kb.size
            st.fields.update(n_real=n4, kb=f"{st.name}_kb", in_planes=in_planes)
            if in_planes > 1:
                st.scratch.update(part=nout)
        st.macs = o * w2.shape[1]

    def conv(self, layer: Linear, st: Stage, in_layout: tuple, pool: MaxPool | None, thr: Threshold) -> tuple:
        o, c, kh, kw = layer.weight.shape
        _, h, w = layer.in_shape
        s, p = layer.stride, layer.pad
        ch, cw = conv_out_size(h, kh, s, p), conv_out_size(w, kw, s, p)
        pk, ps = (pool.k, pool.stride) if pool else (1, 1)
        if self.lanes and pk > 8:  # DNNC_POOL_MAX in runtime/dnnc_layers.h
            raise DnncError(f"layer '{pool.name}': max-pool window {pk} > 8 is not supported on this target")
        oh, ow = conv_out_size(ch, pk, ps), conv_out_size(cw, pk, ps)
        pix = self.pix and pixel_lanes.fits(layer, ch, cw)
        f = dict(CONV_FIELDS)
        f.update(in_c=c, in_h=h, in_w=w, out_c=o, kh=kh, kw=kw, stride=s, pad=p, conv_h=ch, conv_w=cw, pool_k=pk,
                 pool_s=ps, out_h=oh, out_w=ow, in_mul=layer.in_mul, in_add=layer.in_add, lanes=1 if self.lanes else 0)
        if layer.in_dtype == UINT8:
            umax = max(abs(layer.in_add), abs(255 * layer.in_mul + layer.in_add))
            if umax > 32767:
                raise DnncError(f"layer '{layer.name}': input affine range {umax} does not fit int16")
            k = c * kh * kw
            kpad = k + (k % 2)
            if pix:
                self._layout(st, f, pixel_lanes.raw(layer, thresholds(thr)[0], ch, cw, oh, ow), pix=1)
            elif self.lanes:
                # int8 taps in quads per kernel row (taps past kw: weight 0), on the zero-padded raw image; the
                # input affine's offset is a constant per border pattern (padding is u = 0, i.e. no offset)
                kq = -(-kw // 4)
                wq = np.zeros((o, c, kh, kq * 4), np.int8)
                wq[..., :kw] = layer.weight
                w8 = to_lanes(wq.reshape(o, c, kh, kq, 4), self.lanes, inner=1)
                st.arrays.append(Array(f"{st.name}_w8", "int8_t", w8.reshape(-1)))
                self._border_tables(layer, st, f, ch, cw, raw_offset=True)
                st.weight_bytes = sum(a.nbytes for a in st.arrays)
                f.update(in_u8=1, kq=kq, w8=f"{st.name}_w8")
                st.scratch.update(col=-(-(c * (h + 2 * p) * (w + 2 * p) + 4) // 4))  # the padded image, + 3 bytes
            elif self.target["mve"] and (hc := helium.first_conv(layer, thresholds(thr)[0], ch, cw, pk)):
                self._layout(st, f, hc, in_u8=1)  # Helium: int16 VMLA where the sums fit int16, else VMLADAV
            elif not self.target["dsp"]:
                # no SMLAD: weights [k][o] int16, one loop over all outputs per input element (vectorized)
                w16t = np.ascontiguousarray(layer.weight.reshape(o, k).T.astype(np.int16))
                st.arrays.append(Array(f"{st.name}_w16", "int16_t", w16t.reshape(-1)))
                st.weight_bytes = w16t.size * 2
                f.update(in_u8=1, kpad=kpad, u8_wide=1, w16=f"{st.name}_w16")
                st.scratch.update(col=kpad, uimg=-(-(c * (h + 2 * p) * (w + 2 * p)) // 2))
            else:
                o4 = -(-o // 4) * 4  # outputs in groups of 4, weight pairs interleaved: [o4/4][kpad/2][4][2]
                w16 = np.zeros((o4, kpad), np.int16)
                w16[:o, :k] = layer.weight.reshape(o, -1)
                w16 = w16.reshape(o4 // 4, 4, kpad // 2, 2).transpose(0, 2, 1, 3)
                # one uint32 per int16 pair, low half = even element (SMLAD's bottom x bottom + top x top)
                w32 = w16.astype(np.uint16).astype(np.uint32)
                w32 = (w32[..., 0] | (w32[..., 1] << 16)).astype(np.uint32)
                st.arrays.append(Array(f"{st.name}_w32", "uint32_t", w32.reshape(-1)))
                st.weight_bytes = w32.size * 4
                f.update(in_u8=1, kpad=kpad, w32=f"{st.name}_w32")
                # col: int16[kpad] gathered, then uint32[kpad/2] packed pairs
                st.scratch.update(col=kpad, uimg=-(-(c * (h + 2 * p) * (w + 2 * p)) // 2))
        else:
            if in_layout[0] != "hwc":
                raise DnncError(f"layer '{layer.name}': a conv after a dense layer is not supported")
            kind, _ = self.check_kind(layer)
            wpp = in_layout[4]
            if pix:
                self._layout(st, f, pixel_lanes.packed(layer, thresholds(thr)[0], wpp, ch, cw, oh, ow), pix=1,
                             kind=kind, in_wpp=wpp)
            else:
                self._packed_conv(layer, st, f, kind, wpp, ch, cw, pk)
        acc = 0 if pix else -(-o // self.lanes) * self.lanes if self.lanes else -(-o // 4) * 4  # (pixel lanes: none)
        st.scratch.update(acc=acc, mx=acc)
        st.fields.update(f)
        st.macs = o * ch * cw * c * kh * kw
        wpp_out = -(-o // 32)
        return ("hwc", o, oh, ow, wpp_out), oh * ow * wpp_out

    def _packed_conv(self, layer: Linear, st: Stage, f: dict, kind: str, wpp: int, ch: int, cw: int, pk: int) -> None:
        """A conv on packed input in interleaved planes (output lanes or the plain layout)."""
        o, c, kh, kw = layer.weight.shape
        _, h, w = layer.in_shape
        p = layer.pad
        # dnnc_conv_bits_pool: per-output counts of any length, rows unpadded (lanes: never pads)
        pooled = 1 < pk <= 4 and not self.lanes
        ncol = kh * kw * wpp if pooled or self.lanes else pad_words(kh * kw * wpp, kind)
        if pooled and self.target["mve"]:
            ncol = -(-ncol // 4) * 4  # Helium counts whole vectors of 4 words (zero words past the taps)
        wfull = np.zeros((o, ncol * 32), np.int8)
        wtap = np.zeros((o, kh, kw, wpp * 32), np.int8)
        wtap[:, :, :, :c] = layer.weight.transpose(0, 2, 3, 1)
        wfull[:, : kh * kw * wpp * 32] = wtap.reshape(o, -1)
        planes = weight_planes(wfull, tuple(int(v) for v in layer.weight_values))
        tot = np.abs(layer.weight.astype(np.int64)).reshape(o, -1).sum(axis=1).astype(np.int32)
        if self.lanes:
            planes = to_lanes(planes.reshape(o, ncol, -1), self.lanes)
            tot = pad_lanes(tot, self.lanes)
        st.arrays += [
            Array(f"{st.name}_w", "uint32_t", planes.reshape(-1)),
            Array(f"{st.name}_tot", "int32_t", tot),
        ]
        self._border_tables(layer, st, f, ch, cw, raw_offset=False)
        st.weight_bytes = sum(a.nbytes for a in st.arrays)
        f.update(kind=kind, in_wpp=wpp, w=f"{st.name}_w", tot=f"{st.name}_tot", ncol=ncol)
        if self.lanes:  # the zero-bordered input image
            st.scratch.update(col=(h + 2 * p) * (w + 2 * p) * wpp + 1, uimg=0)
        else:  # pooled layers gather the whole pool window (early exit in dnnc_conv_bits_pool)
            st.scratch.update(col=ncol * (pk * pk if pooled else 1), uimg=0)

    def _layout(self, st: Stage, f: dict, lay: ConvEncoding, **fields) -> None:
        """A conv stage in the encoding a layout module made (helium.py, pixel_lanes.py): its arrays named after the
        stage, its descriptor fields, sizes and scratch."""
        for key, (ctype, data) in lay.arrays.items():
            st.arrays.append(Array(f"{st.name}_{key}", ctype, data))
            f[key] = f"{st.name}_{key}"
        f.update(**lay.fields, **fields)
        st.weight_bytes, st.threshold_bytes = lay.weight_bytes, lay.threshold_bytes
        st.scratch.update(col=lay.scratch_words, uimg=0)  # uimg unused: one word, a non-NULL pointer

    def _border_tables(self, layer: Linear, st: Stage, f: dict, ch: int, cw: int, raw_offset: bool) -> None:
        """Border patterns of a padded conv (a pattern id per output row and column) and one int32 row per
        pattern: the padded taps' correction on packed input, or (raw input, lanes) in_add * the weight sum of
        the valid taps, the input offset that the zero-padded raw image leaves out."""
        o, _, kh, kw = layer.weight.shape
        _, h, w = layer.in_shape
        rows, rmasks = border_patterns(ch, layer.stride, layer.pad, kh, h)
        cols, cmasks = border_patterns(cw, layer.stride, layer.pad, kw, w)
        corr, interior = border_corrections(layer.weight, rmasks, cmasks)
        if raw_offset:
            wsum = layer.weight.astype(np.int64).reshape(o, -1).sum(axis=1)
            corr = (int(layer.in_add) * (wsum - corr.astype(np.int64))).astype(np.int32)
        else:
            f["interior"] = interior
        if self.lanes:
            corr = pad_lanes(corr, self.lanes)
        st.arrays += [
            Array(f"{st.name}_rowpat", "uint8_t", np.array(rows, np.uint8)),
            Array(f"{st.name}_colpat", "uint8_t", np.array(cols, np.uint8)),
        ]
        f.update(rowpat=f"{st.name}_rowpat", colpat=f"{st.name}_colpat", ncolpat=len(cmasks), corr="NULL")
        if raw_offset or layer.pad:  # an unpadded conv on packed input has only the interior: nothing to correct
            st.arrays.append(Array(f"{st.name}_corr", "int32_t", corr.reshape(-1)))
            f["corr"] = f"{st.name}_corr"

    def plan(self) -> Plan:
        layers = list(self.model.layers)
        if len(self.model.input_shape) != 3:
            raise DnncError(
                f"model '{self.model.name}': input shape {self.model.input_shape} is not (C, H, W)"
            )
        if any(isinstance(x, MultiThreshold) for x in layers) and \
                any(x.kind == "conv" for x in self.model.linears()) or \
                any(runtime_kind(x.weight_values) is None for x in self.model.linears()):
            return self._arena(self._byte_stages(layers))
        stages: list[Stage] = []
        in_layout: tuple = ("raw",)
        i, bufs = 0, ("A", "B")
        while i < len(layers):
            layer = layers[i]
            if not isinstance(layer, Linear):
                raise DnncError(f"layer '{layer.name}': expected a Linear layer, got {type(layer).__name__}")
            if (layer.in_dtype == UINT8) != (i == 0):
                raise DnncError(f"layer '{layer.name}': only the first layer may read the raw input")
            nxt = layers[i + 1 : i + 4]
            st = Stage(
                name=f"L{len(stages)}",
                op="",
                fields={},
                src=layer.name,
                in_buf="raw" if i == 0 else bufs[(len(stages) - 1) % 2],
            )
            pool = nxt[0] if nxt and isinstance(nxt[0], MaxPool) else None
            rest = nxt[1:] if pool else nxt
            if (layer.kind == "conv" or pool is not None) and \
                    (_kbit(in_layout) or rest and isinstance(rest[0], MultiThreshold)):
                raise DnncError(f"layer '{layer.name}': convolutions with k-bit activations are not supported by "
                                "the C backend (dense layers are)")
            if rest and isinstance(rest[0], MultiThreshold):
                self._dense(layer, st, in_layout)
                mt = rest[0]
                o = layer.weight.shape[0]
                consumer = layers[i + 2] if i + 2 < len(layers) else None
                if not isinstance(consumer, Linear):
                    raise DnncError(f"layer '{mt.name}': a k-bit activation must feed a Linear layer")
                pw = self.plane_words(-(-o // 32), consumer)
                in_layout = ("vec", o, mt.bits, mt.out_bias)
                st.out_buf = bufs[len(stages) % 2]
                st.out_words = pw * mt.bits
                t, flip = multi_thresholds(mt)
                st.arrays += [Array(f"{st.name}_mthr", "int32_t", t.reshape(-1)),
                              Array(f"{st.name}_flip", "uint32_t", flip_words(flip))]
                st.threshold_bytes = t.size * 4 + flip_words(flip).size * 4
                st.fields.update(mthr=f"{st.name}_mthr", flip=f"{st.name}_flip", nthr=t.shape[1],
                                 out_planes=mt.bits, out_pw=pw)
                st.src += f" + {mt.name}"
                i += 2
            elif rest and isinstance(rest[0], Threshold):
                thr = rest[0]
                st.out_buf = bufs[len(stages) % 2]
                if layer.kind == "conv":
                    st.op = "conv"
                    in_layout, st.out_words = self.conv(layer, st, in_layout, pool, thr)
                elif pool is not None:
                    raise DnncError(f"layer '{pool.name}': max-pool after a dense layer is not supported")
                else:
                    self._dense(layer, st, in_layout)
                    in_layout = ("vec", layer.weight.shape[0])
                    st.out_words = -(-layer.weight.shape[0] // 32)
                t, flip = thresholds(thr)
                st.arrays += [
                    Array(f"{st.name}_thr", "int32_t", t),
                    Array(f"{st.name}_flip", "uint32_t", flip_words(flip)),
                ]
                st.threshold_bytes += t.size * 4 + flip_words(flip).size * 4  # (+ a pixel-lane conv's own)
                st.fields.update(thr=f"{st.name}_thr", flip=f"{st.name}_flip")
                st.src += f" + {thr.name}" if pool is None else f" + {pool.name} + {thr.name}"
                i += 2 + (pool is not None)
            elif (
                len(rest) >= 2
                and pool is None
                and isinstance(rest[0], OutputAffine)
                and isinstance(rest[1], ArgMax)
                and layer.kind == "dense"
            ):
                self._dense(layer, st, in_layout)
                st.fields["inner"] = st.op
                st.op = "output"
                self._output_fields(st, rest[0], layers[i + 1:])
                stages.append(st)
                if i + 3 != len(layers):
                    raise DnncError(f"layer '{layers[i + 3].name}': layers after the output layer")
                break
            else:
                raise DnncError(
                    f"layer '{layer.name}': unsupported layer sequence after it "
                    f"({', '.join(type(x).__name__ for x in nxt)})"
                )
            stages.append(st)
        if not stages or stages[-1].op != "output":
            raise DnncError(f"model '{self.model.name}': no output layer (Linear + OutputAffine + ArgMax)")
        return self._arena(stages)

    def _byte_stages(self, layers: list) -> list[Stage]:
        """A network with k-bit convs or INT3/INT4 weights: int8 levels, HWC, plain loops (runtime/dnnc_kbit.h,
        "BYTE PATH"; docs/compiler.md says why INT3/INT4 weights take it)."""
        stages: list[Stage] = []
        fmap = tuple(self.model.input_shape)  # (C, H, W) of the stream feeding the next Linear
        i, bufs = 0, ("A", "B")
        while i < len(layers):
            layer = layers[i]
            st = Stage(name=f"L{len(stages)}", op="", fields={}, src=layer.name,
                       in_buf="raw" if i == 0 else bufs[(len(stages) - 1) % 2])
            if not isinstance(layer, Linear):
                raise DnncError(f"layer '{layer.name}': expected a Linear layer, got {type(layer).__name__}")
            pool = layers[i + 1] if isinstance(layers[i + 1], MaxPool) else None
            act = layers[i + 2 if pool else i + 1]
            o = layer.weight.shape[0]
            if layer.weight.size and not -128 <= int(layer.weight.min()) <= int(layer.weight.max()) <= 127:
                raise DnncError(f"layer '{layer.name}': weights outside int8 are not supported by the C backend")
            if pool is not None and layer.kind != "conv":
                raise DnncError(f"layer '{pool.name}': max-pool after a dense layer is not supported")
            if isinstance(act, OutputAffine):
                if layer.kind != "dense" or pool is not None or i == 0:
                    raise DnncError(f"layer '{layer.name}': the output layer must be dense")
                self._bytes_dense(layer, st, fmap)
                st.fields["inner"], st.op = st.op, "output"
                self._output_fields(st, act, layers[i + 1:])
                if i + 3 != len(layers):
                    raise DnncError(f"layer '{layers[i + 3].name}': layers after the output layer")
                stages.append(st)
                break
            if isinstance(act, MultiThreshold):
                t, flip = multi_thresholds(act)
                bias, step = act.out_bias, 1
            elif isinstance(act, Threshold):  # a sign activation: one threshold, levels -1 + 2 c
                t, flip = thresholds(act)
                t, bias, step = t.reshape(-1, 1), -1, 2
            else:
                raise DnncError(f"layer '{act.name}': expected a threshold activation, got {type(act).__name__}")
            st.arrays += [Array(f"{st.name}_mthr", "int32_t", t.reshape(-1)),
                          Array(f"{st.name}_flip", "uint32_t", flip_words(flip))]
            st.threshold_bytes = t.size * 4 + flip_words(flip).size * 4
            st.fields.update(mthr=f"{st.name}_mthr", flip=f"{st.name}_flip", nthr=t.shape[1], out_bias=bias,
                             out_step=step)
            st.out_buf = bufs[len(stages) % 2]
            if layer.kind == "conv" or i == 0:  # a first dense layer: a conv whose window is the whole input
                c, h, w = fmap
                _, kh, kw = fmap if layer.kind != "conv" else layer.weight.shape[1:]
                wconv = layer.weight.reshape(o, c, kh, kw)
                ch, cw = (conv_out_size(v, k, layer.stride, layer.pad) for v, k in ((h, kh), (w, kw)))
                pk, ps = (pool.k, pool.stride) if pool else (1, 1)
                oh, ow = conv_out_size(ch, pk, ps), conv_out_size(cw, pk, ps)
                w8 = wconv.transpose(0, 2, 3, 1) if i == 0 else _four_row_blocks(wconv.transpose(0, 2, 3, 1))
                st.arrays.append(Array(f"{st.name}_w8", "int8_t", w8.reshape(-1)))
                st.weight_bytes = w8.size
                st.op = "convb"
                stride, pad = (layer.stride, layer.pad) if layer.kind == "conv" else (1, 0)
                st.fields.update(in_c=c, in_h=h, in_w=w, out_c=o, kh=kh, kw=kw, stride=stride, pad=pad,
                                 pool_k=pk, pool_s=ps, out_h=oh, out_w=ow, in_u8=int(i == 0), in_mul=layer.in_mul,
                                 in_add=layer.in_add, w=f"{st.name}_w8", thr=f"{st.name}_mthr")
                st.macs = o * ch * cw * c * kh * kw
                fmap = (o, oh, ow)
                st.out_words = -(-o * oh * ow // 4)
            else:
                self._bytes_dense(layer, st, fmap)
                fmap = (o, 1, 1)
                st.out_words = -(-o // 4)
            st.src += (f" + {pool.name}" if pool else "") + f" + {act.name}"
            stages.append(st)
            i += 3 if pool else 2
        return stages

    def _bytes_dense(self, layer: Linear, st: Stage, fmap: tuple) -> None:
        """Dense on int8 levels in HWC order: weight columns permuted from the IR's (C, H, W) flatten."""
        o = layer.weight.shape[0]
        c, h, w = fmap
        wm = layer.weight.reshape(o, c, h, w).transpose(0, 2, 3, 1).reshape(o, -1)
        blocks = _four_row_blocks(wm)
        n4 = blocks.size // (-(-o // 4) * 4)
        st.arrays.append(Array(f"{st.name}_w8", "int8_t", blocks.reshape(-1)))
        st.weight_bytes = blocks.size
        st.op = "dense_bytes"
        st.fields.update(w=f"{st.name}_w8", n=n4, nout=o)
        st.in_words = n4 // 4
        st.scratch.update(acc=o)
        st.macs = wm.size

    def _output_fields(self, st: Stage, aff: OutputAffine, rest: list) -> None:
        """The output affine's arrays and fields (scale, bias, float32 post steps) on the output stage."""
        if len(rest) < 2 or not isinstance(rest[1], ArgMax):
            raise DnncError(f"layer '{aff.name}': the output affine must be followed by ArgMax")
        if not (np.all(np.isfinite(aff.scale)) and np.all(np.isfinite(aff.bias))):
            raise DnncError(f"layer '{aff.name}': scale/bias must be finite")
        st.arrays += [Array(f"{st.name}_scale", "float", aff.scale.astype(np.float32)),
                      Array(f"{st.name}_bias", "float", aff.bias.astype(np.float32))]
        st.fields.update(k=aff.scale.size, scale=f"{st.name}_scale", bias=f"{st.name}_bias", post=[])
        for j, (op, v) in enumerate(aff.post):  # imported float32 steps (TensorNorm), in order
            st.arrays.append(Array(f"{st.name}_post{j}", "float", np.asarray(v, np.float32)))
            st.fields["post"].append(({"add": "+", "mul": "*", "div": "/", "bipolar": "bipolar"}[op],
                                      f"{st.name}_post{j}"))
        st.src += f" + {aff.name} + {rest[1].name}"

    def _dense(self, layer: Linear, st: Stage, in_layout: tuple) -> None:
        if layer.in_dtype == UINT8 and self.lanes:
            st.op = "dense_u8_lanes"
            self.dense_u8_lanes(layer, st)
        elif layer.in_dtype == UINT8 and self.target["first_dense"] == "direct":
            st.op = "dense_u8_direct"
            self.dense_u8_direct(layer, st)
        elif layer.in_dtype == UINT8:
            st.op = "dense_u8"
            self.dense_u8(layer, st)
        else:
            st.op = "dense_lanes" if self.lanes else "dense_bits"
            self.dense_bits(layer, st, in_layout)

    def _arena(self, stages: list[Stage]) -> Plan:
        act = max([s.out_words for s in stages] + [s.in_words for s in stages] + [1])
        arena = {"A": (0, act), "B": (act, act)}
        off = 2 * act
        names = sorted({k for s in stages for k in s.scratch})
        # scratch buffers are reused across stages: each stage lays its own out from `off`
        scratch_words = 0
        for s in stages:
            o = 0
            s.fields["_off"] = {}
            for k in ("u", "tab", "uimg", "col", "acc", "mx", "part"):
                if k in s.scratch:
                    s.fields["_off"][k] = off + o
                    o += max(1, s.scratch[k])
            scratch_words = max(scratch_words, o)
        del names
        return Plan(
            name=self.model.name,
            input_shape=tuple(self.model.input_shape),
            num_classes=self.model.num_classes,
            stages=stages,
            arena=arena,
            arena_words=off + scratch_words,
            out_acc="acc",
            lanes=self.lanes,
            pix=any(s.fields.get("pix") for s in stages),
            input_thresholds=self.model.input_thresholds,
            byte_codes=self.model.byte_codes,
            input_map=self.model.input_map,
        )


def _four_row_blocks(w: np.ndarray) -> np.ndarray:
    """int8 weights (O, ..., C) -> runtime/dnnc_kbit.h's FOUR-ROW BLOCKS (O/4, ..., C4/4, 4, 4); rows padded
    to a multiple of 4 and the last axis to C4 (a multiple of 4) with 0."""
    o, c = w.shape[0], w.shape[-1]
    o4, c4 = -(-o // 4) * 4, -(-c // 4) * 4
    wp = np.zeros((o4, *w.shape[1:-1], c4), np.int8)
    wp[:o, ..., :c] = w
    wp = wp.reshape(o4 // 4, 4, *w.shape[1:-1], c4 // 4, 4)
    return np.moveaxis(wp, 1, -2)


def _kbit(in_layout: tuple) -> bool:
    """A k-bit vector input: ("vec", n, planes, level bias)."""
    return in_layout[0] == "vec" and len(in_layout) > 2


def make_plan(model: IRModel, target: dict) -> Plan:
    if not model.is_lowered():
        raise DnncError(f"model '{model.name}': IR is not lowered (run the pass pipeline first)")
    return _Planner(model, target).plan()
