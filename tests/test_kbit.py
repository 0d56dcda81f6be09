"""k-bit activations (MultiThreshold) and 2-bit weights: import, IR invariants, edges and bit-exact verify.

The reference is the file itself (qonnx's executor). The files: Brevitas bnn_pynq W1A2/W2A2 exports (BN
skewed so that gamma < 0 and gamma = 0 occur), the UNSW-NB15 W2A2 layout and a FINN-ONNX MultiThreshold
graph with 3 thresholds per channel (tests/qonnx_graphs.py).
"""

from __future__ import annotations

import importlib.util
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from dnnc.errors import InvalidIR
from dnnc.frontend import load_model
from dnnc.interchange.qonnx_float import ACC_LIMIT, decide_levels
from dnnc.ir import interpreter
from dnnc.ir.model import MultiThreshold
from dnnc.verify import run_verify
from dnnc.verify.inputs import make_inputs, targets
from dnnc.verify.qonnx_reference import run_file
from qonnx_graphs import finn_multithreshold, kbit_cnn, mlp, unsw_mlp

ROOT = Path(__file__).resolve().parents[1]
BREVITAS = importlib.util.find_spec("brevitas_examples") is not None
needs_brevitas = pytest.mark.skipif(not BREVITAS, reason="brevitas_examples not installed")


def _export(name: str, folder: Path) -> Path:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from bnn_pynq import export
    finally:
        sys.path.pop(0)
    return export(name, folder / f"{name}.onnx")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("kbit")
    out = {"unsw": d / "unsw.onnx", "finn_mt": d / "finn_mt.onnx"}
    onnx.save(unsw_mlp(np.random.default_rng(1), inputs=600, hidden=40), out["unsw"])
    onnx.save(finn_multithreshold(np.random.default_rng(2)), out["finn_mt"])
    out["kcnn"] = d / "kcnn.onnx"
    onnx.save(kbit_cnn(np.random.default_rng(0)), out["kcnn"])
    if BREVITAS:
        out["tfc_2w2a"] = _export("tfc_2w2a", d)
    return out


def _multi(ir) -> list[MultiThreshold]:
    return [layer for layer in ir.layers if isinstance(layer, MultiThreshold)]


def test_decide_levels_is_the_quantizer_on_every_integer_accumulator():
    """Thresholds from bisection reproduce round-half-even 2-bit levels on a float32 BN chain exactly,
    including the gamma < 0 (direction -1) and gamma = 0 (constant) channels."""
    steps = [("mul", np.array([0.37, -0.5, 0.0], np.float32)), ("add", np.array([0.25, 0.5, 0.7], np.float32))]

    def level(v):
        return np.clip(np.round((np.asarray(v, np.float32) / np.float32(0.5)).astype(np.float32)), 0, 3) \
            .astype(np.int64)

    d, t = decide_levels(steps, level, 4, 3)
    assert d.tolist() == [1, -1, 1]
    acc = np.arange(-40, 41, dtype=np.int64)
    for c in range(3):
        v = np.float32(acc.astype(np.float32) * steps[0][1][c]) + steps[1][1][c]
        want = level(v.astype(np.float32))
        got = (acc[:, None] >= t[c]).sum(1) if d[c] > 0 else (acc[:, None] <= t[c]).sum(1)
        assert np.array_equal(got, want), c
    assert set(np.abs(t[2]).tolist()) == {ACC_LIMIT}  # gamma = 0: only saturated thresholds


@pytest.mark.parametrize("name", ["unsw", "finn_mt"])
def test_hand_built_layouts_verify_bit_exact_on_ir(files, name):
    loaded = load_model(files[name])
    rep = run_verify(loaded, "ir", samples=200, seed=0)
    assert rep.mismatches == 0 and rep.samples == 200, rep.summary_line()
    assert all(v > 0 for v in rep.ties_by_layer.values()), rep.ties_by_layer


def _wbits_cases():
    """(bits, narrow, target): every target for INT4 by default; narrow INT4, INT3 and narrow INT3 on ir by
    default, on the C and HLS targets in the slow run."""
    for bits, narrow in ((4, 0), (3, 1), (4, 1), (3, 0)):
        for target in ("ir", "host", "cortex-m4", "fpga-hls"):
            slow = target != "ir" and (bits, narrow) != (4, 0)
            yield pytest.param(bits, narrow, target, marks=[pytest.mark.slow] if slow else [])


@pytest.mark.parametrize("bits,narrow,target", list(_wbits_cases()))
def test_int3_int4_weights_verify_bit_exact(tmp_path, bits, narrow, target):
    """INT3/INT4 weights (narrow or not; the byte path in C) with 2-bit activations (the UNSW layout: a BIPOLAR
    input, 60 inputs, 24 wide) and sign activations (40 wide): every weight level occurs, accumulators land on
    thresholds, and the target is bit-exact against the file."""
    if target == "cortex-m4" and shutil.which("qemu-system-arm") is None:
        pytest.skip("QEMU not installed")
    lo, hi = narrow - 2 ** (bits - 1), 2 ** (bits - 1) - 1
    files = {"a2": unsw_mlp(np.random.default_rng(3), inputs=60, hidden=24, wscale=2.0 ** (1 - bits),
                            wbits=bits, narrow=narrow),
             "a1": mlp(np.random.default_rng(4), hidden=40, weight_quant="quant", bits=bits, narrow=narrow,
                       scale=2.0 ** (1 - bits))}
    for name, model in files.items():
        p = tmp_path / f"{name}.onnx"
        onnx.save(model, p)
        loaded = load_model(p)
        ws = np.concatenate([lin.weight.reshape(-1) for lin in loaded.ir.linears()])
        assert {lin.weight_dtype for lin in loaded.ir.linears()} == {f"INT{bits}"}
        assert (int(ws.min()), int(ws.max())) == (lo, hi)
        rep = run_verify(loaded, target, samples=80, seed=0)
        assert rep.mismatches == 0 and rep.ties_hit > 0, (name, rep.summary_line())


def test_unsw_output_is_one_bit_of_the_last_accumulator(files):
    loaded = load_model(files["unsw"])
    ir = loaded.ir
    assert ir.layers[-2].post[-1][0] == "bipolar" and ir.num_classes == 1
    assert [m.out_dtype for m in _multi(ir)] == ["UINT2"] * 3
    assert all(m.in_dtype == "UINT2" for m in ir.linears()[1:])
    x = make_inputs(loaded, 120, 0)
    assert set(np.unique(x).tolist()) == {-1.0, 1.0}  # the file's BIPOLAR input takes +-1 only
    ours, ref = interpreter.run(ir, x), run_file(onnx.load(files["unsw"]), ir, x)
    assert np.array_equal(ours.logits.view(np.uint32), ref.logits.view(np.uint32))
    assert set(np.unique(ours.logits).tolist()) == {-1.0, 1.0}


def test_finn_multithreshold_hits_each_of_the_three_thresholds(files):
    """Accumulators land exactly on threshold 0, 1 and 2 of a channel and the file agrees there."""
    loaded = load_model(files["finn_mt"])
    ir = loaded.ir
    mts = _multi(ir)
    assert [m.out_dtype for m in mts] == ["INT2", "UINT2"] and mts[0].out_bias == -2
    assert (mts[0].direction < 0).sum() == 3  # the negative Mul channels
    assert np.all(np.abs(mts[0].thresholds[3]) == ACC_LIMIT)  # Mul 0: constant
    x = make_inputs(loaded, 300, 0)
    values = interpreter.trace(ir, x)
    hit = np.zeros(3, bool)
    for idx, layer in enumerate(ir.layers):
        if isinstance(layer, MultiThreshold):
            t, live = targets(layer)
            a = values[idx - 1][..., None]
            hit |= ((a == t[None]) & live[None]).any(axis=(0, 1))
    assert hit.all()
    ref = run_file(onnx.load(files["finn_mt"]), ir, x)
    ours = interpreter.run(ir, x)
    assert np.array_equal(ours.acc, ref.acc) and np.array_equal(ours.logits.view(np.uint32), ref.logits.view(np.uint32))


def test_verify_rejects_unsorted_thresholds(files):
    ir = load_model(files["finn_mt"]).ir
    m = _multi(ir)[1]
    m.thresholds[5] = m.thresholds[5][::-1].copy()
    m.thresholds[5, 0] += 1
    with pytest.raises(InvalidIR, match="not sorted"):
        ir.verify()


@needs_brevitas
def test_brevitas_tfc_2w2a_imports_ternary_and_verifies_on_ir(files):
    loaded = load_model(files["tfc_2w2a"])
    mts = _multi(loaded.ir)
    assert len(mts) == 3 and all(m.out_dtype == "INT2" and m.out_bias == -1 and m.levels == 3 for m in mts)
    assert all(lin.weight_dtype == "TERNARY" for lin in loaded.ir.linears())
    assert all((m.direction < 0).sum() == 3 for m in mts)  # gamma < 0 on channels 0-2
    rep = run_verify(loaded, "ir", samples=200, seed=0)
    assert rep.mismatches == 0, rep.summary_line()


@needs_brevitas
@pytest.mark.slow
@pytest.mark.parametrize("name", ["tfc_1w2a", "sfc_1w2a", "sfc_2w2a", "cnv_2w2a"])
def test_brevitas_bnn_pynq_k_bit_verify_on_ir(tmp_path, name):
    rep = run_verify(load_model(_export(name, tmp_path)), "ir", samples=100 if name.startswith("cnv") else 300,
                     seed=0)
    assert rep.mismatches == 0, rep.summary_line()


def test_a_k_bit_file_names_a_five_bit_activation_in_one_line(tmp_path):
    m = finn_multithreshold(np.random.default_rng(0))
    for n in m.graph.node:
        if n.op_type == "MultiThreshold":
            thr = next(i for i in m.graph.initializer if i.name == n.input[1])
            arr = np.sort(np.random.default_rng(0).uniform(-5, 5, (40, 31)), axis=1).astype(np.float32)
            thr.CopyFrom(onnx.numpy_helper.from_array(arr, thr.name))
            break
    p = tmp_path / "mt5.onnx"
    onnx.save(m, p)
    r = subprocess.run([sys.executable, "-m", "dnnc.cli", "inspect", str(p)], capture_output=True, text=True,
                       check=False)
    assert r.returncode == 2 and "MultiThreshold" in r.stderr and "at most 15" in r.stderr
    assert r.stderr.count("\n") == 1


needs_arm = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
                               reason="arm-none-eabi-gcc / qemu-system-arm not installed (tools/setup.sh)")


@pytest.mark.parametrize("name", ["unsw", "finn_mt", "tfc_2w2a"])
def test_host_c_is_bit_exact_on_k_bit_networks(files, name):
    if name not in files:
        pytest.skip("brevitas_examples not installed")
    rep = run_verify(load_model(files[name]), "host", samples=80, seed=0)
    assert rep.mismatches == 0 and rep.ties_hit > 0, rep.summary_line()


def test_hls_csim_is_bit_exact_on_k_bit_networks(files):
    rep = run_verify(load_model(files["finn_mt"]), "fpga-hls", samples=60, seed=0)
    assert rep.mismatches == 0, rep.summary_line()


@pytest.mark.parametrize("target,name", [
    ("cortex-m4", "unsw"),  # default run: 600 inputs in one table chunk (an old lookup kernel summed it wrong)
    pytest.param("fpga-hls", "unsw", marks=pytest.mark.slow),
    pytest.param("cortex-m4", "tfc_2w2a", marks=pytest.mark.slow),
    pytest.param("fpga-hls", "tfc_2w2a", marks=pytest.mark.slow),
])
def test_k_bit_networks_verify_on_cortex_m4_and_hls(files, name, target):
    if name not in files:
        pytest.skip("brevitas_examples not installed")
    if target == "cortex-m4" and (shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None):
        pytest.skip("arm toolchain / QEMU not installed")
    rep = run_verify(load_model(files[name]), target, samples=150, seed=0)
    assert rep.mismatches == 0, rep.summary_line()


@needs_brevitas
@pytest.mark.slow
@pytest.mark.parametrize("target", ["host", "cortex-m4", "fpga-hls"])
def test_cnv_2w2a_k_bit_convolutions_verify(tmp_path_factory, target):
    """CNV W2A2: k-bit convs (C: int8 levels; HLS: int8 lanes through the window generator and max-pool)."""
    if target == "cortex-m4" and shutil.which("qemu-system-arm") is None:
        pytest.skip("QEMU not installed")
    path = _export("cnv_2w2a", tmp_path_factory.mktemp("cnv"))
    rep = run_verify(load_model(path), target, samples=6, seed=0)
    assert rep.mismatches == 0, rep.summary_line()


def test_verilog_backend_refuses_k_bit_activations_in_one_line(files, tmp_path):
    r = subprocess.run([sys.executable, "-m", "dnnc.cli", "compile", str(files["finn_mt"]), "-t", "fpga-rtl", "-o",
                        str(tmp_path / "out")], capture_output=True, text=True, check=False)
    assert r.returncode == 2 and "k-bit activations are not supported by the Verilog backend" in r.stderr
    assert r.stderr.count("\n") == 1 and not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["unsw", "finn_mt"])
def test_deployment_onnx_and_every_pass_keep_the_k_bit_outputs(files, name):
    """The standard-op deployment ONNX (onnxruntime) equals the file; every pass preserves the outputs."""
    from dnnc.passes.pipeline import stages

    loaded = load_model(files[name])
    x = make_inputs(loaded, 120, 0)
    loaded.file = None  # the reference is then the deployment ONNX in onnxruntime (`--reference deployment`)
    rep = run_verify(loaded, "ir", samples=120, seed=0)
    assert rep.mismatches == 0 and "deployment" in rep.summary_line(), rep.summary_line()
    first = interpreter.run(loaded.ir, x)
    for pass_name, model in stages(loaded.ir):
        out = interpreter.run(model, x)
        assert np.array_equal(out.acc, first.acc) and np.array_equal(out.logits.view(np.uint32),
                                                                      first.logits.view(np.uint32)), pass_name


@pytest.mark.parametrize("target", ["ir", "host", "fpga-hls", pytest.param("cortex-m4", marks=pytest.mark.slow)])
def test_small_k_bit_cnn_padded_pooled_verifies(files, target):
    """k-bit convs with padding on the raw input, max-pool moved before a 2-bit activation (gamma < 0 rows
    negated), an INT2-weight conv and a dense layer on HWC levels: C byte path, HLS int8 lanes."""
    if target == "cortex-m4" and shutil.which("qemu-system-arm") is None:
        pytest.skip("QEMU not installed")
    rep = run_verify(load_model(files["kcnn"]), target, samples=150, seed=0)
    assert rep.mismatches == 0 and rep.ties_hit > 0, rep.summary_line()


@pytest.mark.parametrize("name", ["finn_mt", "kcnn"])
def test_dataflow_onnx_states_k_bit_thresholds_in_finn_semantics(files, name, tmp_path):
    """dataflow.onnx (for FINN users): (MH, T) thresholds, ActVal and the k-bit types; executed in FINN's
    semantics it equals the interpreter."""
    from dnnc.backends import hls
    from dnnc.targets import load_target
    from test_hls_dataflow import run_finn_graph

    loaded = load_model(files[name])
    hls.compile(loaded.ir, load_target("fpga-hls"), tmp_path)
    proto = onnx.load(tmp_path / "dataflow.onnx")
    raw = make_inputs(loaded, 60, seed=1)
    ref = interpreter.run(loaded.ir, raw)
    t = run_finn_graph(proto, raw)
    assert np.array_equal(t["acc"].astype(np.int64), ref.acc.astype(np.int64))
    assert np.array_equal(t["class"][:, 0].astype(np.int64), ref.cls)


AVX2_TARGET = Path(__file__).resolve().parents[1] / "examples" / "targets" / "host-x86-64-v3.toml"


@pytest.mark.parametrize("target", [
    pytest.param(str(AVX2_TARGET), id="avx2", marks=pytest.mark.skipif(
        platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 only")),
    pytest.param("host-aarch64", id="neon", marks=[pytest.mark.slow, pytest.mark.skipif(
        shutil.which("aarch64-linux-gnu-gcc") is None or shutil.which("qemu-aarch64") is None,
        reason="aarch64-linux-gnu-gcc / qemu-aarch64 not installed (tools/setup.sh)")])])
def test_k_bit_networks_run_the_vector_lane_kernels_per_plane(files, target):
    """k-bit dense layers call the AVX2 / NEON lane kernels once per bit plane: bit-exact on both builds."""
    for name in ["finn_mt", *(["tfc_2w2a"] if "tfc_2w2a" in files else [])]:  # tfc: with brevitas_examples
        rep = run_verify(load_model(files[name]), target, samples=60, seed=0)
        assert rep.mismatches == 0 and rep.ties_hit > 0, rep.summary_line()
