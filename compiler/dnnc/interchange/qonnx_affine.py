"""Per-channel float chains (Mul/Add/BatchNormalization) between an integer accumulator and a sign.

QONNX graphs express "BN then sign" in floats. dnnc decides the sign in integers: the chain is composed
into v = a*acc + b per channel in high-precision decimal arithmetic (real-number semantics, not float32),
and `acc >= ceil(tau)` / `acc <= floor(tau)` / constant is read off. A float executor can disagree with
this only where v is within its rounding error of the threshold: an exact tie, which
`dnnc.verify.qonnx_reference` detects and counts with `margin`.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

import numpy as np

PREC = 80
SNAP = Decimal(10) ** -40  # |tau - round(tau)| below this: the real value sits exactly on an integer


def _dec(x) -> Decimal:
    return Decimal(float(x))


class AffineChain:
    """v = a * acc + b per channel, composed exactly from the graph's float ops."""

    def __init__(self, channels: int, scale: np.ndarray):
        self.c = channels
        with localcontext() as ctx:
            ctx.prec = PREC
            self.a = [_dec(s) for s in np.broadcast_to(np.asarray(scale, np.float64), (channels,))]
        self.b = [Decimal(0)] * channels
        self.ops: list[tuple] = [("mul", np.broadcast_to(np.asarray(scale, np.float64), (channels,)).copy())]
        # the same chain as the reference evaluates it: float32 steps (dnnc.interchange.qonnx_float)
        self.steps: list[tuple[str, np.ndarray]] = [("mul", np.asarray(self.ops[0][1], np.float32))]

    def mul(self, c: np.ndarray) -> None:
        c = np.broadcast_to(np.asarray(c, np.float64), (self.c,))
        with localcontext() as ctx:
            ctx.prec = PREC
            self.a = [a * _dec(k) for a, k in zip(self.a, c)]
            self.b = [b * _dec(k) for b, k in zip(self.b, c)]
        self.ops.append(("mul", c.copy()))
        self.steps.append(("mul", c.astype(np.float32)))

    def div(self, c: np.ndarray) -> None:
        c = np.broadcast_to(np.asarray(c, np.float64), (self.c,))
        with localcontext() as ctx:
            ctx.prec = PREC
            self.a = [a / _dec(k) if k else Decimal(0) for a, k in zip(self.a, c)]
            self.b = [b / _dec(k) if k else Decimal(0) for b, k in zip(self.b, c)]
        self.ops.append(("mul", 1.0 / c))
        self.steps.append(("div", c.astype(np.float32)))

    def add(self, d: np.ndarray) -> None:
        d = np.broadcast_to(np.asarray(d, np.float64), (self.c,))
        with localcontext() as ctx:
            ctx.prec = PREC
            self.b = [b + _dec(k) for b, k in zip(self.b, d)]
        self.ops.append(("add", d.copy()))
        self.steps.append(("add", d.astype(np.float32)))

    def batchnorm(self, gamma, beta, mean, var, eps: float) -> None:
        """y = gamma * (v - mean) / sqrt(var + eps) + beta (ONNX BatchNormalization, inference)."""
        with localcontext() as ctx:
            ctx.prec = PREC
            k = [_dec(g) / (_dec(v) + _dec(eps)).sqrt() for g, v in zip(gamma, var)]
            self.b = [(b - _dec(m)) * kk + _dec(be) for b, m, kk, be in zip(self.b, mean, k, beta)]
            self.a = [a * kk for a, kk in zip(self.a, k)]
        self.ops.append(("bn",))
        from dnnc.interchange.qonnx_float import bn_steps

        self.steps.extend(bn_steps(gamma, beta, mean, var, eps))

    def clip(self, lo: float, hi: float) -> None:
        """Relu (lo = 0) or Clip/HardTanh in float32: monotone, so thresholds are still found by bisection on
        `steps`; the real-number (a, b) form, used only to explain ties, stays that of the affine part."""
        self.ops.append(("clip", (lo, hi)))
        self.steps.append(("clip", np.array([lo, hi], np.float32)))

    def bipolar(self, s: np.ndarray) -> None:
        """A sign of the chain's float32 value as the graph's output (BipolarQuant: +s if v / s >= 0, else -s);
        only ever the last step of an output chain."""
        s = np.broadcast_to(np.asarray(s, np.float64), (self.c,))
        self.ops.append(("bipolar", s.copy()))
        self.steps.append(("bipolar", s.astype(np.float32)))

    def increasing(self) -> bool:
        """True if v is non-decreasing in acc for every channel (max-pool commutes with the chain)."""
        return all(a >= 0 for a in self.a)

    def decide(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Integer form of `v >= t`: (direction int8, threshold int64, const int8) per channel."""
        t = np.broadcast_to(np.asarray(t, np.float64), (self.c,))
        direction = np.zeros(self.c, np.int8)
        thr = np.zeros(self.c, np.int64)
        const = np.ones(self.c, np.int8)
        with localcontext() as ctx:
            ctx.prec = PREC
            for c in range(self.c):
                a, rhs = self.a[c], _dec(t[c]) - self.b[c]
                if a == 0:
                    const[c] = 1 if rhs <= 0 else -1
                    continue
                tau = rhs / a
                near = tau.to_integral_value()
                if abs(tau - near) < SNAP:
                    tau = near
                if a > 0:
                    direction[c], thr[c] = 1, int(tau.to_integral_value(rounding="ROUND_CEILING"))
                else:
                    direction[c], thr[c] = -1, int(tau.to_integral_value(rounding="ROUND_FLOOR"))
        return direction, thr, const

    def margin_params(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """float64 (a, b - t): v - t = a*acc + (b - t), for tie detection against float executors."""
        t = np.broadcast_to(np.asarray(t, np.float64), (self.c,))
        return np.array([float(a) for a in self.a]), np.array([float(b) for b in self.b]) - t


def output_affine(ops: list[tuple], where: str) -> tuple[np.ndarray, np.ndarray] | str:
    """(scale, bias) float32 if the chain computes exactly float32(float32(acc*scale)+bias), else why not.

    Multiplying by a power of two (or -1) is exact in float32 and commutes with rounding; one other
    multiply is allowed before the bias add; anything else rounds differently from dnnc's OutputAffine.
    """
    scale, bias, rounded = None, None, False
    for op in ops:
        if op[0] == "bn":
            return f"{where}: BatchNormalization on the output cannot be matched bit-exactly"
        v = np.asarray(op[1], np.float64)
        if op[0] == "mul":
            exact = all(k == 0 or (abs(k) >= 2.0**-100 and np.frexp(abs(k))[0] == 0.5) for k in v)
            if not exact and (rounded or bias is not None):
                return f"{where}: a second non-power-of-two scale on the output cannot be folded exactly"
            rounded = rounded or not exact
            scale = v.copy() if scale is None else scale * v
            bias = None if bias is None else bias * v
        else:
            if bias is not None and np.any(bias != 0):
                return f"{where}: two bias additions on the output cannot be folded exactly"
            bias = v.copy()
    scale = np.ones(1) if scale is None else scale
    bias = np.zeros_like(scale) if bias is None else bias
    s32, b32 = scale.astype(np.float32), bias.astype(np.float32)
    if not (np.array_equal(s32.astype(np.float64), scale) and np.array_equal(b32.astype(np.float64), bias)):
        return f"{where}: output scale/bias not representable in float32"
    return s32, b32
