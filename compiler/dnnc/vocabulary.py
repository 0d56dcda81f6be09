"""The words every stage shares: weight sets, FINN datatype names and conv/pool geometry.

Training, interchange, the IR, passes, the dataflow model and the backends all speak of "ternary
weights", "BIPOLAR activations" or "the conv output size"; this module is the one place that defines
them (DESIGN.md, "Integer semantics"), so a new weight set or datatype is added here once. It imports
nothing from the compiler's stages, so the earliest stage (training) can use it too.
"""

from __future__ import annotations

from dnnc.errors import DnncError

# FINN datatype names (qonnx's DataType strings) that the code branches on.
BIPOLAR = "BIPOLAR"  # {-1, +1}, one bit (1 = +1): sign activations, binary weights
BINARY = "BINARY"  # {0, 1}: FINN's encoding of bipolar values feeding an XNOR-popcount MVAU
TERNARY = "TERNARY"  # {-1, 0, +1}
MAX_ENUMERATED = 2**16  # dtype_values lists at most this many integers (INT16 and narrower)
UINT8 = "UINT8"  # raw input pixels
INT32 = "INT32"
INT64 = "INT64"
FLOAT32 = "FLOAT32"

# Weight set name -> (integer codes, scale): the real weight values are codes * scale.
WEIGHT_SETS: dict[str, tuple[tuple[int, ...], float]] = {
    "binary": ((-1, 1), 1.0),
    "ternary": ((-1, 0, 1), 1.0),
    "quaternary": ((-3, -1, 1, 3), 1.0 / 3.0),
    "quinary": ((-2, -1, 0, 1, 2), 0.5),
}


def weight_codes(weight_set: str) -> tuple[int, ...]:
    """The integer codes of a named weight set; DnncError for an unknown name."""
    if weight_set not in WEIGHT_SETS:
        raise DnncError(f"unknown weight set {weight_set!r} (choose from {', '.join(WEIGHT_SETS)})")
    return WEIGHT_SETS[weight_set][0]


def weight_scale(weight_set: str) -> float:
    """The real value of code 1 in a named weight set (binary 1, quaternary 1/3, quinary 1/2)."""
    weight_codes(weight_set)
    return WEIGHT_SETS[weight_set][1]


def weight_set_of(values) -> str | None:
    """The name of the weight set whose codes are exactly `values` (any order), else None."""
    key = tuple(sorted(int(v) for v in values))
    return next((name for name, (codes, _) in WEIGHT_SETS.items() if codes == key), None)


def weight_encoding(values) -> str:
    """Dense encoding of one weight: "sign" (binary, 1 bit), "mask_sign" (ternary: nonzero mask and sign
    bit planes) or "index" (any other set: the code's index into the sorted values, `index_bits` bits)."""
    name = weight_set_of(values)
    return "sign" if name == "binary" else "mask_sign" if name == "ternary" else "index"


def index_bits(levels: int) -> int:
    """Bits of an index into `levels` sorted codes: ceil(log2(levels)), at least 1."""
    return max(1, (int(levels) - 1).bit_length())


def signed_bits(lo: int, hi: int) -> int:
    """Width of the smallest two's-complement integer holding [lo, hi] (at least 1 bit)."""
    n = 1
    while not (-(1 << (n - 1)) <= lo and hi <= (1 << (n - 1)) - 1):
        n += 1
    return n


def int_dtype(lo: int, hi: int) -> str:
    """Smallest FINN UINTn (lo >= 0) or INTn holding [lo, hi]."""
    if lo >= 0:
        return f"UINT{max(1, int(hi).bit_length())}"
    return f"INT{signed_bits(lo, hi)}"


def weight_dtype(values) -> str:
    """FINN datatype of a weight set: BIPOLAR for {-1,1}, TERNARY for {-1,0,1}, else the smallest INTn
    (FINN has no QUATERNARY: {-3,-1,1,3} is INT3 with the exact codes recorded beside it)."""
    vals = tuple(sorted(int(v) for v in values))
    if vals == WEIGHT_SETS["binary"][0]:
        return BIPOLAR
    if vals == WEIGHT_SETS["ternary"][0]:
        return TERNARY
    return int_dtype(min(vals), max(vals))


def _int_width(name: str) -> tuple[bool, int] | None:
    """(signed, bits) of an INTn / UINTn name with 1 <= n <= 64, else None (a name read from a file may
    claim INT0 or INT99999999999)."""
    for prefix, signed in (("UINT", False), ("INT", True)):
        digits = name[len(prefix):]
        if name.startswith(prefix) and digits.isascii() and digits.isdigit() and len(digits) <= 2 \
                and 1 <= int(digits) <= 64:
            return signed, int(digits)
    return None


def dtype_range(name: str) -> tuple[int, int] | None:
    """Integer range [lo, hi] of a FINN datatype name, or None if it is not an integer type."""
    if name in (BIPOLAR, TERNARY):
        return (-1, 1)
    if name == BINARY:
        return (0, 1)
    width = _int_width(name)
    if width is None:
        return None
    signed, n = width
    return (-(1 << (n - 1)), (1 << (n - 1)) - 1) if signed else (0, (1 << n) - 1)


def dtype_values(name: str) -> tuple[int, ...] | None:
    """Every integer a FINN datatype holds, sorted (BIPOLAR has no 0), or None if not an integer type."""
    rng = dtype_range(name)
    if rng is None:
        return None
    if rng[1] - rng[0] > MAX_ENUMERATED:  # checked before building the tuple
        raise DnncError(f"datatype {name} has {rng[1] - rng[0] + 1} values; dnnc weights are at most 8-bit codes")
    return tuple(v for v in range(rng[0], rng[1] + 1) if not (name == BIPOLAR and v == 0))


def dtype_bits(name: str) -> int:
    """Bit width of a FINN datatype name (BIPOLAR/BINARY 1, TERNARY 2, INTn/UINTn n, FLOAT32 32)."""
    if name in (BIPOLAR, BINARY):
        return 1
    if name == TERNARY:
        return 2
    if name == FLOAT32:
        return 32
    width = _int_width(name)
    if width is None:
        raise DnncError(f"unknown FINN datatype '{name}'")
    return width[1]


def dtype_signed(name: str) -> bool:
    """Whether a FINN datatype holds negative values (BIPOLAR and TERNARY do)."""
    return name in (BIPOLAR, TERNARY, FLOAT32) or name.startswith("INT")


def same_pad(kernel: int) -> int:
    """Zero padding that keeps the size of a stride-1 conv with an odd kernel ('same' padding)."""
    return kernel // 2


def checked_out_size(where: str, size: int, kernel: int, stride: int = 1, pad: int = 0) -> int:
    """conv_out_size for geometry read from a file: DnncError naming `where` unless kernel, stride >= 1,
    pad >= 0 and at least one output position."""
    if not (kernel >= 1 and stride >= 1 and pad >= 0):
        raise DnncError(f"{where}: kernel {kernel}, stride {stride}, pad {pad}: kernel and stride must be >= 1 "
                        "and pad >= 0")
    out = conv_out_size(size, kernel, stride, pad)
    if out < 1:
        raise DnncError(f"{where}: a {kernel}-wide window (pad {pad}) does not fit an input of size {size}")
    return out


def conv_out_size(size: int, kernel: int, stride: int = 1, pad: int = 0) -> int:
    """Output length along one axis of a conv or max-pool window: floor((size + 2 pad - kernel) / stride) + 1.

    Max-pool is the same window with no padding (floor mode)."""
    return (size + 2 * pad - kernel) // stride + 1
