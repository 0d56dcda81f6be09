"""The uint8 entry point of a float-input graph (`--input-map`): the byte table is the float path on
map(p), proven against the file's own quantizer on all 256 bytes, and the artifact fed bytes matches the
file run on map(p) bit for bit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from dnnc.errors import DnncError
from dnnc.frontend import load_model
from dnnc.ir.input_map import parse_input_map
from dnnc.verify import compare, execute, run_reference, run_verify
from dnnc.verify.qonnx_reference import file_input_codes, prove_byte_codes

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_published import finn_tfc, zoo_tfc

F32 = np.float32


@pytest.fixture(scope="module")
def zoo_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("zoo_u8") / "tfc_zoo.onnx"
    onnx.save(zoo_tfc(np.random.default_rng(0)), p)
    return p


@pytest.fixture(scope="module")
def finn_u8_file(tmp_path_factory) -> Path:
    """FINN's TFC-W1A1 layout with its input annotated UINT8 (pixels), then Div 255 in the graph."""
    m = finn_tfc(np.random.default_rng(3))
    a = onnx.TensorAnnotation(tensor_name="global_in")
    a.quant_parameter_tensor_names.append(onnx.StringStringEntryProto(key="finn_datatype", value="UINT8"))
    m.graph.quantization_annotation.append(a)
    p = tmp_path_factory.mktemp("finn_u8") / "tfc_finn_u8.onnx"
    onnx.save(m, p)
    return p


def every_byte(shape, extra: int = 2) -> np.ndarray:
    """Inputs in which every byte value 0..255 occurs in every position class (shifted ramps)."""
    size = int(np.prod(shape))
    rows = [(np.arange(size) + 97 * i) % 256 for i in range(extra + 2)]
    return np.asarray(rows, np.uint8).reshape(-1, *shape)


def test_grammar_evaluates_in_float32_in_the_stated_order():
    p = np.arange(256, dtype=np.uint8)
    assert parse_input_map("p").steps == ()
    assert np.array_equal(parse_input_map(" p/255 ").apply(p), p.astype(F32) / F32(255))
    m = parse_input_map("(p - 127.5) * 0.0078125")
    assert m.steps == (("add", -127.5), ("mul", 0.0078125))
    assert np.array_equal(m.apply(p), ((p.astype(F32) - F32(127.5)).astype(F32) * F32(0.0078125)).astype(F32))
    q = parse_input_map("(p+1)/3")
    assert np.array_equal(q.apply(p).view(np.uint32), ((p.astype(F32) + F32(1)) / F32(3)).astype(F32).view(np.uint32))
    for bad in ("p/0", "x/255", "p/255/2", "__import__('os')", "p**2", "(p-1", "p/1e99", "", "255/p"):
        with pytest.raises(DnncError, match="--input-map"):
            parse_input_map(bad)


def test_bad_input_map_is_one_line_exit_2(zoo_file):
    r = subprocess.run([sys.executable, "-m", "dnnc.cli", "verify", str(zoo_file), "-n", "4",
                        "--input-map", "eval('p')"], capture_output=True, text=True, check=False)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "not a supported mapping" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_byte_table_is_the_files_quantizer_on_all_256_values(zoo_file):
    loaded = load_model(zoo_file, input_map="p/255")
    ir = loaded.ir
    x = parse_input_map("p/255").all_bytes()
    assert np.array_equal(file_input_codes(loaded.file, ir, x), ir.byte_codes.astype(np.int64))
    assert ir.byte_codes.tolist() == [int(2 * (F32(p) / F32(255)) - 1 >= 0) for p in range(256)]
    ir.byte_codes[200] ^= 1  # a table that differs from the file at one byte is refused, naming it
    with pytest.raises(DnncError, match=r"at 1 of 256 byte values \(first p = 200"):
        prove_byte_codes(loaded.file, ir, x)


def test_input_map_on_a_raw_uint8_model_is_refused(finn_u8_file):
    with pytest.raises(DnncError, match="states its own byte mapping"):
        load_model(finn_u8_file, input_map="p/255")


@pytest.mark.parametrize("target", ["ir", "host", "fpga-hls"])
def test_byte_entry_point_all_256_values_bit_exact(zoo_file, target):
    """Every byte value through the artifact's byte entry vs the file run on x = p/255; then dnnc verify."""
    loaded = load_model(zoo_file, input_map="p/255")
    raw = every_byte(loaded.ir.input_shape)
    ref = run_reference(loaded, raw)
    got, _ = execute(loaded, target, raw)
    mask, by_output = compare(ref, got)
    assert not mask.any(), by_output
    rep = run_verify(loaded, target, samples=80, seed=4)
    assert rep.mismatches == 0 and rep.extra["input_map"] == "p/255", rep.summary_line()


def test_the_artifact_reads_the_table(zoo_file):
    """A table changed after the proof (IR and C alike) must show as mismatches against the file."""
    loaded = load_model(zoo_file, input_map="p/255")
    loaded.ir.byte_codes[:] = 1 - loaded.ir.byte_codes
    raw = every_byte(loaded.ir.input_shape)
    mask, _ = compare(run_reference(loaded, raw), execute(loaded, "host", raw)[0])
    assert mask.all()


@pytest.mark.parametrize("target", ["ir", "host", "fpga-hls", pytest.param("cortex-m4", marks=pytest.mark.slow)])
def test_uint8_annotated_finn_layout_imports_and_verifies(finn_u8_file, target):
    loaded = load_model(finn_u8_file)
    ir = loaded.ir
    assert ir.input_map == "p" and ir.input_dtype == np.uint8
    assert ir.byte_codes.tolist() == [0] * 128 + [1] * 128  # p/255*2 - 1 >= 0 in float32 from p = 128
    raw = every_byte(ir.input_shape)
    mask, by_output = compare(run_reference(loaded, raw), execute(loaded, target, raw)[0])
    assert not mask.any(), by_output
    rep = run_verify(loaded, target, samples=80, seed=5)
    assert rep.mismatches == 0 and rep.ties_hit > 0, rep.summary_line()
