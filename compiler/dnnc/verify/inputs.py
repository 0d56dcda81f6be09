"""Verification inputs: real test digits first, then random full-range inputs, then threshold-edge inputs.

Edge inputs are built so that accumulators land exactly on thresholds (the only place where a wrong tie
rule shows): for the first layer, pixels of one receptive field are adjusted greedily until a chosen
channel's accumulator equals its threshold; for deeper layers, random pixel perturbations are hill-climbed
towards the smallest |acc - threshold|. `count_ties` reports how many exact hits a batch contains.
"""

from __future__ import annotations

import numpy as np

from dnnc.errors import DnncError
from dnnc.ir.interpreter import apply_layer, trace
from dnnc.ir.model import THRESHOLD_LIMIT, IRModel, Linear, MaxPool, MultiThreshold, Threshold
from dnnc.vocabulary import BIPOLAR

MNIST_SHAPE = (1, 28, 28)
MAX_INPUT_BYTES = 1 << 30  # verification inputs held in memory at once


def split_counts(samples: int, has_real: bool) -> tuple[int, int, int]:
    """(real, random, edge): up to 2000 real digits (half the budget), the rest half random, half edge."""
    n_real = min(2000, (samples + 1) // 2) if has_real else 0
    n_edge = (samples - n_real) // 2
    return n_real, samples - n_real - n_edge, n_edge


def random_inputs(rng: np.random.Generator, n: int, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform uint8 over the full range, plus all-0 / all-255 and saturated (0/255) images."""
    x = rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)
    sat = rng.random(n) < 0.25
    x[sat] = np.where(rng.random((int(sat.sum()), *shape)) < 0.5, 0, 255).astype(np.uint8)
    if n >= 1:
        x[0] = 0
    if n >= 2:
        x[1] = 255
    return x


ACTIVATIONS = (Threshold, MultiThreshold)


def targets(layer: Threshold | MultiThreshold) -> tuple[np.ndarray, np.ndarray]:
    """(thresholds int64 (C, J), live bool (C, J)): the accumulator values where an activation's output
    changes; a constant sign channel or a saturated k-bit threshold (+-2^24) is not live."""
    if isinstance(layer, Threshold):
        return layer.threshold.reshape(-1, 1), (layer.direction != 0).reshape(-1, 1)
    return layer.thresholds, np.abs(layer.thresholds) < THRESHOLD_LIMIT


def _distance(layer, a: np.ndarray) -> np.ndarray:
    """|acc - nearest live threshold| per element of a (N, C, ...) accumulator tensor (inf if none)."""
    t, live = targets(layer)
    shape = (1, -1) + (1,) * (a.ndim - 2) + (t.shape[1],)
    d = np.abs(a[..., None] - t.reshape(shape)).astype(np.float64)
    return np.where(live.reshape(shape), d, np.inf).min(axis=-1)


def _threshold_inputs(model: IRModel) -> list[tuple[int, Threshold | MultiThreshold]]:
    """(index of the layer whose output the activation reads, activation) for every (Multi)Threshold."""
    return [(i - 1, layer) for i, layer in enumerate(model.layers) if isinstance(layer, ACTIVATIONS)]


def ties_by_layer(model: IRModel, raw: np.ndarray, batch: int = 256) -> tuple[dict[str, int], np.ndarray]:
    """({threshold layer name: exact acc == t hits}, hits per sample) over live (non-constant) channels."""
    counts = {thr.name: 0 for _, thr in _threshold_inputs(model)}
    per_sample = np.zeros(len(raw), np.int64)
    for lo in range(0, len(raw), batch):
        values = trace(model, raw[lo:lo + batch])
        for src, thr in _threshold_inputs(model):
            eq = _distance(thr, values[src]) == 0
            hits = eq.reshape(len(eq), -1).sum(axis=1)
            counts[thr.name] += int(hits.sum())
            per_sample[lo:lo + len(eq)] += hits
    return counts, per_sample


def count_ties(model: IRModel, raw: np.ndarray) -> tuple[int, int]:
    """(exact threshold hits over all samples/channels/positions, samples with at least one hit)."""
    _, per_sample = ties_by_layer(model, raw)
    return int(per_sample.sum()), int((per_sample > 0).sum())


def _code_max(model: IRModel) -> int:
    """The largest raw code: 255, or the number of input thresholds of a float-input model."""
    return 255 if model.input_thresholds is None else len(model.input_thresholds)


def _first_layer_edge(model: IRModel, base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Greedy pixel edits so that one random first-layer channel's accumulator equals its threshold."""
    lin = model.layers[0]
    nxt = model.layers[1] if len(model.layers) > 1 else None
    thr = model.layers[2] if isinstance(nxt, MaxPool) and len(model.layers) > 2 else nxt
    if not isinstance(lin, Linear) or not isinstance(thr, ACTIVATIONS):
        return base
    tvals, tlive = targets(thr)
    live = np.argwhere(tlive)
    if not live.size:
        return base
    out = base.copy()
    for n in range(len(out)):
        c, jt = (int(v) for v in live[rng.integers(len(live))])
        x = out[n].astype(np.int64)
        if lin.kind == "dense":
            idx = np.arange(x.size)
            w = lin.weight[c].astype(np.int64).reshape(-1)
        else:
            _, oh, ow = lin.out_shape
            i, j = int(rng.integers(oh)), int(rng.integers(ow))
            _, kh, kw = lin.weight.shape[1:]
            cc, a, b = np.meshgrid(np.arange(lin.weight.shape[1]), np.arange(kh), np.arange(kw), indexing="ij")
            r, s = i * lin.stride + a - lin.pad, j * lin.stride + b - lin.pad
            ok = (r >= 0) & (r < x.shape[1]) & (s >= 0) & (s < x.shape[2])
            idx = np.ravel_multi_index((cc[ok], r[ok], s[ok]), x.shape)
            w = lin.weight[c].astype(np.int64)[ok]
        flat = x.reshape(-1)
        acc = int((w * (lin.in_mul * flat[idx] + lin.in_add)).sum())
        need = int(tvals[c, jt]) - acc
        if lin.in_mul == 0 or need % lin.in_mul:
            need -= need % lin.in_mul if lin.in_mul else need  # nearest reachable accumulator below t
        d_total = need // lin.in_mul if lin.in_mul else 0
        order = [k for k in rng.permutation(len(idx)) if w[k] != 0]
        order.sort(key=lambda k: -abs(w[k]))
        for k in order:
            if d_total == 0:
                break
            p = int(idx[k])
            d = int(np.clip(int(d_total / w[k]), -flat[p], _code_max(model) - flat[p]))
            flat[p] += d
            d_total -= int(w[k]) * d
        out[n] = flat.reshape(x.shape).astype(np.uint8)
    return out


def _deep_edge(model: IRModel, base: np.ndarray, rng: np.random.Generator, target: int, iters: int) -> np.ndarray:
    """Hill-climb pixel perturbations towards min |acc - t| at threshold layer `target` (layer index)."""
    thr = model.layers[target]
    if not targets(thr)[1].any() or not len(base):
        return base
    prefix = model.layers[:target]

    def score(x: np.ndarray) -> np.ndarray:
        if len(x) > 256:
            return np.concatenate([score(x[i:i + 256]) for i in range(0, len(x), 256)])
        a = x
        for layer in prefix:
            a = apply_layer(layer, a)
        return _distance(thr, a).reshape(len(x), -1).min(axis=1)

    x = base.copy()
    best = score(x)
    flat_n = int(np.prod(x.shape[1:]))
    for _ in range(iters):
        if not (best > 0).any():
            break
        cand = x.reshape(len(x), -1).copy()
        k = max(1, flat_n // 50)
        pos = rng.integers(0, flat_n, size=(len(x), k))
        cand[np.arange(len(x))[:, None], pos] = rng.integers(0, _code_max(model) + 1, size=(len(x), k),
                                                             dtype=np.uint8)
        cand = cand.reshape(x.shape)
        s = score(cand)
        take = (s <= best) & (best > 0)
        x[take], best[take] = cand[take], s[take]
    return x


def edge_inputs(model: IRModel, base: np.ndarray, rng: np.random.Generator, iters: int = 12) -> np.ndarray:
    """Half first-layer greedy ties, the rest split over deeper threshold layers (hill-climbing)."""
    n = len(base)
    thr_idx = [i for i, layer in enumerate(model.layers) if isinstance(layer, ACTIVATIONS)]
    deep = thr_idx[1:]
    n_first = n if not deep else (n + 1) // 2
    parts = [_first_layer_edge(model, base[:n_first], rng)]
    rest = base[n_first:]
    for j, t in enumerate(deep):
        chunk = rest[j * len(rest) // len(deep):(j + 1) * len(rest) // len(deep)]
        seeded = _first_layer_edge(model, chunk, rng)
        parts.append(_deep_edge(model, seeded, rng, t, iters))
    return np.concatenate(parts) if parts else base


def float_representatives(thresholds: np.ndarray, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """float32 inputs with exactly the given raw codes: per element, at random, the code's lower decision
    boundary itself (x = T[r-1]), its float neighbour just below the next boundary (np.nextafter), or a value
    in between; so every input quantizer boundary and its float neighbours are exercised."""
    t = np.asarray(thresholds, np.float32)
    top = len(t)
    r = np.asarray(codes, np.int64)
    lo_b = np.where(r >= 1, t[np.clip(r - 1, 0, top - 1)], np.float32(-2.0))  # -2: below any [0, 1] input
    lo_b = np.where((r == 0) & (t[0] <= -2.0), np.nextafter(t[0], np.float32(-np.inf)), lo_b).astype(np.float32)
    hi_n = np.where(r < top, np.nextafter(t[np.clip(r, 0, top - 1)], np.float32(-np.inf)), np.float32(2.0))
    hi_n = np.maximum(hi_n.astype(np.float32), lo_b)
    mid = (lo_b + (hi_n.astype(np.float64) - lo_b) * rng.random(r.shape)).astype(np.float32)
    mid = np.clip(mid, lo_b, hi_n).astype(np.float32)
    pick = rng.integers(0, 3, size=r.shape)
    return np.where(pick == 0, lo_b, np.where(pick == 1, hi_n, mid)).astype(np.float32)


def make_inputs(loaded, samples: int, seed: int = 0) -> np.ndarray:
    """(samples, C, H, W): real test digits first, then random, then threshold-edge inputs.

    np.uint8 raw inputs; for a float-input model float32: real digits as p / 255 (as p when the graph divides by 255), the rest as float
    representatives of raw codes (input quantizer boundaries and their neighbours, `float_representatives`).
    """
    model: IRModel = loaded.ir
    shape = tuple(model.input_shape)
    need = samples * int(np.prod(shape))
    if need > MAX_INPUT_BYTES:  # before allocating: a typo in --samples must not ask for 36 GiB
        raise DnncError(f"--samples {samples}: {need} bytes of inputs for this model's {shape} input, more "
                        f"than {MAX_INPUT_BYTES}; use at most {MAX_INPUT_BYTES // int(np.prod(shape))}")
    rng = np.random.default_rng(seed)
    has_real = shape == MNIST_SHAPE
    n_real, n_rand, n_edge = split_counts(samples, has_real)
    if model.byte_codes is not None:
        return _byte_inputs(model, shape, rng, n_real, n_rand, n_edge)
    if model.meta.get("qonnx", {}).get("input", {}).get("dtype") == BIPOLAR:
        return _bipolar_inputs(model, shape, rng, n_rand + n_real, n_edge)
    if model.input_thresholds is not None:
        return _float_inputs(model, shape, rng, n_real, n_rand, n_edge)
    parts = []
    if n_real:
        from dnnc.data.bundled import mnist10k

        parts.append(mnist10k("test")[0][:n_real])
    parts.append(random_inputs(rng, n_rand, shape))
    if n_edge:
        pool = np.concatenate(parts) if parts else random_inputs(rng, n_edge, shape)
        base = pool[rng.integers(0, len(pool), size=n_edge)] if len(pool) else random_inputs(rng, n_edge, shape)
        parts.append(edge_inputs(model, base, rng))
    return np.concatenate(parts).astype(np.uint8)


def _takes_pixels(model: IRModel) -> bool:
    """A graph that divides its float input by 255 first (FINN's ToTensor folded in) takes pixels 0..255."""
    steps = model.meta.get("qonnx", {}).get("input", {}).get("steps", [])
    return bool(steps) and (tuple(steps[0]) == ("div", 255.0) or
                            (steps[0][0] == "mul" and np.float32(steps[0][1]) == np.float32(1 / 255)))


def _float_inputs(model: IRModel, shape, rng: np.random.Generator, n_real: int, n_rand: int, n_edge: int) -> np.ndarray:
    from dnnc.ir.interpreter import quantize_input

    top = _code_max(model)
    parts, codes = [], []
    if n_real:
        from dnnc.data.bundled import mnist10k

        pix = mnist10k("test")[0][:n_real].astype(np.float32)
        real = pix if _takes_pixels(model) else (pix / np.float32(255)).astype(np.float32)
        parts.append(real)
        codes.append(quantize_input(model.input_thresholds, real))
    rand = (random_inputs(rng, n_rand, shape).astype(np.int64) * (top + 1) // 256).astype(np.uint8)
    parts.append(float_representatives(model.input_thresholds, rand, rng))
    codes.append(rand)
    if n_edge:
        pool = np.concatenate(codes)
        base = pool[rng.integers(0, len(pool), size=n_edge)]
        parts.append(float_representatives(model.input_thresholds, edge_inputs(model, base, rng), rng))
    return np.concatenate(parts).astype(np.float32)


def _bipolar_inputs(model: IRModel, shape, rng: np.random.Generator, n_rand: int, n_edge: int) -> np.ndarray:
    """float32 +-1 inputs for a file whose input is annotated BIPOLAR (its executor rejects anything else):
    random signs, then threshold-edge inputs built on the codes, each code replaced by the nearer of the
    two codes -1 and +1 reach."""
    from dnnc.ir.interpreter import quantize_input

    table = quantize_input(model.input_thresholds, np.array([-1.0, 1.0], np.float32))
    signs = rng.integers(0, 2, size=(n_rand, *shape)).astype(np.uint8)
    if n_rand >= 2:
        signs[0], signs[1] = 0, 1
    parts = [signs]
    if n_edge:
        base = table[signs[rng.integers(0, len(signs), size=n_edge)]] if len(signs) else \
            table[rng.integers(0, 2, size=(n_edge, *shape))]
        parts.append(bytes_for_codes(table, edge_inputs(model, base, rng), rng))
    return (np.concatenate(parts).astype(np.float32) * 2 - 1).astype(np.float32)


def bytes_for_codes(table: np.ndarray, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """uint8 bytes whose table code is the wanted code (a random one of them); a code no byte reaches is
    replaced by the nearest reachable one. Why: edge inputs are built in code space, the entry takes bytes."""
    table = np.asarray(table, np.int64)
    reach = np.unique(table)
    want = np.asarray(codes, np.int64)
    pos = np.clip(np.searchsorted(reach, want), 0, len(reach) - 1)
    below = reach[np.clip(pos - 1, 0, len(reach) - 1)]
    near = np.where(np.abs(reach[pos] - want) <= np.abs(below - want), reach[pos], below)
    order = np.argsort(table, kind="stable")  # bytes grouped by code
    first = np.searchsorted(table[order], near, side="left")
    count = np.searchsorted(table[order], near, side="right") - first
    pick = first + (rng.random(near.shape) * count).astype(np.int64)
    return order[pick].astype(np.uint8)


def _byte_inputs(model: IRModel, shape, rng: np.random.Generator, n_real: int, n_rand: int, n_edge: int) -> np.ndarray:
    """Bytes for a model with a stated input map: real digits as their pixel bytes, uniform random bytes
    (every byte value occurs), and threshold-edge inputs built on the codes, then turned into bytes."""
    parts = []
    if n_real:
        from dnnc.data.bundled import mnist10k

        parts.append(mnist10k("test")[0][:n_real])
    parts.append(random_inputs(rng, n_rand, shape))
    if n_edge:
        pool = model.byte_codes[np.concatenate(parts)]
        base = pool[rng.integers(0, len(pool), size=n_edge)]
        parts.append(bytes_for_codes(model.byte_codes, edge_inputs(model, base, rng), rng))
    return np.concatenate(parts).astype(np.uint8)
