"""Dataflow stages in FINN's vocabulary, with FINN's cycle formulas (`get_exp_cycles`).

A stage is one streaming kernel of a design, whichever backend (HLS C++, RTL) implements it. Its folding (PE output lanes, SIMD input lanes)
sets the cycles per frame; FINN's formulas are reproduced exactly so that a FINN user reads the same
numbers (reference: shared/reference/interop-semantics.md section 9).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from dnnc.errors import DnncError


@dataclass
class Stage:
    """One streaming kernel. `op` is FINN's node type; `attrs` holds FINN's attributes (PE, SIMD, ...)."""

    name: str
    op: str  # MVAU | Thresholding | ConvolutionInputGenerator | StreamingMaxPool | LabelSelect | ...
    attrs: dict = field(default_factory=dict)
    layer: str = ""  # IR layer this stage implements (for the report)
    in_kind: str = ""  # stream element kind: bits | i8 | u8 | i16 | i32 (HLS: runtime/hls/dnnc_hls.h)
    out_kind: str = ""
    out_elems: int = 0  # elements this stage writes per frame
    params: dict = field(default_factory=dict)  # numpy arrays for the ROMs, in stream order

    @property
    def in_width(self) -> int:
        if self.op in ("StreamingDataWidthConverter", "InputConvert"):
            return int(self.attrs["inWidth"])
        return self.simd if self.op in ("MVAU", "ConvolutionInputGenerator") else self.pe

    @property
    def out_width(self) -> int:
        if self.op in ("StreamingDataWidthConverter", "InputConvert"):
            return int(self.attrs["outWidth"])
        return self.simd if self.op == "ConvolutionInputGenerator" else self.pe

    @property
    def pe(self) -> int:
        return int(self.attrs.get("PE", 1))

    @property
    def simd(self) -> int:
        return int(self.attrs.get("SIMD", 1))

    def check(self) -> None:
        """FINN's divisibility rules; a violation is a DnncError naming the stage."""
        a = self.attrs
        rules: list[tuple[str, bool]] = []
        if self.op == "MVAU":
            rules = [("MH % PE", a["MH"] % self.pe == 0), ("MW % SIMD", a["MW"] % self.simd == 0)]
        elif self.op in ("Thresholding", "StreamingMaxPool"):
            rules = [("NumChannels % PE", a["NumChannels"] % self.pe == 0)]
        elif self.op == "ConvolutionInputGenerator":
            rules = [("IFMChannels % SIMD", a["IFMChannels"] % self.simd == 0)]
        elif self.op == "LabelSelect":
            rules = [("Labels % PE", a["Labels"] % self.pe == 0)]
        elif self.op in ("StreamingDataWidthConverter", "InputConvert"):
            rules = [("elements % width", a["NumElems"] % a["inWidth"] == 0 and a["NumElems"] % a["outWidth"] == 0)]
        for text, ok in rules:
            if not ok:
                sizes = {k: a[k] for k in ("MW", "MH", "NumChannels", "IFMChannels", "Labels", "NumElems",
                                           "inWidth", "outWidth", "PE", "SIMD") if k in a}
                raise DnncError(f"stage '{self.name}': folding violates {text} == 0 ({sizes})")

    def cycles(self) -> int:
        """Expected cycles per frame, FINN's `get_exp_cycles` for the same node."""
        a = self.attrs
        if self.op == "MVAU":
            nv = math.prod(a.get("numInputVectors", [1]))
            return (a["MH"] // self.pe) * (a["MW"] // self.simd) * nv
        if self.op == "Thresholding":
            return math.prod(a.get("numInputVectors", [1])) * a["NumChannels"] // self.pe
        if self.op == "ConvolutionInputGenerator":
            (kh, kw), (_, iw), (oh, ow) = a["ConvKernelDim"], a["IFMDim"], a["OFMDim"]
            dil_h = a.get("Dilation", [1, 1])[0]
            sw = a["Stride"][1]
            c = a["IFMChannels"] // self.simd
            return iw * kh * dil_h * c + oh * max(ow * kw * kh * c, sw * iw * c)
        if self.op == "StreamingMaxPool":
            iw, k = a["ImgDim"][1], a["PoolDim"][1]
            return int(iw * iw * (1 + 1 / (k * k)))  # FINN's own (admittedly inaccurate) 2D formula
        if self.op == "LabelSelect":
            return a["Labels"] // self.pe
        if self.op in ("StreamingDataWidthConverter", "InputConvert"):
            return a["NumElems"] // min(a["inWidth"], a["outWidth"])
        raise DnncError(f"stage '{self.name}': no cycle model for {self.op}")
