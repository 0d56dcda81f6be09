"""RTL backend (fpga-rtl, ice40-up5k): the Verilog design simulated in Verilator with random stalls on both
ends, every output compared with onnxruntime bit for bit (acc, class; logits from the integers on the host).

Default run: one edge model per target (a dense net with gamma < 0, gamma = 0, exact ties and fan-ins that
are not multiples of the word on fpga-rtl; the conv net with padding, stride and max-pool before a
negative-gamma threshold on ice40-up5k's one-pixel input), a broken design that must be caught, and the
one-line errors. Slow: every edge model on both targets, synthesis and place and route, the synthesized iCE40
netlist in iverilog.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from dnnc.backends import rtl
from dnnc.backends.rtl import emit
from dnnc.cli import main
from dnnc.frontend import export_onnx, from_net
from dnnc.targets import load_target
from dnnc.verify import compare
from dnnc.verify.inputs import make_inputs
from dnnc.verify.reference import run_onnx
from exactness import assert_matches_onnxruntime
from models import conv_model, dense_model, edge_models, output_only_model

needs_verilator = pytest.mark.skipif(shutil.which("verilator") is None, reason="verilator not installed (tools/setup.sh)")
needs_ice40 = pytest.mark.skipif(any(shutil.which(t) is None for t in ("yosys", "nextpnr-ice40", "icetime", "iverilog")),
                                 reason="yosys / nextpnr-ice40 / icetime / iverilog not installed (tools/setup.sh)")


@needs_verilator
def test_dense_edge_model_fpga_rtl():
    loaded = from_net(dense_model("quaternary"), "dense_quaternary")
    assert_matches_onnxruntime(loaded, rtl, "fpga-rtl", 80, seed=0)


@needs_verilator
def test_conv_edge_model_ice40_one_pixel_input():
    loaded = from_net(conv_model("ternary"), "conv_ternary")
    assert_matches_onnxruntime(loaded, rtl, "ice40-up5k", 60, seed=1)


@needs_verilator
def test_a_wrong_threshold_is_caught(monkeypatch):
    """Shift every live threshold of the first layer by one: the simulation must then disagree at the ties."""
    loaded = from_net(dense_model("binary"), "dense_binary")
    raw = make_inputs(loaded, 60, seed=0)
    real = emit._thr_ctx

    def off_by_one(stage, accw):
        ctx = real(stage, accw)
        if stage.name == "L0_mvau":
            ctx["thr"] = [f"({t}) + 1" for t in ctx["thr"]]
        return ctx

    monkeypatch.setattr(emit, "_thr_ctx", off_by_one)
    got = rtl.run(loaded.ir, load_target("fpga-rtl"), raw)
    mask, _ = compare(run_onnx(loaded.onnx, raw), got)
    assert mask.any()


@needs_verilator
def test_stall_free_cycles_are_deterministic():
    loaded = from_net(dense_model("ternary"), "dense_ternary")
    raw = make_inputs(loaded, 6, seed=0)
    out, cycles = rtl.simulate(loaded.ir, load_target("fpga-rtl"), raw, stall=0)
    assert np.all(np.diff(cycles) > 0)
    intervals = np.diff(cycles)
    assert intervals.max() == intervals.min(), intervals  # one frame every N cycles, steady state
    assert out.acc.shape == (6, 10)


def test_output_layer_on_pixels_is_refused_in_one_line(tmp_path):
    model = tmp_path / "m.onnx"
    model.write_bytes(export_onnx(output_only_model("quaternary"), "m").SerializeToString())
    res = CliRunner().invoke(main, ["compile", str(model), "-t", "fpga-rtl", "-o", str(tmp_path / "o")])
    assert res.exit_code == 2 and "logit rank table" in res.output and "layer 'out'" in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "o").exists()


def test_ice40_fps_out_of_reach_says_so(tmp_path):
    model = tmp_path / "m.onnx"
    model.write_bytes(export_onnx(dense_model("binary"), "m").SerializeToString())
    res = CliRunner().invoke(main, ["compile", str(model), "-t", "ice40-up5k", "-o", str(tmp_path / "o"),
                                    "--fps", "1e9"])
    assert res.exit_code == 2 and "no folding fits" in res.output and "--fps" in res.output, res.output
    assert not (tmp_path / "o").exists()


def test_compile_writes_the_project(tmp_path):
    model = tmp_path / "m.onnx"
    model.write_bytes(export_onnx(conv_model("binary"), "m").SerializeToString())
    out = tmp_path / "o"
    res = CliRunner().invoke(main, ["compile", str(model), "-t", "ice40-up5k", "-o", str(out)])
    assert res.exit_code == 0, res.output
    files = {p.name for p in (out / "rtl").iterdir()}
    assert {"m.v", "tb_m.v", "dnnc_rtl.v", "synth_ice40.ys", "m.pcf", "Makefile"} <= files
    pcf = (out / "rtl" / "m.pcf").read_text()
    assert "set_io clk 35" in pcf
    again = tmp_path / "o2"
    CliRunner().invoke(main, ["compile", str(model), "-t", "ice40-up5k", "-o", str(again)])
    assert (out / "rtl" / "m.v").read_bytes() == (again / "rtl" / "m.v").read_bytes()


EDGE = [(n, net) for n, net in edge_models() if not n.startswith("output-only")]


@pytest.mark.slow
@needs_verilator
@pytest.mark.parametrize("target", ["fpga-rtl", "ice40-up5k"])
@pytest.mark.parametrize("name,net", EDGE, ids=[n for n, _ in EDGE])
def test_every_edge_model(name, net, target):
    loaded = from_net(net, name.replace("-", "_"))
    assert_matches_onnxruntime(loaded, rtl, target, 100, seed=2)


@pytest.mark.slow
@needs_verilator
def test_bench_generic_reports_stages():
    loaded = from_net(dense_model("binary"), "dense_binary")
    r = rtl.bench(loaded.ir, load_target("fpga-rtl"))
    assert r["xilinx"]["total"]["lut"] > 0 and r["generic"]["total"]["ff"] > 0
    assert [s["name"] for s in r["xilinx"]["stages"]] == [e["name"] for e in r["estimates"]]
    assert all("lut" in s for s in r["xilinx"]["stages"])
    assert r["cycles_per_frame"] > 0


@pytest.mark.slow
@needs_verilator
@needs_ice40
def test_ice40_place_route_and_netlist_simulation(tmp_path):
    """Place and route a small design on the UP5K, then simulate yosys's iCE40 netlist (cell models) in iverilog:
    the synthesized gates, not only the RTL, give onnxruntime's outputs."""
    loaded = from_net(dense_model("ternary"), "dense_ternary")
    target = load_target("ice40-up5k")
    r = rtl.bench(loaded.ir, target)
    assert r["pnr"]["lc"] <= r["pnr"]["lc_avail"] and r["fmax_mhz"] > 0
    raw = make_inputs(loaded, 40, seed=3)
    got = rtl.simulate_netlist(loaded.ir, target, raw, tmp_path)
    mask, by = compare(run_onnx(loaded.onnx, raw), got)
    assert not mask.any(), by


def _tfc_model():
    """A TFC-shaped binary net, 784-64-64-64-10, with the edge models' batch norms (ties, gamma <= 0)."""
    from dnnc.netspec import DiscreteNet, LinearLayer
    from models import _bit_ties, _bn, _first_ties, _out, _weights

    rng = np.random.default_rng(7)
    w0 = _weights(rng, (64, 784), "binary")
    layers = [LinearLayer("dense", w0, "binary", bn=_bn(rng, 64, 1.0, True, _first_ties(rng, w0)))]
    for _ in range(2):
        w = _weights(rng, (64, 64), "binary")
        layers.append(LinearLayer("dense", w, "binary", bn=_bn(rng, 64, 1.0, False, _bit_ties(rng, w))))
    return DiscreteNet((1, 28, 28), layers, _out(rng, 10, 64, "binary"), arch="tfc-binary")


@pytest.mark.slow
@needs_verilator
@needs_ice40
def test_tfc_places_routes_meets_timing_and_verifies_on_ice40():
    """The issue's bar on a TFC-shaped net: fits the UP5K, meets the clock it reports, 0 mismatches on 1000."""
    loaded = from_net(_tfc_model(), "tfc")
    target = load_target("ice40-up5k")
    r = rtl.bench(loaded.ir, target)
    assert r["pnr"]["lc"] <= r["pnr"]["lc_avail"] and r["pnr"]["bram"] <= r["pnr"]["bram_avail"]
    assert r["fmax_mhz"] >= r["target_mhz"], r
    assert r["cycles_per_frame"] == r["estimate_cycles_per_frame"]
    assert_matches_onnxruntime(loaded, rtl, target, 1000, seed=0)
