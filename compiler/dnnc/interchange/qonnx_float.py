"""The float32 arithmetic of an imported graph, reproduced step by step so that dnnc decides exactly as the file.

A QONNX file's reference is the file itself run by onnxruntime / qonnx's executor, which evaluate every
elementwise op in IEEE float32 (one rounding each; Sub as the addition of the exact negation) and
BatchNormalization as onnxruntime's CPU kernel does (`bn_steps`, checked against onnxruntime in the tests).
Every such step is monotone in its input, so a sign of the chain applied to an integer accumulator is an
integer threshold, found by bisection on the chain itself (`decide`), and a quantizer applied to a float
input is a list of float32 thresholds, found by bisection on the float32 order (`input_thresholds`).
No formula is rounded: ties fall exactly where the reference puts them.
"""

from __future__ import annotations

import numpy as np

F32 = np.float32
ACC_LIMIT = 2**24  # float32 holds every integer accumulator below this exactly (range analysis enforces it)


def bn_steps(gamma, beta, mean, var, eps: float) -> list[tuple[str, np.ndarray]]:
    """onnxruntime's CPU BatchNormalization in float32: x * (g / sqrt(v + eps)) + (b - m * that)."""
    g, b, m, v = (np.asarray(a, F32) for a in (gamma, beta, mean, var))
    inv = (F32(1) / np.sqrt((v + F32(eps)).astype(F32))).astype(F32)
    scale = (g * inv).astype(F32)
    bias = (b - (m * scale).astype(F32)).astype(F32)
    return [("mul", scale), ("add", bias)]


def apply_steps(steps, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Run float32 steps on x, each per-channel vector reshaped to `shape` for broadcasting."""
    y = np.asarray(x, F32)
    with np.errstate(all="ignore"):
        for op, v in steps:
            if op == "clip":  # Relu / Clip: one (lo, hi) pair for every channel
                y = np.minimum(np.maximum(y, F32(v[0])), F32(v[1])).astype(F32)
                continue
            v = np.asarray(v, F32).reshape(shape)
            y = bipolar(y, v) if op == "bipolar" else \
                (y + v if op == "add" else y * v if op == "mul" else y / v).astype(F32)
    return y


def bipolar(y: np.ndarray, v: np.ndarray) -> np.ndarray:
    """QONNX BipolarQuant of float32 y with scale v: +v where y / v >= 0 (so -0.0 counts as +), else -v."""
    with np.errstate(all="ignore"):
        return np.where((y / v).astype(F32) >= F32(0), v, -v).astype(F32)


def directions(steps, c: int) -> np.ndarray:
    d = np.ones(c, np.int64)
    for op, v in steps:
        if op == "clip" and v[0] == v[1]:
            d[:] = 0
        if op in ("mul", "div"):
            d *= np.sign(np.broadcast_to(np.asarray(v, np.float64), (c,))).astype(np.int64)
    return d


def _bisect(p, c: int):
    """Bisection of a monotone per-channel predicate p(acc int64[c]) -> bool[c] over [-2^24, 2^24]:
    (p_lo, p_hi, a, b) with b - a <= 1 and P(a) != P(b) wherever p_lo != p_hi."""
    lo = np.full(c, -ACC_LIMIT, np.int64)
    hi = np.full(c, ACC_LIMIT, np.int64)
    p_lo, p_hi = p(lo), p(hi)
    a, b = lo.copy(), hi.copy()  # invariant: P(a) != P(b) on live channels
    while np.any(b - a > 1):
        mid = (a + b) // 2
        same_as_lo = p(mid) == p_lo
        a = np.where(same_as_lo, mid, a)
        b = np.where(same_as_lo, b, mid)
    return p_lo, p_hi, a, b


def decide(steps, t, c: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integer form of `chain(acc) >= t` per channel: (direction int8, threshold int64, const int8).

    direction +1: +1 iff acc >= threshold; -1: +1 iff acc <= threshold; 0: const for every acc in
    [-2^24, 2^24]. Found by bisection on the float32 chain itself (monotone), so it is exact.
    """
    t = np.broadcast_to(np.asarray(t, F32), (c,))
    steps = [(op, v if op == "clip" else np.broadcast_to(np.asarray(v, F32), (c,))) for op, v in steps]

    def p(acc: np.ndarray) -> np.ndarray:
        return apply_steps(steps, acc.astype(F32), (c,)) >= t

    d = directions(steps, c)
    p_lo, p_hi, a, b = _bisect(p, c)
    direction = np.zeros(c, np.int8)
    const = np.where(p_lo, 1, -1).astype(np.int8)
    live = (p_lo != p_hi) & (d != 0)
    inc = live & p_hi  # non-decreasing: the smallest acc with P
    dec = live & p_lo  # non-increasing: the largest acc with P
    thr = np.zeros(c, np.int64)
    thr[inc], direction[inc] = b[inc], 1
    thr[dec], direction[dec] = a[dec], -1
    const[live] = 1
    return direction, thr, const


def decide_levels(steps, level, levels: int, c: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer form of a k-bit activation `level(chain(acc))` in 0..levels-1 (MultiThreshold semantics):
    (direction int8[c] in {+1, -1}, thresholds int64[c, levels - 1]).

    Threshold r-1 is where `level >= r` switches, by bisection on the float32 chain and the quantizer
    itself (both monotone), so ties fall as in the reference. direction +1: the smallest acc with level >= r
    (-2^24 if every acc has it, 2^24 if none); -1: the largest (2^24 if every acc, -2^24 if none). A channel
    whose level does not depend on acc gets direction +1 and only saturated thresholds.
    """
    steps = [(op, v if op == "clip" else np.broadcast_to(np.asarray(v, F32), (c,))) for op, v in steps]
    d = directions(steps, c)
    direction = np.where(d < 0, -1, 1).astype(np.int8)
    thr = np.zeros((c, levels - 1), np.int64)
    for r in range(1, levels):
        def p(acc: np.ndarray, r=r) -> np.ndarray:
            return level(apply_steps(steps, acc.astype(F32), (c,))) >= r

        p_lo, p_hi, a, b = _bisect(p, c)
        const = p_lo == p_hi
        up = direction > 0
        t = np.where(up, b, a)
        t = np.where(const, np.where(p_lo == up, -ACC_LIMIT, ACC_LIMIT), t)  # always / never counted
        thr[:, r - 1] = t
    return direction, thr


def _ordered(x: np.ndarray) -> np.ndarray:
    """float32 -> int64 keys in the same order as the float values (-0.0 just below +0.0)."""
    b = np.asarray(x, F32).view(np.int32).astype(np.int64)
    return np.where(b < 0, -(b & 0x7FFFFFFF) - 1, b)


def _from_ordered(k: np.ndarray) -> np.ndarray:
    k = np.asarray(k, np.int64)
    b = np.where(k < 0, (-(k + 1)) | 0x80000000, k)
    return b.astype(np.uint32).view(F32)


def input_thresholds(level, levels: int) -> np.ndarray:
    """Ascending float32 T[r-1] = the smallest float32 x with level(x) >= r, r = 1..levels-1.

    `level` maps a float32 array to integer levels 0..levels-1 and must be non-decreasing in x (the
    graph's float ops with a positive overall multiplier, then a quantizer). Bisection over the float32
    order, all levels at once; level(x) >= r  <=>  x >= T[r-1] for every non-NaN float32 x.
    """
    r = np.arange(1, levels, dtype=np.int64)
    lo = np.full(r.shape, _ordered(F32(-np.inf)), np.int64)  # level(lo) < r or lo is -inf itself
    hi = np.full(r.shape, _ordered(F32(np.inf)), np.int64)
    at_lo = level(_from_ordered(lo)) >= r
    while True:
        open_ = (hi - lo > 1) & ~at_lo
        if not open_.any():
            break
        mid = (lo + hi) // 2
        ok = level(_from_ordered(mid)) >= r
        hi = np.where(open_ & ok, mid, hi)
        lo = np.where(open_ & ~ok, mid, lo)
    out = np.where(at_lo, lo, hi)
    return _from_ordered(out).astype(F32)


def is_pow2_vec(v: np.ndarray) -> bool:
    v = np.abs(np.asarray(v, np.float64))
    return bool(np.all((v >= 2.0**-100) & (v <= 2.0**100) & (np.frexp(v)[0] == 0.5)))


def output_steps(steps, k: int) -> tuple[np.ndarray, np.ndarray, tuple] | str:
    """(scale, bias, post) of OutputAffine computing exactly the float32 `steps` on f32(acc), else why not.

    f32(acc) * s is exact for a power-of-two s, so leading power-of-two multiplies and at most one other
    multiply fold into `scale`; the first add is `bias`; every later step stays a float32 step of its own
    (a final "bipolar" step is the graph's BipolarQuant output: a one-bit output of the last accumulator).
    """
    if any(op == "clip" for op, _ in steps):
        return "a Relu/Clip on the output layer is not supported (dnnc outputs an affine of the accumulator)"
    steps = [(op, np.broadcast_to(np.asarray(v, F32), (k,)).copy()) for op, v in steps]
    if not steps or steps[0][0] != "mul":
        return "the output chain must start at a linear layer's accumulator"
    scale = np.ones(k, np.float64)
    i, exact = 0, True
    while i < len(steps) and steps[i][0] == "mul" and exact:
        v = steps[i][1].astype(np.float64)
        exact = is_pow2_vec(v) and is_pow2_vec(scale)
        if not exact and not is_pow2_vec(scale):
            break
        scale = scale * v
        i += 1
    bias = np.zeros(k, np.float64)
    if i < len(steps) and steps[i][0] == "add":
        bias = steps[i][1].astype(np.float64)
        i += 1
        # a power-of-two multiply commutes with float32 rounding: f32(y + b) * 2^e == f32(y * 2^e + b * 2^e)
        while i < len(steps) and steps[i][0] == "mul" and is_pow2_vec(steps[i][1]) and \
                is_pow2_vec(scale) and not np.any(steps[i][1] < 0):
            scale, bias = scale * steps[i][1], bias * steps[i][1]
            i += 1
    s32 = scale.astype(F32)
    if not np.array_equal(s32.astype(np.float64), scale) or not np.all(np.isfinite(s32)):
        return "output scale not representable in float32"
    post = tuple(steps[i:])
    if any(op == "bipolar" for op, _ in post[:-1]):
        return "a sign of the output must be its last step"
    for _, v in post:
        if not np.all(np.isfinite(v)):
            return "output constants must be finite"
    return s32, bias.astype(F32), post
