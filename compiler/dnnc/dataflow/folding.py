"""Folding: choose PE / SIMD per stage, FINN's divisibility rules, least parallelism for a cycle target.

Modes:
  * target fps at a clock: target cycles = (1e9 / clock_ns) / fps; every stage gets the smallest PE*SIMD
    whose cycles meet it (ties: larger SIMD first, as FINN's SetFolding raises SIMD before PE). A stage
    that cannot meet it gets the least parallelism reaching its best cycles and is reported.
  * balance (no fps): the target is the slowest stage's best cycles under `max_lanes` (PE*SIMD cap), so
    every other stage gets just enough parallelism to keep pace with the bottleneck.
  * explicit: a {stage name: {"PE": p, "SIMD": s}} mapping (e.g. FINN's published folding config).
Couplings: a ConvolutionInputGenerator uses its MVAU's SIMD; max-pool and thresholding after an MVAU keep
its PE, so no width converter sits inside a layer. Width converters between layers are inserted last.
"""

from __future__ import annotations

from dataclasses import dataclass

from dnnc.dataflow.stages import Stage
from dnnc.errors import DnncError


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@dataclass
class FoldResult:
    target_cycles: int | None
    mode: str  # "fps" | "balance" | "explicit"
    unmet: list[str]  # stages that cannot reach the target


def _options(stages: list[Stage], i: int, max_lanes: int | None) -> list[tuple[int, int, int]]:
    """(lanes, -SIMD, PE) sorted candidates with their cycles for the folding group starting at stage i."""
    s = stages[i]
    a = s.attrs
    if s.op == "MVAU":
        swg = stages[i - 1] if i > 0 and stages[i - 1].op == "ConvolutionInputGenerator" else None
        simds = [d for d in divisors(a["MW"]) if swg is None or swg.attrs["IFMChannels"] % d == 0]
        cands = [(p * q, -q, p) for p in divisors(a["MH"]) for q in simds]
    elif s.op in ("Thresholding", "LabelSelect"):
        n = a["NumChannels"] if s.op == "Thresholding" else a["Labels"]
        cands = [(p, -1, p) for p in divisors(n)]
    else:
        return []
    cands.sort()
    if max_lanes is not None:
        cands = [c for c in cands if c[0] <= max_lanes] or cands[:1]
    return cands


def _set(stages: list[Stage], i: int, pe: int, simd: int) -> None:
    s = stages[i]
    if s.op == "ConvolutionInputGenerator":
        s.attrs["SIMD"] = simd
        return
    s.attrs["PE"] = pe
    if s.op == "MVAU":
        s.attrs["SIMD"] = simd
        if i > 0 and stages[i - 1].op == "ConvolutionInputGenerator":
            stages[i - 1].attrs["SIMD"] = simd
    _propagate(stages, i)


def _propagate(stages: list[Stage], i: int) -> None:
    """Max-pool and a thresholding stage right after an MVAU / max-pool keep the producer's PE."""
    j = i + 1
    while j < len(stages) and stages[j].op in ("StreamingMaxPool", "Thresholding") and stages[j].attrs.get(
        "tied", False
    ):
        stages[j].attrs["PE"] = stages[i].pe
        j += 1


def _group_cycles(stages: list[Stage], i: int) -> int:
    cyc = stages[i].cycles()
    if stages[i].op == "MVAU" and i > 0 and stages[i - 1].op == "ConvolutionInputGenerator":
        cyc = max(cyc, stages[i - 1].cycles())
    return cyc


def _heads(stages: list[Stage]) -> list[int]:
    return [i for i, s in enumerate(stages) if s.op in ("MVAU", "LabelSelect")
            or (s.op == "Thresholding" and not s.attrs.get("tied", False))]


def best_cycles(stages: list[Stage], i: int, max_lanes: int | None) -> int:
    cands = _options(stages, i, max_lanes)
    best = None
    for _, negq, p in cands:
        _set(stages, i, p, -negq)
        c = _group_cycles(stages, i)
        best = c if best is None else min(best, c)
    return int(best)


def fold(stages: list[Stage], target_cycles: int | None, max_lanes: int | None) -> FoldResult:
    """Least-parallelism folding meeting `target_cycles` (None: balance on the slowest stage)."""
    mode = "fps"
    if target_cycles is None:
        mode = "balance"
        target_cycles = max(best_cycles(stages, i, max_lanes) for i in _heads(stages))
        # stages without folding (max-pool, FINN's formula ignores PE) may be slower still
        fixed = [s.cycles() for s in stages if s.op == "StreamingMaxPool"]
        target_cycles = max([target_cycles, *fixed])
    unmet: list[str] = []
    for i in _heads(stages):
        cands = _options(stages, i, max_lanes if mode == "balance" else None)
        cycles = []
        for _, negq, p in cands:
            _set(stages, i, p, -negq)
            cycles.append(_group_cycles(stages, i))
        ok = [k for k, c in enumerate(cycles) if c <= target_cycles]
        # unreachable: the least parallelism that reaches the group's best (e.g. an MVAU keeping pace
        # with its window generator, which cannot use more SIMD lanes than input channels)
        pick = ok[0] if ok else cycles.index(min(cycles))
        _, negq, p = cands[pick]
        _set(stages, i, p, -negq)
        if not ok:
            group = [stages[i - 1]] if stages[i].op == "MVAU" and i > 0 and stages[
                i - 1].op == "ConvolutionInputGenerator" else []
            unmet += [s.name for s in [*group, stages[i]] if s.cycles() > target_cycles]
    for s in stages:
        s.check()
    return FoldResult(target_cycles=target_cycles, mode=mode, unmet=unmet)


FOLD_KEYS = ("PE", "SIMD")
MAX_FOLD = 1 << 16  # no stage has more rows or columns than this


def check_folding(config) -> None:
    """The shape of an explicit folding, strictly: a mistyped key ("pe") or a JSON true must not be read
    as the default 1."""
    usage = '{"<stage>": {"PE": <int > 0>, "SIMD": <int > 0>}, ...}'
    if not isinstance(config, dict):
        raise DnncError(f"folding: expected {usage}, got {type(config).__name__}")
    for name, v in config.items():
        if not isinstance(v, dict):
            raise DnncError(f"folding: stage '{name}': expected {{\"PE\": p, \"SIMD\": s}}, got {v!r}")
        for key, val in v.items():
            if key not in FOLD_KEYS:
                near = [k for k in FOLD_KEYS if k.lower() == str(key).lower()]
                hint = f" (did you mean '{near[0]}'?)" if near else ""
                raise DnncError(f"folding: stage '{name}': unknown key '{key}'{hint}; keys are PE and SIMD")
            if isinstance(val, bool) or not isinstance(val, int) or not 0 < val <= MAX_FOLD:
                raise DnncError(f"folding: stage '{name}': {key} must be an integer in 1..{MAX_FOLD}, got "
                                f"{val!r}")


def apply_folding(stages: list[Stage], config: dict) -> FoldResult:
    """Explicit folding {stage: {"PE": p, "SIMD": s}}; unknown stage names are an error."""
    index = {s.name: i for i, s in enumerate(stages)}
    check_folding(config)
    # window generators last, so that a SIMD contradicting their MVAU's is caught below
    items = sorted(config.items(), key=lambda kv: stages[index[kv[0]]].op == "ConvolutionInputGenerator"
                   if kv[0] in index else False)
    for name, cfg in items:
        if name not in index:
            raise DnncError(f"folding: no stage named '{name}' (stages: {', '.join(index)})")
        i = index[name]
        _set(stages, i, int(cfg.get("PE", 1)), int(cfg.get("SIMD", 1)))
    for i, s in enumerate(stages):
        s.check()
        if s.op == "ConvolutionInputGenerator" and stages[i + 1].simd != s.simd:
            raise DnncError(f"folding: stage '{s.name}' SIMD {s.simd} must equal its MVAU "
                            f"'{stages[i + 1].name}' SIMD {stages[i + 1].simd}")
    return FoldResult(target_cycles=None, mode="explicit", unmet=[])
