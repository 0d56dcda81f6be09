"""Published binary networks as their owners have them: Brevitas' bnn_pynq export and the qonnx zoo layout.

The reference is the file itself (qonnx's executor); the IR interpreter, the host C and the HLS C-simulation
must match it bit for bit on real digits, random inputs and input-quantizer boundary inputs.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from dnnc.frontend import load_model
from dnnc.verify import run_verify
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[1]
BREVITAS = importlib.util.find_spec("brevitas_examples") is not None


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dnnc.cli", *args], capture_output=True, text=True, check=False)


def zoo_tfc(rng: np.random.Generator, hidden: int = 64, act_bits: int = 1) -> onnx.ModelProto:
    """The node layout of the qonnx zoo's TFC_1W1A (older Brevitas exporter): opset 9, onnx.brevitas domain,
    Shape/Gather/Unsqueeze/Concat/Reshape flatten, Mul 2 / Sub 1, BipolarQuant, (BipolarQuant weights,
    Transpose, MatMul, BatchNormalization with parameters as graph inputs with initializers, BipolarQuant) x 3,
    MatMul, TensorNorm as Sub, Pow, Div, Mul, Add; negative gamma in every BN layer."""
    dom = "onnx.brevitas"
    nodes, inits, extra_inputs = [], [], []

    def const(name, value):
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op, ins, out, domain="", **kw):
        nodes.append(helper.make_node(op, ins, [out], name=f"{op}_{len(nodes)}", domain=domain, **kw))
        return out

    one = const("one", np.array(1.0, np.float32))
    shp = node("Shape", ["x"], "shape")
    g0 = node("Gather", [shp, const("zero_i", np.array(0, np.int64))], "g0", axis=0)
    u0 = node("Unsqueeze", [g0], "u0", axes=[0])
    cat = node("Concat", [u0, const("m1", np.array([-1], np.int64))], "cat", axis=0)
    cur = node("Reshape", ["x", cat], "flat")
    cur = node("Mul", [cur, const("two", np.array(2.0, np.float32))], "x2")
    cur = node("Sub", [cur, one], "x2m1")
    cur = node("BipolarQuant", [cur, one], "xq", dom)
    sizes = [784, hidden, hidden, hidden, 10]
    for i in range(4):
        w = rng.normal(size=(sizes[i + 1], sizes[i])).astype(np.float32)
        wq = node("BipolarQuant", [const(f"W{i}", w), one], f"Wq{i}", dom)
        wt = node("Transpose", [wq], f"Wt{i}", perm=[1, 0])
        cur = node("MatMul", [cur, wt], f"mm{i}")
        if i == 3:
            break
        c = sizes[i + 1]
        gamma = (0.5 + rng.random(c)).astype(np.float32)
        gamma[:3] *= -1
        gamma[3] = 0
        bn = {"gamma": gamma, "beta": rng.normal(size=c).astype(np.float32),
              "mean": rng.normal(scale=4, size=c).astype(np.float32),
              "var": (1 + 10 * rng.random(c)).astype(np.float32)}
        names = [const(f"bn{i}_{k}", v) for k, v in bn.items()]
        extra_inputs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, [c]) for n in names]
        cur = node("BatchNormalization", [cur, *names], f"bn{i}", epsilon=1e-4)
        if act_bits == 1:
            cur = node("BipolarQuant", [cur, one], f"a{i}", dom)
        else:
            cur = node("Quant", [cur, one, const(f"z{i}", np.array(0.0, np.float32)),
                                 const(f"b{i}", np.array(float(act_bits), np.float32))], f"a{i}", dom,
                       signed=1, narrow=1, rounding_mode="ROUND")
    cur = node("Sub", [cur, const("tn_mean", np.array(0.3, np.float32))], "tn_sub")
    pw = node("Pow", [const("tn_var_eps", np.array(1.7, np.float32)), const("half", np.array(0.5, np.float32))], "tn_pow")
    cur = node("Div", [cur, pw], "tn_div")
    cur = node("Mul", [cur, const("tn_w", np.array(0.81, np.float32))], "tn_mul")
    cur = node("Add", [cur, const("tn_b", np.array(0.07, np.float32))], "out")
    graph = helper.make_graph(nodes, "tfc", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 28, 28]),
                                             *extra_inputs],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 10])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 9), helper.make_opsetid(dom, 1)])
    m.ir_version = 4
    return m


def finn_tfc(rng: np.random.Generator, hidden: int = 64) -> onnx.ModelProto:
    """The node layout of FINN's build_dataflow TFC-W1A1 (FINN-ONNX): opset 12, finn.custom_op.general, FLOAT
    input holding 0..255, Div 255, Reshape, Mul 2, Sub 1, MultiThreshold (sign form); then (MatMul with
    BIPOLAR-annotated +-1 weights, Mul, Unsqueeze, BatchNormalization, Squeeze, MultiThreshold) x 3, MatMul,
    Mul, TensorNorm as Sub, Div, Mul, Add, and TopK (k = 1) whose indices are the graph output."""
    dom = "finn.custom_op.general"
    nodes, inits, anns = [], [], []

    def const(name, value, dt=None):
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        if dt:
            anns.append((name, dt))
        return name

    def node(op, ins, out, domain="", outs=None, **kw):
        nodes.append(helper.make_node(op, ins, outs or [out], name=f"{op}_{len(nodes)}", domain=domain, **kw))
        return out

    cur = node("Div", ["global_in", const("c255", np.array(255.0, np.float32))], "div")
    cur = node("Reshape", [cur, const("shape", np.array([1, 784], np.int64))], "flat")
    cur = node("Mul", [cur, const("two", np.array(2.0, np.float32))], "x2")
    cur = node("Sub", [cur, const("one", np.array(1.0, np.float32))], "x2m1")
    sign = {"out_dtype": "BIPOLAR", "out_scale": 2.0, "out_bias": -1.0}
    cur = node("MultiThreshold", [cur, const("thr_in", np.zeros((1, 1), np.float32))], "xq", dom, **sign)
    sizes = [784, hidden, hidden, hidden, 10]
    for i in range(4):
        w = np.where(rng.random((sizes[i], sizes[i + 1])) < 0.5, -1, 1).astype(np.float32)
        cur = node("MatMul", [cur, const(f"W{i}", w, "BIPOLAR")], f"mm{i}")
        cur = node("Mul", [cur, const(f"s{i}", np.array(1.0, np.float32))], f"mul{i}")
        if i == 3:
            break
        c = sizes[i + 1]
        gamma = (0.5 + rng.random(c)).astype(np.float32)
        gamma[:3] *= -1  # direction -1 channels
        gamma[3] = 0  # a constant channel
        cur = node("Unsqueeze", [cur], f"uq{i}", axes=[2])
        bn = [const(f"bn{i}_{k}", v) for k, v in (("g", gamma), ("b", rng.normal(size=c).astype(np.float32)),
              ("m", rng.normal(scale=4, size=c).astype(np.float32)), ("v", (1 + 10 * rng.random(c)).astype(np.float32)))]
        cur = node("BatchNormalization", [cur, *bn], f"bn{i}", epsilon=1e-4)
        cur = node("Squeeze", [cur], f"sq{i}", axes=[2])
        cur = node("MultiThreshold", [cur, const(f"thr{i}", np.zeros((1, 1), np.float32))], f"a{i}", dom, **sign)
    cur = node("Sub", [cur, const("tn_m", np.array(0.3, np.float32))], "tn_sub")
    cur = node("Div", [cur, const("tn_s", np.array(1.3038405, np.float32))], "tn_div")
    cur = node("Mul", [cur, const("tn_w", np.array(0.81, np.float32))], "tn_mul")
    cur = node("Add", [cur, const("tn_b", np.array(0.07, np.float32))], "logits")
    node("TopK", [cur, const("k", np.array([1], np.int64))], None, outs=["topk_values", "global_out"], axis=-1)
    g = helper.make_graph(nodes, "tfc_w1a1", [helper.make_tensor_value_info("global_in", TensorProto.FLOAT, [1, 1, 28, 28])],
                          [helper.make_tensor_value_info("global_out", TensorProto.INT64, [1, 1])], inits)
    for t, dt in anns:
        a = onnx.TensorAnnotation(tensor_name=t)
        a.quant_parameter_tensor_names.append(onnx.StringStringEntryProto(key="finn_datatype", value=dt))
        g.quantization_annotation.append(a)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 12), helper.make_opsetid(dom, 1)])
    m.ir_version = 7
    return m


@pytest.fixture(scope="module")
def finn_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("finn") / "tfc_w1a1_finn.onnx"
    onnx.save(finn_tfc(np.random.default_rng(3)), p)
    return p


@pytest.fixture(scope="module")
def zoo_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("zoo") / "tfc_zoo.onnx"
    onnx.save(zoo_tfc(np.random.default_rng(0)), p)
    return p


@pytest.mark.parametrize("target", ["ir", "host", pytest.param("cortex-m4", marks=pytest.mark.slow), "fpga-hls"])
def test_zoo_tfc_layout_bit_exact_against_the_file(zoo_file, target):
    loaded = load_model(zoo_file)
    assert loaded.ir.float_input and loaded.file is not None  # the reference is the file itself
    rep = run_verify(loaded, target, samples=160, seed=1)
    assert rep.mismatches == 0, rep.summary_line()
    assert rep.ties_hit > 0  # the edge inputs reach exact integer thresholds


@pytest.mark.parametrize("target", ["ir", "host", pytest.param("cortex-m4", marks=pytest.mark.slow), "fpga-hls"])
def test_finn_tfc_layout_bit_exact_against_the_file(finn_file, target):
    loaded = load_model(finn_file)
    assert loaded.ir.float_input and loaded.file is not None
    assert loaded.ir.input_thresholds.tolist() == [127.5]  # x / 255 * 2 - 1 >= 0 in float32
    assert loaded.ir.meta["qonnx"]["class_tensor"] == "global_out"  # classes are TopK's indices
    rep = run_verify(loaded, target, samples=120, seed=2)
    assert rep.mismatches == 0, rep.summary_line()
    assert rep.ties_hit > 0


def test_finn_run_on_input_npy_gives_the_qonnx_classes(finn_file, tmp_path):
    """FINN ships input.npy as (N, 784) float32 pixels 0..255; `dnnc run` gives the TopK indices qonnx gives."""
    from dnnc.data.bundled import mnist10k
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    x = mnist10k("test")[0][:10].astype(np.float32).reshape(10, 784)
    x[0, :] = np.float32(127.5)  # every pixel exactly on the input quantizer's boundary
    x[1, :] = np.nextafter(np.float32(127.5), np.float32(0))
    np.save(tmp_path / "input.npy", x)
    r = _cli("run", str(finn_file), "-t", "host", "--input", str(tmp_path / "input.npy"), "-o", str(tmp_path / "y.npz"))
    assert r.returncode == 0, r.stderr
    mw = ModelWrapper(str(finn_file)).transform(InferShapes())
    want = [int(execute_onnx(mw, {"global_in": x[i].reshape(1, 1, 28, 28)})["global_out"].ravel()[0])
            for i in range(len(x))]
    assert np.load(tmp_path / "y.npz")["class"].tolist() == want


def test_run_gives_the_classes_of_the_qonnx_executor(zoo_file, tmp_path):
    from dnnc.data.bundled import mnist10k
    from dnnc.verify.qonnx_reference import run_file

    x = (mnist10k("test")[0][:12].astype(np.float32) / np.float32(255)).reshape(12, 784)  # FINN-style (N, 784)
    np.save(tmp_path / "input.npy", x)
    r = _cli("run", str(zoo_file), "-t", "host", "--input", str(tmp_path / "input.npy"), "-o", str(tmp_path / "y.npz"))
    assert r.returncode == 0, r.stderr
    got = np.load(tmp_path / "y.npz")
    loaded = load_model(zoo_file)
    ref = run_file(loaded.file, loaded.ir, x.reshape(12, 1, 28, 28))
    assert np.array_equal(got["class"], ref.cls)
    assert np.array_equal(got["logits"].view(np.uint32), ref.logits.view(np.uint32))


def test_input_quantizer_boundaries_are_exact():
    """x on the decision boundary 2x - 1 = 0 and its float neighbours: codes as the float32 graph gives them."""
    from dnnc.interchange.qonnx_float import input_thresholds
    from dnnc.ir.interpreter import quantize_input

    def bip(x):
        return ((np.asarray(x, np.float32) * np.float32(2) - np.float32(1)).astype(np.float32) >= 0).astype(np.int64)

    t = input_thresholds(bip, 2)
    assert t.tolist() == [0.5]
    xs = np.array([np.nextafter(np.float32(0.5), np.float32(0)), 0.5, np.nextafter(np.float32(0.5), np.float32(1)),
                   -0.0, np.inf, -np.inf, np.nan], np.float32)
    assert quantize_input(t, xs).tolist() == [0, 1, 1, 0, 1, 0, 0]
    # 8-bit signed Q1.7 after 2x - 1 (CNV): every half-way point and both neighbours of every threshold

    def q8(x):
        v = (np.asarray(x, np.float32) * np.float32(2) - np.float32(1)).astype(np.float32)
        return np.round(np.clip((v / np.float32(2**-7)).astype(np.float32), -128, 127)).astype(np.int64) + 128

    t8 = input_thresholds(q8, 256)
    probe = np.concatenate([t8, np.nextafter(t8, np.float32(-np.inf)), np.nextafter(t8, np.float32(np.inf)),
                            np.linspace(-0.1, 1.1, 5001, dtype=np.float32)]).astype(np.float32)
    assert np.array_equal(quantize_input(t8, probe).astype(np.int64), q8(probe))


def test_zoo_layout_with_two_bit_activations_verifies(tmp_path):
    """The zoo TFC layout with a 2-bit signed narrow Quant after every BN (W1A2): k-bit thresholds, bit-exact."""
    p = tmp_path / "tfc_w1a2.onnx"
    onnx.save(zoo_tfc(np.random.default_rng(0), act_bits=2), p)
    rep = run_verify(load_model(p), "ir", samples=120, seed=0)
    assert rep.mismatches == 0, rep.summary_line()


@pytest.mark.skipif(not BREVITAS, reason="brevitas_examples not installed")
def test_brevitas_bnn_pynq_tfc_export_verifies(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from bnn_pynq import export
    finally:
        sys.path.pop(0)
    path = export("tfc_1w1a", tmp_path / "tfc_1w1a.onnx")
    assert (tmp_path / "tfc_1w1a.onnx.data").is_file()  # weights in an external-data file
    loaded = load_model(path)
    for target in ("ir", "fpga-hls"):
        rep = run_verify(loaded, target, samples=120, seed=0)
        assert rep.mismatches == 0, rep.summary_line()


def test_uint8_qonnx_file_is_its_own_reference(tmp_path):
    """A UINT8-annotated QONNX file is verified against the file run by qonnx, not dnnc's rebuilt ONNX: a
    changed output constant in the file (and only there) must show up as mismatches."""
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from qonnx_graphs import mlp
    finally:
        sys.path.pop(0)
    p = tmp_path / "mlp_u8.onnx"
    onnx.save(mlp(np.random.default_rng(5)), p)
    loaded = load_model(p)
    assert not loaded.ir.float_input and loaded.file is not None
    rep = run_verify(loaded, "ir", samples=60, seed=0)
    assert rep.mismatches == 0 and rep.extra["reference"] == "mlp_u8.onnx (qonnx executor)", rep.summary_line()
    for init in loaded.file.graph.initializer:  # the final Mul(0.25) becomes Mul(0.25000003) in the file
        if numpy_helper.to_array(init).tolist() == 0.25:
            init.CopyFrom(numpy_helper.from_array(np.nextafter(np.float32(0.25), np.float32(1)), init.name))
    rep = run_verify(loaded, "ir", samples=60, seed=0)
    assert rep.mismatch_by_output["logits"] > 0
    r = _cli("verify", str(p), "-n", "20", "--reference", "deployment")
    assert r.returncode == 0 and "reference=deployment ONNX rebuilt from mlp_u8.onnx" in r.stdout, r.stderr
