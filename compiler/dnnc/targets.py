"""Target facts are data: one TOML file per target, validated against a schema per backend family.

`--target NAME` loads targets/NAME.toml; `--target PATH` (anything with a path separator or ending in .toml)
loads the user's own file. Both go through `load_target`, which checks every key (known, right type, allowed
value), fills the defaults (they live here, once) and returns a plain dict the backends read directly.
A bad file is a DnncError naming the file and the key, so the CLI prints one line and exits 2.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dnnc.errors import DnncError
from dnnc.resources import resource_dir

TARGET_HELP = ("A target name from targets/ (cortex-m4, host, fpga-hls, ...) or the path of your own "
               "target file (./board.toml).")
REQUIRED = object()
HOSTED_ARCH = "host"  # built and run natively by the build machine's compiler: no bare-metal harness
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class Key:
    """One TOML key: accepted Python types, default (REQUIRED, or None for an optional table), value check."""

    types: tuple[type, ...]
    doc: str
    default: Any = REQUIRED
    choices: tuple = ()
    low: float | None = None  # numbers: the smallest value allowed (excluded when strict)
    strict: bool = False
    table: dict[str, Key] | None = None  # sub-schema of a [table]; None with types=(dict,) = free-form

    def bound(self) -> str:
        return "" if self.low is None else f"{'>' if self.strict else '>='} {self.low:g}"

    def out_of_range(self, v: Any) -> bool:
        return self.low is not None and (v <= self.low if self.strict else v < self.low)


def _str(doc: str, default: Any = REQUIRED, choices: tuple = ()) -> Key:
    return Key((str,), doc, default, choices)


def _int(doc: str, default: Any = REQUIRED, low: int = 0) -> Key:
    return Key((int,), doc, default, low=low)


def _flags(doc: str) -> Key:
    return Key((list,), doc, [])


_COMMON = {
    "backend": _str("backend family: `c`, `hls` or `rtl`", choices=("c", "hls", "rtl")),
    "description": _str("one line for humans (not read by the compiler)"),
}

EMULATOR = {
    "qemu": _str("QEMU system emulator binary, e.g. `qemu-system-arm`"),
    "machine": _str("QEMU board (`-M`)"),
    "cpu": _str("QEMU CPU (`-cpu`)"),
    "args": _flags("further QEMU arguments for the board, e.g. `-global` properties or `-bios none`"),
    "code_origin": _int("start of the board's code memory (linker script FLASH)"),
    "code_bytes": _int("size of the code memory", low=1),
    "const_origin": _int("start of a separate read-only memory for constants (weights) when the code memory is "
                         "too small for them; used only with const_bytes", 0),
    "const_bytes": _int("size of that memory; 0 = constants stay in the code memory", 0),
    "ram_origin": _int("start of the board's data memory (linker script RAM; the stack starts at its end)"),
    "ram_bytes": _int("size of the data memory", low=1),
    "stack_bytes": _int("stack size; the link fails if .data + .bss + stack_bytes exceed the RAM"),
    "timer_hz": _int("frequency of the harness's cycle counter (the arch's dnnc_cycles.h); with QEMU "
                     "`-icount shift=0` instructions = ticks x 1e9 / timer_hz", low=1),
}

C_SCHEMA = {
    **_COMMON,
    "arch": _str(f"`{HOSTED_ARCH}` (runs natively) or a bare-metal harness folder "
                 "templates/c/harness/ARCH/ (startup, linker script, semihosting, cycle counter)"),
    "cc": _str("C compiler"),
    "ar": _str("archiver (generated Makefile/CMake)"),
    "size": _str("size tool, Berkeley output (`dnnc bench` text/data/bss)"),
    "cpu_flags": _flags("core selection flags, e.g. `-mcpu=... -mfpu=...`"),
    "cflags": _flags("language and optimization flags; `-ffp-contract=off` is always added"),
    "warn_flags": _flags("warnings; verify/bench builds add `-Werror`"),
    "popcount": _str("`builtin` (`__builtin_popcount`, a popcount instruction), `zbb` (the RISC-V Zbb `cpop` "
                     "instruction) or `swar` (carry-save + SWAR, for cores without one)", "swar",
                     ("builtin", "zbb", "swar")),
    "dsp": Key((bool,), "Arm DSP extension (Armv7E-M, Armv8-M Mainline): SMLAD in the first conv layer, the "
                "assembly bit counts of runtime/dnnc_bitact_v7em.h", False),
    "thumb1": Key((bool,), "Armv6-M (Thumb-1 only): the assembly bit counts of runtime/dnnc_bitact_v6m.h (packed "
                   "layers, every weight kind)", False),
    "mve": Key((bool,), "Armv8.1-M Helium (MVE): the vector kernels of runtime/dnnc_mve.h (packed dense and "
                "pooled conv layers, the `direct` first dense layer and the first conv layer)", False),
    "flash_bytes": _int("flash budget for const data in report.md; 0 = none", 0),
    "ram_bytes": _int("RAM budget for the arena in report.md; 0 = none", 0),
    "lut_bytes": _int("RAM for the first dense layer's partial-sum tables", 32768, low=1),
    "first_dense": _str("first dense layer on raw input: `lut` (shared tables) or `direct` (int8 weights)",
                        "lut", ("lut", "direct")),
    "lanes": Key((str, int), "output-lane layout: `\"auto\"` (16 if the compiler enables AVX-512, AVX2 or "
                 "NEON), 0 or 16",
                 0, ("auto", 0, 16)),
    "pixel_lanes": _str("conv layers in pixel lanes (runtime/dnnc_pixconv.h): `auto` (the convs that fit, where "
                        "the output-lane layout has AVX2 but not AVX-512) or `off`", "auto", ("auto", "off")),
    "runner": _flags(f"arch `{HOSTED_ARCH}` only: command the harness runs under, e.g. `qemu-aarch64 -L "
                     "/usr/aarch64-linux-gnu` for a cross-compiled AArch64 build; empty = natively"),
    "emulator": Key((dict,), "bare-metal arch only: the emulated board `verify` and `bench` run on "
                    "(keys below); without it the target compiles but does not run", None, table=EMULATOR),
}

CSIM = {
    "cxx": _str("C++ compiler for C-simulation", "g++"),
    "flags": _flags("C-simulation flags"),
    "sanitize": _flags("flags added for sanitized C-simulation (tests)"),
}

HLS_SCHEMA = {
    **_COMMON,
    "part": _str("FPGA part (run_hls.tcl, dataflow.json)"),
    "clock_ns": Key((float, int), "clock period in ns (`--clock-ns` overrides)", 10.0, low=0, strict=True),
    "fps": Key((float, int), "folding goal in frames/s at clock_ns; 0 = balance every stage on the slowest "
               "(`--fps` overrides)", 0.0, low=0),
    "balance_max_lanes": _int("balance mode: cap on the slowest stage's PE x SIMD", 64, low=1),
    "mvau_dsp_min_bits": _int("MVAUs with weight + input bits >= this use DSP slices; 0 = never", 0),
    "hls_cflags": _str("flags Vitis HLS gets for design and testbench", ""),
    "folding": Key((dict,), "explicit folding `{stage = {PE = p, SIMD = s}}` (`--folding` overrides)", {}),
    "csim": Key((dict,), "C-simulation with a plain C++ compiler (keys below)", {}, table=CSIM),
}

RTL_SIM = {
    "verilator": _str("Verilator binary (5.x: `--binary --timing`)", "verilator"),
    "flags": _flags("extra Verilator flags for the verify and bench simulations"),
    "stall_percent": _int("verify: chance in percent that the testbench withholds an input beat or an output "
                          "ready in a cycle (back-pressure on both ends)", 25),
}

RTL_TOOLS = {
    "yosys": _str("yosys binary", "yosys"),
    "nextpnr": _str("nextpnr-ice40 binary (ice40 flow)", "nextpnr-ice40"),
    "icetime": _str("icetime binary (ice40 flow)", "icetime"),
    "icepack": _str("icepack binary (ice40 flow: the bitstream in the generated Makefile)", "icepack"),
}

RTL_SCHEMA = {
    **_COMMON,
    "flow": _str("`generic` (yosys `synth` and `synth_xilinx` LUT/FF counts) or `ice40` (yosys `synth_ice40`, "
                 "nextpnr-ice40, icetime)", choices=("generic", "ice40")),
    "part": _str("the part named in reports and scripts"),
    "xilinx_family": _str("`synth_xilinx -family` for the generic flow's 7-series counts", "xc7"),
    "device": _str("ice40 flow: nextpnr-ice40 device option (`up5k` -> `--up5k`)", "up5k"),
    "package": _str("ice40 flow: nextpnr-ice40 `--package`", "sg48"),
    "pins": _flags("ice40 flow: the package's user I/O pins, clock pin first; the generated pin constraints file "
                   "assigns the top's ports to them in order"),
    "lc_budget": _int("ice40 flow: logic cells of the part; `--fps` folding must fit (0 = no check)", 0),
    "bram_budget": _int("ice40 flow: 4-Kbit block RAMs of the part (0 = no check)", 0),
    "clock_ns": Key((float, int), "clock period in ns for folding and the timing target (`--clock-ns` overrides)",
                    10.0, low=0, strict=True),
    "fps": Key((float, int), "folding goal in frames/s at clock_ns; 0 = balance every stage on the slowest "
               "(`--fps` overrides)", 0.0, low=0),
    "balance_max_lanes": _int("balance mode: cap on the slowest stage's PE x SIMD", 64, low=1),
    "mvau_dsp_min_bits": _int("MVAUs with weight + input bits >= this are estimated on DSP slices; 0 = never", 0),
    "folding": Key((dict,), "explicit folding `{stage = {PE = p, SIMD = s}}` (`--folding` overrides)", {}),
    "input_lanes": _int("pixels a beat on the top's input stream; 0 = the first stage's input width", 0),
    "sim": Key((dict,), "Verilator simulation (keys below)", {}, table=RTL_SIM),
    "tools": Key((dict,), "synthesis and place-and-route tools (keys below)", {}, table=RTL_TOOLS),
}

SCHEMAS = {"c": C_SCHEMA, "hls": HLS_SCHEMA, "rtl": RTL_SCHEMA}
# A bare-metal arch folder's harness.toml: how to build its harness (every *.c in the folder is compiled).
HARNESS_SCHEMA = {
    "description": _str("the cores this harness serves"),
    "flags": _flags("compiler and linker flags of a harness build (startup, linker script, C library)"),
}

_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list",
               dict: "a table"}
_SHORT_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean", list: "list of strings",
                dict: "table"}


def _shown(types: tuple[type, ...]) -> list[type]:
    """Types as users see them: an integer is a number where a number is expected."""
    return [t for t in types if not (t is int and float in types)]


def _type_ok(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in types
    return isinstance(value, types)


def _validate(data: dict, schema: dict[str, Key], where: str, prefix: str = "") -> dict:
    """`data` checked against `schema` with defaults filled in; DnncError '<where>: <key>: ...' on a fault."""
    out = {}
    for key in data:
        if key not in schema:
            near = difflib.get_close_matches(key, list(schema), n=1)
            hint = f" (did you mean '{prefix}{near[0]}'?)" if near else ""
            raise DnncError(f"{where}: unknown key '{prefix}{key}'{hint}")
    for key, spec in schema.items():
        name = prefix + key
        if key not in data:
            if spec.default is REQUIRED:
                raise DnncError(f"{where}: missing required key '{name}' ({spec.doc})")
            if spec.table is not None and spec.default is not None:
                out[key] = _validate({}, spec.table, where, name + ".")
            else:
                out[key] = spec.default.copy() if isinstance(spec.default, (list, dict)) else spec.default
            continue
        value = data[key]
        if not _type_ok(value, spec.types):
            want = " or ".join(_TYPE_NAMES[t] for t in _shown(spec.types))
            raise DnncError(f"{where}: key '{name}' must be {want}, got {type(value).__name__} {value!r}")
        if spec.types == (list,) and not all(isinstance(v, str) for v in value):
            raise DnncError(f"{where}: key '{name}' must be a list of strings, got {value!r}")
        if spec.choices and value not in spec.choices:
            raise DnncError(f"{where}: key '{name}' = {value!r}, expected one of "
                            f"{', '.join(repr(c) for c in spec.choices)}")
        if isinstance(value, float) and not math.isfinite(value):  # TOML has nan and inf
            raise DnncError(f"{where}: key '{name}' = {value!r} must be a finite number")
        if spec.out_of_range(value):
            raise DnncError(f"{where}: key '{name}' = {value!r} must be {spec.bound()}")
        if spec.table is not None:
            value = _validate(value, spec.table, where, name + ".")
        elif float in spec.types:
            value = float(value)
        out[key] = value
    return out


def harness_archs() -> list[str]:
    """Bare-metal arch folders under templates/c/harness (each with a harness.toml)."""
    root = resource_dir("templates") / "c" / "harness"
    return sorted(p.parent.name for p in root.glob("*/harness.toml"))


def harness_dir(arch: str) -> Path:
    return resource_dir("templates") / "c" / "harness" / arch


def load_harness(arch: str) -> dict:
    """The arch folder's harness.toml, validated."""
    path = harness_dir(arch) / "harness.toml"
    return _validate(_read(path), HARNESS_SCHEMA, str(path))


def _read(path: Path) -> dict:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise DnncError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise DnncError(f"{path}: not valid TOML ({exc})") from None


def validate(data: dict, where: str) -> dict:
    """A parsed target file checked against its family's schema, with defaults filled in."""
    if "backend" not in data:
        raise DnncError(f"{where}: missing required key 'backend' ({_COMMON['backend'].doc})")
    family = data["backend"]
    if family not in SCHEMAS:
        raise DnncError(f"{where}: key 'backend' = {family!r}, expected one of {', '.join(map(repr, SCHEMAS))}")
    cfg = _validate(data, SCHEMAS[family], where)
    if family == "c":
        archs = harness_archs()
        if cfg["arch"] != HOSTED_ARCH and cfg["arch"] not in archs:
            raise DnncError(f"{where}: key 'arch' = {cfg['arch']!r} has no harness folder templates/c/harness/"
                            f"{cfg['arch']}/ (known: {', '.join([HOSTED_ARCH, *archs])})")
        if cfg["arch"] == HOSTED_ARCH and cfg["emulator"] is not None:
            raise DnncError(f"{where}: key 'emulator' is for a bare-metal arch; arch = '{HOSTED_ARCH}' runs natively")
    return cfg


def available_targets() -> list[str]:
    return sorted(p.stem for p in resource_dir("targets").glob("*.toml"))


def target_path(spec: str) -> Path:
    """The file `--target spec` names: a user's path (has a separator or ends in .toml) or targets/<name>.toml."""
    if "/" in spec or "\\" in spec or spec.endswith(".toml"):
        if not spec.endswith(".toml"):
            raise DnncError(f"target '{spec}': a target file must end in .toml (or give a name from targets/: "
                            f"{', '.join(available_targets())})")
        return Path(spec)
    path = resource_dir("targets") / f"{spec}.toml"
    if not _NAME.fullmatch(spec) or not path.is_file():
        raise DnncError(f"unknown target '{spec}' (available: {', '.join(available_targets()) or 'none'}; "
                        "or a path to your own .toml file)")
    return path


def load_target(spec: str) -> dict:
    """The validated target `spec` names (see target_path), with 'name' (the file's stem) and 'path' added."""
    path = target_path(spec)
    if not path.is_file():
        raise DnncError(f"{spec}: no such target file")
    cfg = validate(_read(path), str(path))
    cfg["name"] = path.stem
    cfg["path"] = str(path)
    return cfg


def reference_table(schema: dict[str, Key], prefix: str = "") -> str:
    """Markdown rows `| key | type | default | meaning |` of a schema (docs/adding-a-target.md holds them)."""
    rows = []
    for key, spec in schema.items():
        kind = " or ".join(_SHORT_NAMES[t] for t in _shown(spec.types))
        if spec.bound():
            kind += f" {spec.bound()}"
        if spec.default is REQUIRED:
            default = "required"
        elif spec.table is not None:
            default = "optional"
        else:
            default = f"`{_toml_value(spec.default)}`"
        choices = f" ({', '.join(f'`{_toml_value(c)}`' for c in spec.choices)})" if spec.choices else ""
        rows.append(f"| `{prefix}{key}` | {kind}{choices} | {default} | {spec.doc} |")
        if spec.table is not None:
            rows.append(reference_table(spec.table, prefix + key + "."))
    return "\n".join(rows)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, (list, dict)):
        return "[]" if isinstance(v, list) else "{}"
    return repr(v)
