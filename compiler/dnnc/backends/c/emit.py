"""Render a C plan through templates/c/ into an output directory (library, runtime, build files, report).

Deterministic: the same plan renders to byte-identical files (no dates, no absolute paths).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import jinja2
import numpy as np

from dnnc import __version__
from dnnc.backends.c.packing import RUNTIME_KINDS
from dnnc.backends.c.plan import CONV_FIELDS, CONVB_FIELDS, DENSE_U8_FIELDS, Array, Plan
from dnnc.errors import DnncError
from dnnc.resources import resource_dir

# The runtime/ headers a model.c can include, each with the feature macro that includes it (None: every model).
# model.c defines the macros of its features (`features`) and the runtime headers include on them, so this
# table is the one list of what a library ships (tests/test_c_library.py checks it against the preprocessor).
RUNTIME_HEADERS = {
    "dnnc_runtime.h": None,
    "dnnc_layers.h": None,
    "dnnc_bitact.h": None,
    "dnnc_bitact_v7em.h": "DNNC_V7EM_KERNELS",
    "dnnc_bitact_v6m.h": "DNNC_V6M_KERNELS",
    "dnnc_intin.h": None,
    "dnnc_lanes.h": "DNNC_LANES_LAYOUT",
    "dnnc_pixconv.h": "DNNC_PIX_CONV",
    "dnnc_mve.h": "DNNC_MVE_KERNELS",
    "dnnc_kbit.h": "DNNC_KBIT",
    "dnnc_popcount.h": None,
}
C_KEYWORDS = {
    "auto",
    "break",
    "case",
    "char",
    "const",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "float",
    "for",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "register",
    "restrict",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "struct",
    "switch",
    "typedef",
    "union",
    "unsigned",
    "void",
    "volatile",
    "while",
}


def _literal(ctype: str, v) -> str:
    if ctype == "float":
        f = float(np.float32(v))
        return f"{f.hex()}f"
    v = int(v)
    if ctype == "uint32_t":
        return f"0x{v:08x}u"
    if ctype == "int32_t" and v == -(2**31):
        return "(-2147483647 - 1)"
    return str(v)


def carray(a: Array, per_line: int = 8) -> str:
    """The comma-separated initializer of a const array (number formatting only)."""
    per_line = 12 if a.ctype in ("int8_t", "uint8_t", "int16_t") else per_line
    vals = [_literal(a.ctype, v) for v in a.values.reshape(-1).tolist()]
    lines = ["    " + ", ".join(vals[i : i + per_line]) + "," for i in range(0, len(vals), per_line)]
    return "\n".join(lines) if lines else "    0"


def environment(subdir: str = "c") -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir("templates") / subdir)),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    env.filters["carray"] = carray
    return env


def defines(target: dict) -> list[str]:
    return {"builtin": ["-DDNNC_POPCOUNT_BUILTIN"], "zbb": ["-DDNNC_POPCOUNT_ZBB"]}.get(target["popcount"], [])


def features(target: dict, lanes: int = 0, kbit: bool = False, pix: bool = False) -> list[str]:
    """The runtime feature macros of a library for `target` (with the plan's output-lane layout `lanes`, k-bit
    activations when `kbit`, pixel-lane conv layers when `pix`)."""
    out = ["DNNC_KBIT"] if kbit else []
    if target["dsp"]:  # the Armv7E-M DSP extension: its assembly kernels
        out.append("DNNC_V7EM_KERNELS")
    if target["thumb1"]:  # Armv6-M: the Thumb-1 bit counts of dnnc_bitact_v6m.h
        out.append("DNNC_V6M_KERNELS")
    if target["mve"]:  # Helium: the vector kernels of dnnc_mve.h
        out.append("DNNC_MVE_KERNELS")
    if lanes:
        out.append("DNNC_LANES_LAYOUT")
    if pix:
        out.append("DNNC_PIX_CONV")
    return out


def kinds_mask(plan: Plan) -> int:
    """Bit k set for each packed weight kind k (DNNC_W_*, runtime/dnnc_bitact.h) the plan's layers use: the
    runtime drivers compile only those kernels (DNNC_KINDS)."""
    order = [m for m, _ in RUNTIME_KINDS.values()]
    return sum(1 << order.index(k) for k in {s.fields.get("kind") for s in plan.stages} if k in order)


def runtime_headers(feature_macros: list[str]) -> list[str]:
    """The runtime/ headers a library with these features includes, hence ships."""
    return [h for h, m in RUNTIME_HEADERS.items() if m is None or m in feature_macros]


def _budget(used: int, budget: int) -> tuple[str, str]:
    if not budget:
        return "-", "n/a"
    return f"{budget:,}", "yes" if used <= budget else "**no**"


def context(plan: Plan, target: dict) -> dict:
    if not plan.name.isidentifier() or plan.name in C_KEYWORDS:
        raise DnncError(f"model name '{plan.name}' is not a valid C identifier")
    c, h, w = plan.input_shape
    for st in plan.stages:
        st.scratch_bytes = 4 * sum(max(1, v) for v in st.scratch.values())
    act_words = plan.arena["A"][1]
    flash_fit = _budget(plan.flash_bytes, target["flash_bytes"])
    ram_fit = _budget(plan.arena_words * 4, target["ram_bytes"])
    return {
        "name": plan.name,
        "NAME": plan.name.upper(),
        # library (lib<library>.a) and CMake target: prefixed, so a model named m, c or pthread cannot shadow
        # a system library (-lm) nor a CMake target of that name
        "library": f"dnnc_{plan.name}",
        "version": __version__,
        "target": target["name"],
        "in_c": c,
        "in_h": h,
        "in_w": w,
        "num_classes": plan.num_classes,
        "float_input": plan.input_thresholds is not None,
        "input_thresholds": None if plan.input_thresholds is None else Array("input_thr", "float",
                                                                             plan.input_thresholds),
        "byte_input": plan.byte_codes is not None,
        "byte_codes": None if plan.byte_codes is None else Array("byte_codes", "uint8_t", plan.byte_codes),
        "input_map": plan.input_map,
        # what a harness feeds: the byte entry point when a map is stated, else the model's own input
        "entry": "_u8" if plan.byte_codes is not None else "_f32" if plan.input_thresholds is not None else "",
        "stages": plan.stages,
        "arena": plan.arena,
        "arena_words": plan.arena_words,
        "lanes": plan.lanes,
        "features": features(target, plan.lanes, plan.kbit, plan.pix),
        "kinds": kinds_mask(plan),
        "conv_fields": tuple(CONV_FIELDS),
        "convb_fields": CONVB_FIELDS,
        "dense_u8_fields": tuple(DENSE_U8_FIELDS),
        "cc": target["cc"],
        "ar": target["ar"],
        "cpu_flags": target["cpu_flags"],
        "cflags": target["cflags"],
        "warn_flags": target["warn_flags"],
        "defines": defines(target),
        "flash_bytes": plan.flash_bytes,
        "arena_bytes": plan.arena_words * 4,
        "act_bytes": act_words * 4,
        "scratch_bytes": (plan.arena_words - 2 * act_words) * 4,
        "flash_budget": flash_fit[0],
        "flash_fits": flash_fit[1],
        "ram_budget": ram_fit[0],
        "ram_fits": ram_fit[1],
    }


def write(plan: Plan, target: dict, outdir: Path) -> None:
    """Write model.h, model.c, runtime/, Makefile, CMakeLists.txt and report.md into outdir."""
    env = environment()
    ctx = context(plan, target)
    outdir = Path(outdir)
    for tpl, out in (
        ("model.h.j2", "model.h"),
        ("model.c.j2", "model.c"),
        ("Makefile.j2", "Makefile"),
        ("CMakeLists.txt.j2", "CMakeLists.txt"),
        ("report.md.j2", "report.md"),
    ):
        (outdir / out).write_text(env.get_template(tpl).render(**ctx))
    rt = outdir / "runtime"
    rt.mkdir(exist_ok=True)
    for hdr in runtime_headers(ctx["features"]):
        shutil.copyfile(resource_dir("runtime") / hdr, rt / hdr)
