"""Architectures in the paper's notation ("32C5-P2-64C5-P2-FC512-FC10"), parsed into layer specs.

Tokens, separated by '-': `FC<n>` dense layer, `<n>C<k>` conv with n channels and a k x k kernel (odd k,
'same' padding, stride 1), `<r>x<n>C<k>` r such convs, `P2` 2x2 max-pool (stride 2) on the preceding conv.
The last token is the output layer (FC<classes>). Presets name the paper's four networks and small ones
for tests; a preset also fixes the dropout rates of the paper's scripts (inverted dropout before layers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dnnc.errors import DnncError
from dnnc.vocabulary import conv_out_size


@dataclass(frozen=True)
class LayerSpec:
    kind: str  # "conv" | "dense"
    out: int
    kernel: int = 0  # conv only
    pool: int = 0  # 0 or 2: max-pool after this conv


@dataclass(frozen=True)
class Arch:
    text: str  # normalized arch string
    layers: tuple[LayerSpec, ...]  # last one is the output layer
    dropout: tuple[float, ...]  # discrete nets: rate before each layer (index 0 = on the input)
    dropout_real: tuple[float, ...]  # the real pre-training net's rates


def _rates(n: int, given: dict[int, float]) -> tuple[float, ...]:
    return tuple(given.get(i, 0.0) for i in range(n))


# name -> (arch string, discrete dropout {layer index: rate}, real dropout); from the paper's scripts
# (training-method.md b.7). The real MNIST-PI net used 0.2/0.4/0.4, the discrete one 0.1/0.2/0.3.
PRESETS: dict[str, tuple[str, dict[int, float], dict[int, float]]] = {
    "mnist-pi": ("FC1200-FC1200-FC10", {0: 0.1, 1: 0.2, 2: 0.3}, {0: 0.2, 1: 0.4, 2: 0.4}),
    "mnist-cnn": ("32C5-P2-64C5-P2-FC512-FC10", {1: 0.2, 2: 0.3}, {1: 0.2, 2: 0.3}),
    "cifar-vgg": ("2x128C3-P2-2x256C3-P2-2x512C3-P2-FC1024-FC10",
                  {1: 0.2, 2: 0.2, 3: 0.3, 4: 0.3, 5: 0.3, 6: 0.4},
                  {1: 0.2, 2: 0.2, 3: 0.3, 4: 0.3, 5: 0.3, 6: 0.4}),
    "svhn-vgg": ("2x128C3-P2-2x256C3-P2-2x512C3-P2-FC1024-FC10",
                 {1: 0.2, 2: 0.2, 3: 0.3, 4: 0.3, 5: 0.3, 6: 0.4},
                 {1: 0.2, 2: 0.2, 3: 0.3, 4: 0.3, 5: 0.3, 6: 0.4}),
    "tiny-fc": ("FC32-FC10", {}, {}),
    "tiny-cnn": ("4C3-P2-8C3-P2-FC16-FC10", {}, {}),
}

_CONV = re.compile(r"^(?:(\d{1,9})x)?(\d{1,9})C(\d{1,9})$")
_FC = re.compile(r"^FC(\d{1,12})$")
MAX_LAYERS = 64
MAX_WIDTH = 65536  # units of a dense layer, channels of a conv
MAX_KERNEL = 15
MAX_WEIGHTS = 1 << 26  # 67 M weights (cifar-vgg has 14 M); each carries one logit per weight value


def _bounded(tok: str, what: str, value: str, limit: int) -> int:
    """An integer of the arch string, checked before any tensor is sized by it."""
    n = int(value)
    if n > limit:
        raise DnncError(f"arch token {tok!r}: {what} {n} is more than {limit}")
    return n


def _parse_tokens(text: str) -> tuple[LayerSpec, ...]:
    layers: list[LayerSpec] = []
    if text.count("-") >= MAX_LAYERS:
        raise DnncError(f"arch {text[:40]!r}...: more than {MAX_LAYERS} layers")
    for tok in text.split("-"):
        tok = tok.strip()
        if (m := _FC.match(tok)) and int(m.group(1)) > 0:
            layers.append(LayerSpec("dense", _bounded(tok, "width", m.group(1), MAX_WIDTH)))
        elif (m := _CONV.match(tok)) and int(m.group(2)) > 0 and int(m.group(1) or 1) > 0:
            k = _bounded(tok, "kernel size", m.group(3), MAX_KERNEL)
            if k % 2 == 0 or k < 1:
                raise DnncError(f"arch token {tok!r}: kernel size must be odd ('same' padding)")
            layers += [LayerSpec("conv", _bounded(tok, "channels", m.group(2), MAX_WIDTH), k)] * \
                _bounded(tok, "repeat count", m.group(1) or "1", MAX_LAYERS)
        elif tok == "P2":
            if not layers or layers[-1].kind != "conv" or layers[-1].pool:
                raise DnncError(f"arch token {tok!r}: max-pool must follow a conv layer")
            last = layers.pop()
            layers.append(LayerSpec("conv", last.out, last.kernel, 2))
        elif re.match(r"^P\d+$", tok):
            raise DnncError(f"arch token {tok!r}: only 2x2 max-pool (P2) is supported")
        else:
            raise DnncError(f"unknown arch token {tok!r} in {text!r}")
    if len(layers) > MAX_LAYERS:
        raise DnncError(f"arch {text[:40]!r}...: {len(layers)} layers, more than {MAX_LAYERS}")
    if not layers or layers[-1].kind != "dense":
        raise DnncError(f"arch {text!r}: the last layer must be the output layer FC<classes>")
    first_dense = next(i for i, s in enumerate(layers) if s.kind == "dense")
    if any(s.kind == "conv" for s in layers[first_dense:]):
        raise DnncError(f"arch {text!r}: conv layers must come before the dense layers")
    return tuple(layers)


def normalize(layers: tuple[LayerSpec, ...]) -> str:
    """The canonical string of a layer list (repeated convs written out one by one)."""
    toks = []
    for s in layers:
        if s.kind == "dense":
            toks.append(f"FC{s.out}")
        else:
            toks.append(f"{s.out}C{s.kernel}")
            if s.pool:
                toks.append("P2")
    return "-".join(toks)


def parse_arch(text: str) -> Arch:
    """A preset name or an arch string -> Arch; unknown tokens raise DnncError naming the token."""
    text = text.strip()
    if text in PRESETS:
        string, drop, drop_real = PRESETS[text]
    else:
        string, drop, drop_real = text, {}, {}
        layers = _parse_tokens(text)
        for preset_string, pdrop, pdrop_real in PRESETS.values():  # the paper's string gets its rates
            if _parse_tokens(preset_string) == layers:
                drop, drop_real = pdrop, pdrop_real
                break
    layers = _parse_tokens(string)
    n = len(layers)
    return Arch(normalize(layers), layers, _rates(n, drop), _rates(n, drop_real))


def check_size(arch: Arch, input_shape: tuple[int, int, int]) -> None:
    """Raise DnncError if the network has more than MAX_WEIGHTS weights (before any tensor is made)."""
    c, h, w = (int(d) for d in input_shape)
    total = 0
    for s in arch.layers:
        if s.kind == "conv":
            total += c * s.out * s.kernel * s.kernel
            c = s.out
            if s.pool:
                h, w = h // s.pool, w // s.pool
        else:
            total += c * h * w * s.out
            c, h, w = s.out, 1, 1
    if total > MAX_WEIGHTS:
        raise DnncError(f"arch {arch.text[:60]!r}: {total} weights on a {tuple(input_shape)} input, more than "
                        f"{MAX_WEIGHTS}")


def check_input(arch: Arch, input_shape: tuple[int, int, int], classes: int) -> None:
    """Raise DnncError if the arch does not fit the data (odd size at a pool, wrong class count, too big)."""
    check_size(arch, input_shape)
    _c, h, w = input_shape
    for i, s in enumerate(arch.layers):
        if s.kind == "conv" and s.pool:
            if h % 2 or w % 2:
                raise DnncError(f"arch {arch.text!r}: layer {i} max-pools an odd size {h}x{w}")
            h, w = conv_out_size(h, s.pool, s.pool), conv_out_size(w, s.pool, s.pool)
    if arch.layers[-1].out != classes:
        raise DnncError(f"arch {arch.text!r}: output layer FC{arch.layers[-1].out} but the data has "
                        f"{classes} classes")
