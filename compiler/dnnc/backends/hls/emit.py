"""Render the HLS project from the folded stage list: a plain context of names, sizes and ROM data,
turned into C++ / Tcl / Markdown by the Jinja templates in templates/hls/ (no C++ text here)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import jinja2
import numpy as np

from dnnc import __version__
from dnnc.dataflow.estimates import Summary, estimate
from dnnc.dataflow.folding import FoldResult
from dnnc.dataflow.stages import Stage
from dnnc.errors import DnncError
from dnnc.resources import resource_dir

RUNTIME_FILES = ("dnnc_hls.h", "dnnc_hls_stream.h")
KBIT_FILE = "dnnc_hls_kbit.h"  # shipped (and included) only by designs with k-bit activations


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir("templates"))),
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
    )


def _int_literal(v: int, bits: int) -> str:
    if v == -(2 ** (bits - 1)):
        return f"({v + 1}{'LL' if bits > 32 else ''} - 1)"
    return f"{v}{'LL' if bits > 32 else ''}"


def _float_literal(v: np.float32, what: str) -> str:
    if not np.isfinite(v):
        raise DnncError(f"{what}: non-finite value {v} in the output affine")
    # shortest decimal that round-trips float32; the compiler rounds it straight to float (C++14 has no
    # hex float literals)
    return np.format_float_scientific(np.float32(v), unique=True) + "f"


def _by_pe(values: np.ndarray, pe: int) -> np.ndarray:
    """(MH, ...) per-channel data -> (PE, MH / PE, ...): channel nf * PE + pe goes to [pe][nf]."""
    mh = values.shape[0]
    return values.reshape(mh // pe, pe, *values.shape[1:]).swapaxes(0, 1)


def _weight_rows(stage: Stage) -> list[list[str]]:
    a, p = stage.params, stage.pe
    q = stage.simd
    w = np.asarray(a["weight"])
    mh, mw = w.shape
    w = _by_pe(w.reshape(mh, mw // q, q), p).reshape(p, -1, q)  # (PE, WMEM, SIMD)
    if a["wkind"] == "bits":
        words = math.ceil(q / 64)
        bits = np.zeros((p, w.shape[1], words * 64), np.uint8)
        bits[..., :q] = w > 0
        packed = np.packbits(bits, axis=-1, bitorder="little").view("<u8")
        return [[", ".join(f"0x{int(x):016x}ull" for x in row) for row in pe_rows] for pe_rows in packed]
    return [[", ".join(str(int(x)) for x in row) for row in pe_rows] for pe_rows in w]


def stage_context(stage: Stage) -> dict:
    res = estimate(stage)
    ctx = dict(stage.attrs)
    ctx.update(name=stage.name, op=stage.op, layer=stage.layer, in_kind=stage.in_kind,
               out_kind=stage.out_kind, in_width=stage.in_width, out_width=stage.out_width,
               cycles=stage.cycles(), lut=res.lut, bram18=res.bram18, dsp=res.dsp, res_model=res.model,
               NV=int(np.prod(stage.attrs.get("numInputVectors", [1]))))
    if stage.op == "MVAU":
        ctx.update(WMEM=ctx["MW"] * ctx["MH"] // (stage.pe * stage.simd), wkind=stage.params["wkind"],
                   rows=_weight_rows(stage))
    if "thr" in stage.params:
        bits = stage.params["thr_bits"]
        channels = stage.params["thr"].shape[0]
        ctx.update(TMEM=channels // stage.pe, thr_type=f"int{bits}_t")
        for key in ("thr", "dir", "cst"):
            per_pe = _by_pe(np.asarray(stage.params[key]), stage.pe)
            ctx[key] = [", ".join(_int_literal(int(v), bits) for v in row) for row in per_pe]
    if "mthr" in stage.params:
        t = np.asarray(stage.params["mthr"])
        ctx.update(TMEM=t.shape[0] // stage.pe, T=t.shape[1], thr_type="int32_t", act_bias=stage.params["bias"])
        ctx["mthr"] = [", ".join("{ " + ", ".join(_int_literal(int(v), 32) for v in ch) + " }" for ch in row)
                       for row in _by_pe(t, stage.pe)]
        ctx["dir"] = [", ".join(str(int(v)) for v in row) for row in _by_pe(np.asarray(stage.params["dir"]), stage.pe)]
    if stage.op == "LabelSelect":
        ctx["scale"] = ", ".join(_float_literal(v, stage.layer) for v in stage.params["scale"])
        ctx["bias"] = ", ".join(_float_literal(v, stage.layer) for v in stage.params["bias"])
        ctx["post"] = [({"add": "+", "mul": "*", "div": "/", "bipolar": "bipolar"}[op], ", ".join(_float_literal(x, stage.layer) for x in v))
                       for op, v in stage.params.get("post", [])]
    return ctx


def project_context(name: str, input_shape: tuple[int, ...], classes: int, stages: list[Stage],
                    fold: FoldResult, summary: Summary, target: dict, input_thresholds=None) -> dict:
    csim = target["csim"]
    thr = None if input_thresholds is None else [_float_literal(v, "input") for v in input_thresholds]
    return {
        "kbit": any("mthr" in s.params for s in stages),
        "input_thresholds": thr,
        "version": __version__, "name": name, "guard": name.upper(), "in_shape": list(input_shape),
        "in_lanes": stages[0].in_width, "classes": classes,
        "stages": [stage_context(s) for s in stages],
        "part": target["part"], "clock_ns": summary.clock_ns,
        "hls_cflags": target["hls_cflags"], "cxx": csim["cxx"],
        "cxxflags": " ".join(csim["flags"]),
        "fold_mode": fold.mode, "target_cycles": fold.target_cycles, "target_fps": target["fps"] or None,
        "unmet": fold.unmet, **vars(summary),
    }


def write_hls(ctx: dict, hls_dir: Path) -> None:
    """The C++ sources, testbench, Makefile and run_hls.tcl, plus the kernel headers from runtime/hls."""
    env = _env()
    hls_dir.mkdir(parents=True, exist_ok=True)
    name = ctx["name"]
    files = {
        f"{name}_top.h": "hls/top.h.j2", f"{name}_params.h": "hls/params.h.j2",
        f"{name}_top.cpp": "hls/top.cpp.j2", f"tb_{name}.cpp": "hls/tb.cpp.j2",
        "run_hls.tcl": "hls/run_hls.tcl.j2", "Makefile": "hls/Makefile.j2",
    }
    for out, tpl in files.items():
        (hls_dir / out).write_text(env.get_template(tpl).render(**ctx))
    for f in RUNTIME_FILES + ((KBIT_FILE,) if ctx["kbit"] else ()):
        shutil.copyfile(resource_dir("runtime") / "hls" / f, hls_dir / f)


def render_report(ctx: dict) -> str:
    return _env().get_template("hls/report.md.j2").render(**ctx)
