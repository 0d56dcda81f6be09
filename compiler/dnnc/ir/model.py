"""The dnnc IR: a short list of typed layers holding numpy arrays (contract: docs/ir-spec.md).

After all passes (`dnnc.passes.pipeline`), an IRModel contains only Linear, MaxPool, Threshold,
MultiThreshold, OutputAffine and ArgMax layers; that is what backends consume. Two more layer types exist
only in the imported (pre-pass) form: InputAffine (the in-graph input normalization) and BatchNormSign (float32 BN
affine + sign as the deployment ONNX computes it). Passes replace them.

Integer semantics of every layer are those of `dnnc.ir.interpreter` (docs/compiler.md); `IRModel.verify()`
checks the invariants (dnnc.ir.verify).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from dnnc.errors import InternalError
from dnnc.vocabulary import BIPOLAR, index_bits, signed_bits


@dataclass
class Layer:
    name: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]


@dataclass
class InputAffine(Layer):
    """Pre-pass only: u = mul * raw + add on every raw input element (folded into the first Linear)."""

    mul: int = 1
    add: int = 0


@dataclass
class Linear(Layer):
    """Dense or conv with integer weight codes; sums weight * u with u = in_mul * x + in_add.

    Padded conv positions contribute 0 (padding lives in the u domain). A dense layer after a conv
    sees its input flattened in (C, H, W) order.
    """

    kind: str = "dense"  # "dense" | "conv"
    weight: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int8))
    weight_values: tuple[int, ...] = ()
    weight_dtype: str = ""
    stride: int = 1
    pad: int = 0
    in_dtype: str = BIPOLAR  # UINT8 (raw input) | BIPOLAR
    in_mul: int = 1
    in_add: int = 0
    # Proven per-output-channel accumulator bounds (int64 arrays), recorded by range analysis; None while
    # unknown (before it ran, or after a pass that invalidates ranges). The only stored form of a range:
    # acc_min/acc_max/acc_bits derive from it, so no stale copy can survive an invalidation.
    acc_min_ch: np.ndarray | None = None
    acc_max_ch: np.ndarray | None = None

    @property
    def out_channels(self) -> int:
        return int(self.weight.shape[0])

    @property
    def fan_in(self) -> int:
        return int(np.prod(self.weight.shape[1:]))

    @property
    def has_ranges(self) -> bool:
        return self.acc_min_ch is not None and self.acc_max_ch is not None

    def _ranges(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.has_ranges:
            raise InternalError(f"layer '{self.name}': accumulator ranges read but not known (range analysis has "
                                "not run, or a later pass invalidated them); the reader must declare needs=RANGES")
        return self.acc_min_ch, self.acc_max_ch

    @property
    def acc_min(self) -> int:
        """Lower bound over all channels, and never above 0."""
        return int(self._ranges()[0].min(initial=0))

    @property
    def acc_max(self) -> int:
        """Upper bound over all channels, and never below 0."""
        return int(self._ranges()[1].max(initial=0))

    @property
    def acc_bits(self) -> int:
        """Signed width holding every accumulator of the layer."""
        return max(2, signed_bits(self.acc_min, self.acc_max))  # never narrower than INT2

    @property
    def weight_bits(self) -> int:
        """Bits per weight code in a dense encoding (binary 1, ternary 2, 4/5 levels 3, ...)."""
        return index_bits(len(self.weight_values)) if self.weight_values else 8


@dataclass
class MaxPool(Layer):
    """Max over k x k windows with stride `stride` on integer accumulators (NCHW, floor, no padding)."""

    k: int = 2
    stride: int = 2


@dataclass
class BatchNormSign(Layer):
    """Pre-pass only: out = +1 iff float32(float32(acc * scale[c]) + bias[c]) >= 0, else -1."""

    scale: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    bias: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))


@dataclass
class Threshold(Layer):
    """Per-channel integer sign threshold, output BIPOLAR.

    direction[c] = +1: out = +1 iff acc >= threshold[c]; -1: out = +1 iff acc <= threshold[c];
    0: out = const[c] regardless of acc.
    """

    direction: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    threshold: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    const: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))

    @property
    def channels(self) -> int:
        return int(self.direction.shape[0])


THRESHOLD_LIMIT = 1 << 24  # |threshold| <= this: every accumulator is inside (range analysis proves |acc| < 2^24)


@dataclass
class MultiThreshold(Layer):
    """A k-bit activation (FINN MultiThreshold semantics): out[c] = out_bias + count[c], an integer level.

    direction[c] = +1: count = #{j : acc >= thresholds[c, j]}, thresholds non-decreasing along j;
    -1: count = #{j : acc <= thresholds[c, j]}, thresholds non-increasing. A channel whose level does not
    depend on acc (gamma = 0, or saturated) has thresholds at -2^24 (always counted) and 2^24 (never).
    T = thresholds.shape[1] levels above the lowest: 2^k - 1 for a full k-bit code, 2 for {-1, 0, 1}.
    The real activation is s * out for a positive power-of-two s the next layer's thresholds absorb.
    """

    direction: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    thresholds: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64))
    out_bias: int = 0
    out_dtype: str = ""

    @property
    def channels(self) -> int:
        return int(self.direction.shape[0])

    @property
    def levels(self) -> int:
        """Distinct output values: T + 1."""
        return int(self.thresholds.shape[1]) + 1

    @property
    def out_range(self) -> tuple[int, int]:
        return self.out_bias, self.out_bias + self.levels - 1

    @property
    def bits(self) -> int:
        """Bits of the stored code (out - out_bias): the bit planes of the k-bit packing."""
        return index_bits(self.levels)


@dataclass
class OutputAffine(Layer):
    """logits[k] = float32(float32(float32(acc[k]) * scale[k]) + bias[k]); two roundings, no FMA."""

    scale: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    bias: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    # Further float32 steps an imported graph applies to the logits (e.g. Brevitas' TensorNorm: Div, Mul,
    # Add), each ("add" | "mul" | "div", float32[K]), one IEEE rounding each, in order. Kept as steps, not
    # folded, because folding two roundings into one would change the bits. A last ("bipolar", v) step is a
    # one-bit graph output (BipolarQuant): logits = +v where logits / v >= 0, else -v.
    post: tuple = ()


@dataclass
class ArgMax(Layer):
    """class = lowest index of the maximum logit."""


@dataclass
class IRModel:
    name: str
    input_shape: tuple[int, ...]
    layers: list[Layer]
    num_classes: int
    meta: dict = field(default_factory=dict)
    # A float32 input quantized in the graph (imported files): the raw code of an element is the number of
    # these ascending float32 thresholds that x >= (NaN -> 0), so codes lie in [0, len]; None: raw uint8 input.
    input_thresholds: np.ndarray | None = None
    # A stated mapping from raw bytes p to the float input (`--input-map`, or "p" for a UINT8-annotated file
    # that quantizes its input in the graph): `input_map` is its text, `byte_codes` uint8[256] the raw code
    # of every byte (the float path on map(p), proven against the file); None: no byte entry point.
    input_map: str | None = None
    byte_codes: np.ndarray | None = None

    @property
    def float_input(self) -> bool:
        return self.input_thresholds is not None

    @property
    def byte_input(self) -> bool:
        return self.byte_codes is not None

    @property
    def input_dtype(self) -> type:
        """The model's own input type: bytes when a byte map is stated, float32 for a float graph, else uint8."""
        return np.float32 if self.float_input and not self.byte_input else np.uint8

    def copy(self) -> IRModel:
        """A deep copy: passes return new models and never mutate their input."""
        return copy.deepcopy(self)

    def linears(self) -> list[Linear]:
        return [layer for layer in self.layers if isinstance(layer, Linear)]

    @property
    def output_linear(self) -> Linear:
        """The Linear feeding OutputAffine (its accumulators are the 'acc' output)."""
        return self.linears()[-1]

    def is_lowered(self) -> bool:
        """True once only backend-facing layer types remain (no InputAffine / BatchNormSign)."""
        return not any(isinstance(layer, (InputAffine, BatchNormSign)) for layer in self.layers)

    def verify(self, lowered: bool = False) -> None:
        """Check every invariant of docs/ir-spec.md; InvalidIR naming the layer if one fails.

        lowered=True also demands the backend-facing form: lowered layer types only, int8 weight codes, and
        proven ranges on every Linear (what the backends and `inspect` read).
        """
        from dnnc.ir.verify import verify_model  # verify.py reads this module's classes

        verify_model(self, lowered=lowered)
