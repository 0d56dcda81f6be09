"""Synthesis, place and route, timing: yosys (generic and 7-series LUT/FF counts per stage), and for flow =
ice40 yosys synth_ice40 + nextpnr-ice40 + icetime. Scripts come from templates/rtl/; this module runs them and
reads the numbers back (yosys `stat -json`, nextpnr's utilisation lines and its last "Max frequency").
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from dnnc.backends.rtl.emit import render, write_rtl
from dnnc.dataflow import Design
from dnnc.dataflow.estimates import estimate
from dnnc.errors import DnncError
from dnnc.fsutil import child_env, scratch_dir

XILINX_LUT = re.compile(r"^LUT[1-6]$")
XILINX_FF = re.compile(r"^FD[RSCP]E$")


def estimate_rows(d: Design) -> list[dict]:
    """Per stage: FINN's cycles and the dataflow's LUT / BRAM18 estimates (FINN-R or approx)."""
    rows = []
    for s in d.stages:
        r = estimate(s)
        rows.append({"name": s.name, "op": s.op, "layer": s.layer, "PE": s.pe, "SIMD": s.simd,
                     "cycles": s.cycles(), "lut": r.lut, "bram18": r.bram18, "model": r.model})
    return rows


def top_ports(ctx: dict) -> list[str]:
    """Every top-level port bit, clock first (the pin constraints file assigns them in this order)."""
    bus = [("in_data", ctx["in_lanes"] * 8), ("out_acc", ctx["acc_bits"]), ("out_class", ctx["class_bits"])]
    ports = ["clk", "rst"] + [f"{n}[{i}]" for n, w in bus[:1] for i in range(w)] + ["in_valid", "in_ready"]
    ports += [f"{n}[{i}]" for n, w in bus[1:] for i in range(w)] + ["out_last", "out_valid", "out_ready"]
    return ports


def write_scripts(ctx: dict, rtl_dir: Path) -> None:
    """yosys scripts, Makefile and (ice40) the pin constraints file beside the design."""
    target = ctx["target"]
    if target["flow"] == "ice40":
        pins = target["pins"]
        if not pins:
            raise DnncError(f"target '{target['name']}': key 'pins' is empty; the ice40 flow needs the package's "
                            "I/O pins")
        ports = top_ports(ctx)
        if len(ports) > len(pins):
            raise DnncError(f"design '{ctx['name']}' needs {len(ports)} I/O pins, {target['part']} has "
                            f"{len(pins)}: narrow the top (input_lanes = 1) or the output layer's range")
        ctx = {**ctx, "ports": ports, "pin_list": pins}
    files = {"synth_generic.ys": "rtl/synth_generic.ys.j2", "synth_xilinx.ys": "rtl/synth_xilinx.ys.j2",
             "Makefile": "rtl/Makefile.j2"}
    if ctx["target"]["flow"] == "ice40":
        files.update({"synth_ice40.ys": "rtl/synth_ice40.ys.j2", f"{ctx['name']}.pcf": "rtl/pins.pcf.j2"})
    for out, tpl in files.items():
        (rtl_dir / out).write_text(render(tpl, ctx))


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise DnncError(f"'{name}' not found on PATH (tools/setup.sh installs it)")
    return path


def _run(cmd: list[str], cwd: Path, what: str) -> str:
    proc = subprocess.run(cmd, cwd=cwd, check=False, capture_output=True, text=True, env=child_env(cwd))
    if proc.returncode != 0:
        tail = (proc.stderr.strip() or proc.stdout.strip())[-1500:]
        raise DnncError(f"{what} failed ({' '.join(cmd)}): {tail}")
    return proc.stdout


def _stat(path: Path) -> dict:
    """yosys `stat -json`; 0.23 prints its hierarchy listing inside the JSON, so those lines are dropped."""
    text = path.read_text()
    text = "\n".join(line for line in text.splitlines() if not re.fullmatch(r"\s+[^\s\"{}]+\s+\d+\s*", line))
    return json.loads(text)


def _instances(netlist: Path, top: str) -> dict[str, str]:
    """Instance name -> module name of the top's cells (the stages, kept as modules by keep_hierarchy)."""
    mods = json.loads(netlist.read_text())["modules"]
    return {name: cell["type"] for name, cell in mods[top]["cells"].items()}


def _per_module(stat: dict, lut, ff) -> dict[str, dict]:
    out = {}
    for mod, data in stat["modules"].items():
        cells = data.get("num_cells_by_type", {})
        out[mod.lstrip("\\")] = {
            "lut": sum(n for c, n in cells.items() if lut(c)),
            "ff": sum(n for c, n in cells.items() if ff(c)),
            "bram": sum(n for c, n in cells.items() if c.startswith("RAMB") or c == "SB_RAM40_4K"),
            "dsp": sum(n for c, n in cells.items() if c.startswith("DSP") or c == "SB_MAC16"),
            "carry": sum(n for c, n in cells.items() if c in ("CARRY4", "SB_CARRY")),
            "cells": data.get("num_cells", 0),
        }
    return out


def _total(stat: dict, lut, ff) -> dict:
    cells = stat["design"].get("num_cells_by_type", {})
    return {"lut": sum(n for c, n in cells.items() if lut(c)), "ff": sum(n for c, n in cells.items() if ff(c)),
            "bram": sum(n for c, n in cells.items() if c.startswith("RAMB") or c == "SB_RAM40_4K"),
            "spram": sum(n for c, n in cells.items() if c == "SB_SPRAM256KA"),
            "dsp": sum(n for c, n in cells.items() if c.startswith("DSP") or c == "SB_MAC16"),
            "cells": stat["design"].get("num_cells", 0)}


def _is_ff_generic(c: str) -> bool:
    return c.startswith(("$_DFF", "$_SDFF", "$_DFFE", "$_SDFFE"))


def _counts(stat: dict, netlist: Path, ctx: dict, lut, ff) -> dict:
    """Per stage (the module its instance `<stage>_i` became) and in total (stages + the top's own cells)."""
    mods = _per_module(stat, lut, ff)
    inst = _instances(netlist, ctx["name"])
    stages = [{"name": s["name"], **mods.get(inst.get(f"{s['name']}_i", "").lstrip("\\"), {})} for s in ctx["stages"]]
    keys = ("lut", "ff", "bram", "dsp", "carry", "cells")
    own = mods.get(ctx["name"], dict.fromkeys(keys, 0))
    total = {k: own.get(k, 0) + sum(r.get(k, 0) for r in stages) for k in keys}
    return {"total": total, "stages": stages}


def run_synthesis(ctx: dict, name: str, target: dict) -> dict:
    """Run the target's flow on a fresh copy of the design; numbers per stage and in total."""
    tools = target["tools"]
    yosys = _tool(tools["yosys"])
    with scratch_dir("dnnc-synth-") as rtl_dir:
        write_rtl(ctx, rtl_dir)
        write_scripts(ctx, rtl_dir)
        result: dict = {"part": target["part"], "flow": target["flow"]}
        if target["flow"] == "generic":
            _run([yosys, "-q", "-s", "synth_generic.ys"], rtl_dir, "yosys synth")
            g = _stat(rtl_dir / "stat_generic.json")
            is_lut = lambda c: c == "$lut"
            result["generic"] = _counts(g, rtl_dir / "netlist_generic.json", ctx, is_lut, _is_ff_generic)
            _run([yosys, "-q", "-s", "synth_xilinx.ys"], rtl_dir, "yosys synth_xilinx")
            x = _stat(rtl_dir / "stat_xilinx.json")
            is_xl, is_xf = (lambda c: bool(XILINX_LUT.match(c))), (lambda c: bool(XILINX_FF.match(c)))
            result["xilinx"] = _counts(x, rtl_dir / "netlist_xilinx.json", ctx, is_xl, is_xf)
            return result
        synthesize_ice40(rtl_dir, target)
        st = _stat(rtl_dir / "stat_ice40.json")
        is_l, is_f = (lambda c: c == "SB_LUT4"), (lambda c: c.startswith("SB_DFF"))
        result["ice40_synth"] = _total(st, is_l, is_f)
        result.update(place_and_route(rtl_dir, name, target))
        return result


def synthesize_ice40(rtl_dir: Path, target: dict) -> None:
    """yosys synth_ice40: <name>.json for nextpnr, <name>_netlist.v for gate-level simulation."""
    _run([_tool(target["tools"]["yosys"]), "-q", "-s", "synth_ice40.ys"], rtl_dir, "yosys synth_ice40")


def ice40_cell_models(target: dict) -> Path:
    """yosys's iCE40 simulation models: cells_sim.v in `yosys-config --datdir`, or share/yosys beside the binary
    (Debian ships yosys-config only in yosys-dev)."""
    yosys = Path(_tool(target["tools"]["yosys"])).resolve()
    cfg = shutil.which("yosys-config", path=str(yosys.parent))
    datdir = (subprocess.run([cfg, "--datdir"], check=False, capture_output=True, text=True).stdout.strip() if cfg
              else str(yosys.parent.parent / "share" / "yosys"))
    path = Path(datdir) / "ice40" / "cells_sim.v"
    if not path.is_file():
        raise DnncError(f"iCE40 cell models not found at {path}")
    return path


def place_and_route(rtl_dir: Path, name: str, target: dict) -> dict:
    """nextpnr-ice40 (with --timing-allow-fail: 0.4 exits non-zero on a missed --freq) and icetime."""
    tools = target["tools"]
    freq = 1e3 / float(target["clock_ns"])
    cmd = [_tool(tools["nextpnr"]), f"--{target['device']}", "--package", target["package"], "--json",
           f"{name}.json", "--pcf", f"{name}.pcf", "--asc", f"{name}.asc", "--freq", f"{freq:.2f}",
           "--timing-allow-fail", "--seed", "1"]
    proc = subprocess.run(cmd, cwd=rtl_dir, check=False, capture_output=True, text=True, env=child_env(rtl_dir))
    log = proc.stderr + proc.stdout
    if proc.returncode != 0:
        tail = "; ".join(line for line in log.splitlines() if "ERROR" in line)[-600:] or log[-600:]
        raise DnncError(f"nextpnr-ice40 could not place and route '{name}' on {target['part']}: {tail}")
    util = {}
    for key, pat in (("lc", "ICESTORM_LC"), ("bram", "ICESTORM_RAM"), ("spram", "ICESTORM_SPRAM"),
                     ("dsp", "ICESTORM_DSP"), ("io", "SB_IO")):
        m = re.findall(rf"{pat}:\s+(\d+)/\s*(\d+)", log)
        if m:
            util[key] = int(m[-1][0])
            util[f"{key}_avail"] = int(m[-1][1])
    fmax = [float(v) for v in re.findall(r"Max frequency for clock[^:]*:\s*([\d.]+) MHz", log)]
    out = {"pnr": util, "fmax_mhz": fmax[-1] if fmax else None, "target_mhz": freq}
    t = subprocess.run([_tool(tools["icetime"]), "-d", target["device"], "-P", target["package"], "-p",
                        f"{name}.pcf", "-t", f"{name}.asc"], cwd=rtl_dir, check=False, capture_output=True, text=True)
    m = re.findall(r"Total path delay:\s*([\d.]+) ns \(([\d.]+) MHz\)", t.stdout + t.stderr)
    if m:
        out["icetime_ns"], out["icetime_mhz"] = float(m[-1][0]), float(m[-1][1])
    return out


def check_fit(d: Design, ctx: dict, target: dict) -> None:
    """--fps on a part with budgets: the folding is the least parallelism meeting the rate, so if its synthesized
    size (one LUT4 a logic cell, one SB_RAM40_4K a block RAM) exceeds the part, no folding meeting it fits."""
    lc_budget, bram_budget = target["lc_budget"], target["bram_budget"]
    if not (lc_budget or bram_budget):
        return
    why = f"at {target['fps']:g} frames/s ({d.fold.target_cycles} cycles/frame at {target['clock_ns']:g} ns)"
    lanes = sum(s.pe * s.simd for s in d.stages if s.op == "MVAU")
    if lc_budget and 2 * lanes > lc_budget:  # a lane needs a cell for its term and one in the adder tree
        raise DnncError(f"target '{target['name']}': no folding fits {target['part']} {why}: it needs {lanes} MVAU "
                        f"lanes (>= {2 * lanes} logic cells, {lc_budget} available); lower --fps or raise --clock-ns")
    with scratch_dir("dnnc-fit-") as work:
        write_rtl(ctx, work)
        write_scripts(ctx, work)
        synthesize_ice40(work, target)
        cells = _stat(work / "stat_ice40.json")["design"].get("num_cells_by_type", {})
    luts, brams = cells.get("SB_LUT4", 0), cells.get("SB_RAM40_4K", 0)
    if (lc_budget and luts > lc_budget) or (bram_budget and brams > bram_budget):
        raise DnncError(f"target '{target['name']}': no folding fits {target['part']} {why}: the least parallelism "
                        f"meeting it synthesizes to {luts} LUT4 / {brams} block RAMs ({lc_budget} logic cells, "
                        f"{bram_budget} block RAMs available); lower --fps or raise --clock-ns")
