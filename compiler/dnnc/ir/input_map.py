"""A stated mapping from raw sensor bytes p to a model's float input x (`--input-map 'p/255'`).

Why: a float-input graph (x in [0, 1], say) is fed by a sensor that delivers bytes; with the mapping stated,
every byte's raw code is known in advance, so the artifact offers a uint8 entry point that maps each byte
through a 256-entry table. The mapping is parsed with a small grammar (never `eval`) and evaluated in
float32, one rounding per step, in the order written:

    p | p/K | p*K | p+B | p-B | (p+B)/K | (p-B)/K | (p+B)*K | (p-B)*K      (K, B decimal numbers)

K and B are rounded to float32 (as a float32 constant in a graph would be); K must be non-zero and finite.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from dnnc.errors import DnncError

F32 = np.float32
_NUM = r"(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
_OFF = rf"p\s*([+-])\s*{_NUM}"
_FORMS = [
    (re.compile(r"p"), "none"),
    (re.compile(rf"p\s*([*/])\s*{_NUM}"), "scale"),
    (re.compile(_OFF), "offset"),
    (re.compile(rf"\(\s*{_OFF}\s*\)\s*([*/])\s*{_NUM}"), "both"),
]
SYNTAX = "p, p/K, p*K, p+B, p-B, (p-B)/K, (p+B)/K, (p-B)*K or (p+B)*K with decimal numbers K, B"


@dataclass(frozen=True)
class InputMap:
    """x = the float32 steps applied to float32(p), in order: ("add" | "mul" | "div", float32 constant)."""

    text: str
    steps: tuple[tuple[str, float], ...]

    def apply(self, p: np.ndarray) -> np.ndarray:
        """float32 x for bytes p (any shape), one float32 rounding per step."""
        x = np.asarray(p, np.uint8).astype(F32)
        with np.errstate(all="ignore"):
            for op, v in self.steps:
                k = F32(v)
                x = (x + k if op == "add" else x * k if op == "mul" else x / k).astype(F32)
        return x

    def all_bytes(self) -> np.ndarray:
        """map(p) for p = 0..255."""
        return self.apply(np.arange(256, dtype=np.uint8))


def _const(text: str, what: str, src: str) -> float:
    v = F32(float(text))
    if not np.isfinite(v) or (what == "K" and v == 0):
        raise DnncError(f"--input-map '{src}': {what} = {text} must be finite" + (" and non-zero" if what == "K" else ""))
    return float(v)


def parse_input_map(text: str) -> InputMap:
    """The mapping for `text`; a one-line DnncError naming the accepted forms for anything else."""
    src = text.strip()
    for rx, form in _FORMS:
        m = rx.fullmatch(src)
        if m is None:
            continue
        steps: list[tuple[str, float]] = []
        g = m.groups()
        if form in ("offset", "both"):
            b = _const(g[1], "B", src)
            steps.append(("add", -b if g[0] == "-" else b))
        if form in ("scale", "both"):
            op, k = (g[0], g[1]) if form == "scale" else (g[2], g[3])
            steps.append(("mul" if op == "*" else "div", _const(k, "K", src)))
        return InputMap(src, tuple(steps))
    raise DnncError(f"--input-map '{text}': not a supported mapping; use {SYNTAX}")


def byte_codes(thresholds: np.ndarray, imap: InputMap) -> np.ndarray:
    """uint8[256]: the raw code of every byte, = #(map(p) >= T) (NaN -> 0), the float path itself."""
    from dnnc.ir.interpreter import quantize_input

    return np.asarray(quantize_input(np.asarray(thresholds, F32), imap.all_bytes()), np.uint8)
