"""`dnnc compile --target fpga-hls` and `dnnc verify --target fpga-hls` through the CLI."""

from __future__ import annotations

import json

import onnx
from click.testing import CliRunner
from dnnc.cli import main
from dnnc.frontend import from_net
from models import dense_model


def _model_file(tmp_path):
    path = tmp_path / "edge.onnx"
    onnx.save(from_net(dense_model("quaternary"), "edge").onnx, path)
    return path


def test_compile_and_verify(tmp_path):
    model = _model_file(tmp_path)
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["compile", str(model), "-t", "fpga-hls", "-o", str(out), "--fps", "1e6",
                                    "--clock-ns", "5", "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert {"report.md", "dataflow.json", "dataflow.onnx", "hls/edge_top.cpp", "hls/run_hls.tcl"} <= set(info["files"])
    summary = json.loads((out / "dataflow.json").read_text())
    assert summary["clock_ns"] == 5.0 and summary["folding"]["target_cycles"] == 200
    assert summary["summary"]["max_cycles"] <= 200
    res = CliRunner().invoke(main, ["verify", str(model), "-t", "fpga-hls", "-n", "50", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["mismatches"] == 0


def test_bad_folding_is_one_line_error_and_writes_nothing(tmp_path):
    model = _model_file(tmp_path)
    folding = tmp_path / "fold.json"
    folding.write_text(json.dumps({"L0_mvau": {"PE": 5, "SIMD": 1}}))  # MH = 37 is prime
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["compile", str(model), "-t", "fpga-hls", "-o", str(out),
                                    "--folding", str(folding)])
    assert res.exit_code == 2
    assert "MH % PE" in res.output and "Traceback" not in res.output
    assert not out.exists()
    res = CliRunner().invoke(main, ["compile", str(model), "-t", "host", "-o", str(out), "--fps", "10"])
    assert res.exit_code == 2 and "applies to FPGA targets" in res.output and "not 'host'" in res.output
