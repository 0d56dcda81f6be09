"""Record bit-packing decisions in each Linear's `layout` (one convention for C, HLS and the docs).

Convention (docs/compiler.md, "Bit packing"): a ±1 activation is one bit, bit value 1 means +1 and 0
means -1; element i of a packed row goes to word i // W, bit i % W (LSB first); W = word_bits. The last
word is padded with 0 bits in activations, and padded positions are excluded by the exact fan-in: for
binary weights dot = 2 * popcount(~(a ^ w) & valid_mask) - fan_in (so padding never changes a sum).
Packed order of a conv receptive field is (kh, kw, C) per output pixel (channel-innermost) for
activations stored HWC; dense after conv uses the (C, H, W) flatten order of the IR. Weights use the
encoding given by `weight_encoding`: "sign" (binary: 1 bit), "mask_sign" (ternary: nonzero mask + sign
bit planes), "index" (other sets: the code's index into the sorted `weight_values`, `weight_bits` bits);
these are the sizes inspect reports, and a backend may choose another encoding for speed.
Rewrites: Linear.layout only. Preserves: all values (it is metadata for backends).
"""

from __future__ import annotations

from dnnc.ir.model import IRModel, Linear
from dnnc.passes.base import Pass
from dnnc.vocabulary import BIPOLAR, weight_encoding


class PackingLayout(Pass):
    name = "packing-layout"

    def __init__(self, word_bits: int = 32):
        self.word_bits = word_bits

    def rewrite(self, model: IRModel) -> None:
        for layer in model.layers:
            if not isinstance(layer, Linear):
                continue
            w = self.word_bits
            packed = layer.in_dtype == BIPOLAR
            layer.layout = {
                "word_bits": w,
                "input_packed": packed,
                "one_bit_means": "+1",
                "bit_order": "lsb-first",
                "fan_in": layer.fan_in,
                "words_per_row": -(-layer.fan_in // w) if packed else 0,
                "pad_bits": (-layer.fan_in) % w if packed else 0,
                "padding_rule": "activation pad bits 0, excluded by fan-in / mask",
                "weight_encoding": weight_encoding(layer.weight_values),
                "weight_bits": layer.weight_bits,
            }
