"""The C backend against onnxruntime and the IR interpreter, exactly, on the hand-built edge models.

Host builds run under -fsanitize=address,undefined; the Cortex-M4 build runs on QEMU (mps2-an386).
"""

from __future__ import annotations

import filecmp
import platform
import shutil
from pathlib import Path

import numpy as np
import pytest
from dnnc.backends import c as cbackend
from dnnc.backends.c.packing import thresholds as _thresholds
from dnnc.backends.c.plan import make_plan
from dnnc.backends.c.toolchain import vector_kernels, vector_lanes
from dnnc.frontend import from_net
from dnnc.ir.interpreter import run as interpret
from dnnc.ir.model import Threshold
from dnnc.netspec import BatchNorm, DiscreteNet, LinearLayer
from dnnc.targets import load_target
from dnnc.vocabulary import WEIGHT_SETS
from exactness import assert_matches_onnxruntime
from models import dense_model, edge_models, pixel_lane_models, wide_models

EDGE = list(edge_models())
IDS = [name for name, _ in EDGE]
WIDE = list(wide_models())
WIDE_IDS = [name for name, _ in WIDE]
PIX = list(pixel_lane_models())
PIX_IDS = [name for name, _ in PIX]
AVX512_FLAGS = ("avx512f", "avx512bw", "avx512_vnni", "avx512_vpopcntdq", "gfni")
needs_aarch64 = pytest.mark.skipif(shutil.which("aarch64-linux-gnu-gcc") is None or shutil.which("qemu-aarch64") is None,
                                   reason="aarch64-linux-gnu-gcc / qemu-aarch64 not installed (tools/setup.sh)")
needs_arm = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
                               reason="arm-none-eabi-gcc / qemu-system-arm not installed (tools/setup.sh)")


def _check(loaded, target: str, samples: int, **kw) -> None:
    raw, got = assert_matches_onnxruntime(loaded, cbackend, target, samples, seed=1, **kw)
    assert np.array_equal(got.acc, interpret(loaded.ir, raw).acc)


@pytest.mark.parametrize("name,net", EDGE, ids=IDS)
def test_edge_models_host_sanitized(name, net):
    _check(from_net(net, "edge"), "host", 300, sanitize=True)


def _host_portable() -> dict:
    """The host target forced to the output-lane layout with its kernels in plain C (a library generated on an
    AVX-512 machine and built on one without)."""
    cfg = load_target("host")
    cfg["lanes"] = 16
    cfg["cflags"] = [*cfg["cflags"], "-DDNNC_NO_SIMD"]
    return cfg


def _host_avx2() -> dict:
    """The host target built for x86-64-v3 (AVX2, no AVX-512): lanes = "auto" picks the AVX2 kernels."""
    cfg = load_target("host")
    cfg["cpu_flags"] = ["-march=x86-64-v3"]
    return cfg


@pytest.mark.parametrize("name,net", WIDE, ids=WIDE_IDS)
def test_wide_models_host_sanitized(name, net):
    _check(from_net(net, "wide"), "host", 300, sanitize=True)


@pytest.mark.parametrize("name,net", WIDE + EDGE, ids=WIDE_IDS + IDS)
def test_host_portable_lanes_kernels(name, net):
    _check(from_net(net, "edge"), _host_portable(), 200)


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 only")
@pytest.mark.parametrize("name,net", [  # every wide model and 4 edge models by default, the other edge models slow
    pytest.param(n, net, marks=() if i < len(WIDE) + 4 else pytest.mark.slow) for i, (n, net) in enumerate(WIDE + EDGE)],
    ids=WIDE_IDS + IDS)
def test_host_avx2_lanes_kernels_sanitized(name, net):
    assert vector_kernels(_host_avx2()) == "avx2" and vector_lanes(_host_avx2()) == 16
    _check(from_net(net, "edge"), _host_avx2(), 200, sanitize=True)


def _pix_layers(loaded, target: dict) -> list[int]:
    """Which conv stages of the plan take the pixel-lane layout (runtime/dnnc_pixconv.h)."""
    return [s.fields.get("pix", 0) for s in make_plan(loaded.ir, target).stages if s.op == "conv"]


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 only")
@pytest.mark.parametrize("name,net", PIX, ids=PIX_IDS)
def test_host_avx2_pixel_lane_convs_sanitized(name, net):
    """Both convs in pixel lanes (AVX2 kernels), exact against onnxruntime under ASan/UBSan: raw first conv on 1-2
    channels, packed conv on 35 channels (2 words), odd output counts, pools 2 and 3, ties, gamma < 0 and = 0."""
    loaded = from_net(net, "pix")
    assert _pix_layers(loaded, _host_avx2()) == [1, 1]
    _check(loaded, _host_avx2(), 200, sanitize=True)


def test_pixel_lanes_only_where_the_output_lanes_have_avx2_alone():
    """`pixel_lanes = "off"` keeps the convs in output lanes; AVX-512 builds, the plain layout and the forced
    output-lane layout never take pixel lanes."""
    loaded = from_net(PIX[0][1], "pix")
    off = _host_avx2()
    off["pixel_lanes"] = "off"
    plain = _host_avx2()
    plain["lanes"] = 0
    assert _pix_layers(loaded, off) == _pix_layers(loaded, plain) == _pix_layers(loaded, _host_portable()) == [0, 0]
    avx512 = load_target("host")  # -march=native: AVX-512 where the CPU has the whole set
    if vector_kernels(avx512) == "avx512":
        assert _pix_layers(loaded, avx512) == [0, 0]


@pytest.mark.parametrize("name,net", PIX[:2], ids=PIX_IDS[:2])
def test_host_pixel_lane_convs_portable(name, net):
    """The same layout with its loops in plain C (-DDNNC_NO_SIMD) computes the same integers."""
    cfg = _host_avx2()
    cfg["cflags"] = [*cfg["cflags"], "-DDNNC_NO_SIMD"]
    loaded = from_net(net, "pix")
    assert _pix_layers(loaded, cfg) == [1, 1]
    _check(loaded, cfg, 100)


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 only")
def test_host_avx2_pixel_lane_first_conv_negative_input_scale():
    """in_mul < 0 (a raw input map that decreases): the compiler negates the tap pairs and rounds the thresholds
    the other way; exact against the IR interpreter (the IR is changed in place, so onnxruntime is not the
    reference here)."""
    loaded = from_net(dict(PIX)["pixel-lane-ternary"], "pix")
    first = loaded.ir.layers[0]
    first.in_mul, first.in_add = -first.in_mul, -first.in_add + 7
    assert _pix_layers(loaded, _host_avx2()) == [1, 1]
    raw = np.random.default_rng(3).integers(0, 256, size=(60, *loaded.ir.input_shape), dtype=np.uint8)
    raw[:4] = np.array([0, 255, 1, 254], np.uint8)[:, None, None, None]
    got, want = cbackend.run(loaded.ir, _host_avx2(), raw, sanitize=True), interpret(loaded.ir, raw)
    assert np.array_equal(got.acc, want.acc) and np.array_equal(got.logits.view(np.uint32), want.logits.view(np.uint32))


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 only")
@pytest.mark.parametrize("ws", ["binary", "ternary", "quinary"])
def test_host_avx2_first_dense_int16_sums_at_their_bound(ws):
    """Every weight at its set's largest code on 784 raw inputs of 0 (p - 128 = -128) and 255: the AVX2 first
    dense layer's int16 sums over DNNC_U8_GROUPS groups reach their bound (30720) without wrapping."""
    rng = np.random.default_rng(5)
    codes = WEIGHT_SETS[ws][0]
    w0 = np.full((48, 784), max(codes), np.int8)
    w0[1::2] = min(codes)
    h0 = LinearLayer("dense", w0, ws, bn=BatchNorm(gamma=np.ones(48), beta=np.zeros(48), mean=rng.normal(0, 50, 48),
                                                    inv_std=np.ones(48)))
    out = LinearLayer("dense", rng.choice(codes, size=(10, 48)).astype(np.int8), ws, bias=np.zeros(10),
                      out_scale=0.1)
    loaded = from_net(DiscreteNet((1, 28, 28), [h0], out, arch=f"bound-{ws}"), "bound")
    raw = rng.integers(0, 256, size=(8, 1, 28, 28), dtype=np.uint8)
    raw[0], raw[1] = 0, 255
    got, want = cbackend.run(loaded.ir, _host_avx2(), raw), interpret(loaded.ir, raw)
    assert np.array_equal(got.acc, want.acc) and np.array_equal(got.logits.view(np.uint32), want.logits.view(np.uint32))


def _probe(tmp_path, cc: str, flags: list[str], runner: list[str] = ()) -> str:
    """Which kernels of runtime/dnnc_lanes.h a build with these flags compiles, as the built program says."""
    import subprocess

    from dnnc.resources import resource_dir

    (tmp_path / "probe.c").write_text('#include "dnnc_lanes.h"\n#include <stdio.h>\nint main(void) {\n'
                                      '#if defined(DNNC_AVX512)\nputs("avx512");\n#elif defined(DNNC_AVX2)\n'
                                      'puts("avx2");\n#elif defined(DNNC_NEON)\nputs("neon");\n#else\nputs("c");\n'
                                      "#endif\nreturn 0;\n}\n")
    subprocess.run([cc, *flags, f"-I{resource_dir('runtime')}", "probe.c", "-o", "probe"], cwd=tmp_path, check=True)
    return subprocess.run([*runner, str(tmp_path / "probe")], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_host_build_uses_avx512_where_the_cpu_has_it(tmp_path):
    """The host tests above exercise the AVX-512 kernels on a CPU that has them, the AVX2 or plain C ones elsewhere."""
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text().split() if cpuinfo.is_file() else []
    cfg = load_target("host")
    out = _probe(tmp_path, cfg["cc"], cfg["cpu_flags"])
    if platform.machine() in ("x86_64", "AMD64"):
        assert out == ("avx512" if all(f in flags for f in AVX512_FLAGS) else "avx2" if "avx2" in flags else "c")
    assert vector_kernels(cfg) == (None if out == "c" else out)
    assert vector_lanes(cfg) == (0 if out == "c" else 16)


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 only")
def test_x86_64_v3_build_compiles_the_avx2_kernels(tmp_path):
    """An AVX2-only build (-march=x86-64-v3) compiles the AVX2 kernels, x86-64-v2 the plain C ones."""
    cfg = _host_avx2()
    assert _probe(tmp_path, cfg["cc"], cfg["cpu_flags"]) == "avx2" == vector_kernels(cfg)
    v2 = {**cfg, "cpu_flags": ["-march=x86-64-v2"]}
    assert _probe(tmp_path, cfg["cc"], v2["cpu_flags"]) == "c" and vector_lanes(v2) == 0


@needs_arm
@pytest.mark.parametrize("name", ["wide-dense-ternary", "wide-conv-binary", "wide-conv3-ternary"])
def test_wide_models_cortex_m4(name):
    _check(from_net(dict(WIDE)[name], "wide"), "cortex-m4", 100)


@needs_arm
@pytest.mark.parametrize("name,net", EDGE, ids=IDS)
def test_edge_models_cortex_m4(name, net):
    _check(from_net(net, "edge"), "cortex-m4", 200)


@pytest.mark.skipif(shutil.which("clang") is None, reason="clang not installed")
@pytest.mark.parametrize("name", ["conv-quinary", "dense-ternary"])
def test_clang_build_is_exact(name):
    _check(from_net(dict(EDGE)[name], "edge"), "host", 100, cc="clang")


@needs_arm
@pytest.mark.parametrize("name", ["conv-binary", "dense-quaternary", "output-only-quaternary"])
def test_library_makefile_builds_warning_free_for_cortex_m4(tmp_path, name):
    import subprocess

    cbackend.compile(from_net(dict(EDGE)[name], "edge").ir, load_target("cortex-m4"), tmp_path)
    proc = subprocess.run(["make", "-C", str(tmp_path), "CFLAGS=-std=c11 -O2 -Wall -Wextra -Wpedantic -Werror"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "libdnnc_edge.a").is_file()


def test_compile_is_deterministic(tmp_path):
    ir = from_net(dict(EDGE)["conv-ternary"], "edge").ir
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        cbackend.compile(ir, load_target("cortex-m4"), tmp_path / d)
    cmp = filecmp.dircmp(tmp_path / "a", tmp_path / "b")
    assert not cmp.diff_files and not cmp.left_only and not cmp.right_only
    report = (tmp_path / "a" / "report.md").read_text()
    assert "fits" in report and "| L0 |" in report


def test_threshold_encoding_extremes():
    """(acc >= thr) XOR flip reproduces every direction/const, including thresholds beyond int32."""
    big = 2**31
    t = np.array([5, -7, 0, 0, -big - 3, big + 3, big - 1, -big - 1, big - 1, -big], np.int64)
    d = np.array([1, -1, 0, 0, 1, 1, -1, -1, 1, -1], np.int8)
    const = np.array([1, 1, 1, -1, 1, 1, 1, 1, 1, 1], np.int8)
    thr = Threshold("t", (10,), (10,), direction=d, threshold=t, const=const)
    enc_t, flip = _thresholds(thr)
    for acc in (-big, -8, -7, -6, 0, 4, 5, 6, big - 2, big - 1):
        want = np.where(d > 0, acc >= t, np.where(d < 0, acc <= t, const > 0))
        got = (acc >= enc_t.astype(np.int64)) ^ flip
        assert np.array_equal(got, want), acc


@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake not installed")
def test_library_cmake_builds_for_host(tmp_path):
    import subprocess

    (tmp_path / "lib").mkdir()
    cbackend.compile(from_net(dict(EDGE)["conv-quaternary"], "edge").ir, load_target("host"), tmp_path / "lib")
    for cmd in (["cmake", "-S", str(tmp_path / "lib"), "-B", str(tmp_path / "build")],
                ["cmake", "--build", str(tmp_path / "build")]):
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "build" / "libdnnc_edge.a").is_file()


@needs_arm
def test_bench_cortex_m4_counts_are_deterministic_and_scale_with_work():
    """Two runs give the same count; a model with more MACs costs more instructions."""
    target = load_target("cortex-m4")
    small = from_net(dict(EDGE)["dense-binary"], "edge").ir
    big = from_net(dict(EDGE)["conv-binary"], "edge").ir
    a, b = cbackend.bench(small, target), cbackend.bench(small, target)
    assert a["instructions"] == b["instructions"] > 0
    c = cbackend.bench(big, target)
    assert c["macs"] > a["macs"] and c["instructions"] > a["instructions"]
    assert a["text_bytes"] > 0 and a["ram_bytes"] >= a["arena_bytes"]


@pytest.mark.parametrize("target", ["host", "cortex-m4"])
def test_weights_outside_int8_are_a_one_line_error(tmp_path, target):
    """Weights without packed kernels run on the byte path (int8); wider ones are a DnncError naming the
    layer, and nothing is written."""
    import onnx
    from dnnc.errors import DnncError
    from dnnc.frontend import load_model
    from qonnx_graphs import mlp

    path = tmp_path / "int3.onnx"
    onnx.save(mlp(np.random.default_rng(7), weight_quant="quant", bits=3, narrow=1, scale=0.25), path)
    model = load_model(path).ir
    lin = model.linears()[1]
    lin.weight = lin.weight.astype(np.int16) * 50
    lin.weight_values = tuple(int(v) * 50 for v in lin.weight_values)
    with pytest.raises(DnncError, match=f"layer '{lin.name}': weights outside int8 are not supported"):
        cbackend.compile(model, load_target(target), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _pooled_conv_net(ws: str, c0: int, k: int, pad: int, k0: int = 3) -> DiscreteNet:
    """conv(stride 2) -> conv + 2x2 pool on packed bits: k*k*ceil(c0/32) words per pooled pixel."""
    from models import _bn, _out, _weights

    rng = np.random.default_rng(c0 * 100 + k * 10 + k0)
    s = WEIGHT_SETS[ws][1]
    w0 = _weights(rng, (c0, 1, k0, k0), ws)
    par = (255 * w0.astype(np.int64).reshape(c0, -1).sum(axis=1)) % 2
    h0 = LinearLayer("conv", w0, ws, stride=2, padding=k0 // 2,
                     bn=_bn(rng, c0, s, True, 2 * rng.integers(-100, 100, size=c0) + par))
    w1 = _weights(rng, (5, c0, k, k), ws)
    h1 = LinearLayer("conv", w1, ws, stride=1, padding=pad, pool=2,
                     bn=_bn(rng, 5, s, False, rng.integers(-8, 9, size=5)))
    h = (11 + 2 * (k0 // 2) - k0) // 2 + 1
    o = (h + 2 * pad - k + 1) // 2
    return DiscreteNet((1, 11, 11), [h0, h1], _out(rng, 10, 5 * o * o, ws), arch="pooled-tails")


@needs_arm
@pytest.mark.parametrize("ws", ["binary", "ternary"])
@pytest.mark.parametrize("c0,k,pad,k0", [(6, 2, 1, 3), (6, 3, 1, 5), (40, 3, 1, 3), (70, 3, 1, 3)],
                         ids=["words%4=0", "words%4=1-k0=5", "words%4=2", "words%4=3"])
def test_pooled_conv_row_remainders_cortex_m4(ws, c0, k, pad, k0):
    """The pooled early-exit conv loop is compiled once per row length mod 4: cover every remainder."""
    _check(from_net(_pooled_conv_net(ws, c0, k, pad, k0), "tails"), "cortex-m4", 100)


@pytest.mark.parametrize("forced", [
    _host_portable, lambda: load_target("host"),
    pytest.param(_host_avx2, marks=pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64")),
    pytest.param(lambda: load_target("host-aarch64"), marks=needs_aarch64)], ids=["plain-c", "native", "avx2", "neon"])
def test_first_dense_codes_fall_back_to_bytes_for_a_non_affine_weight_set(forced):
    """Weight codes need values affine in their index; another set (as an import might declare) is stored as
    bytes d = w + 128 by the same kernel, and stays exact."""
    loaded = from_net(dict(WIDE)["wide-dense-ternary"], "wide")
    loaded.ir.layers[0].weight_values = (-1, 0, 1, 5)  # not affine: the planner must not use 2-bit codes
    cfg = forced()
    cfg["lanes"] = 16
    _check(loaded, cfg, 200)


AARCH64_DEFAULT = "wide-conv3-ternary"  # the one default-run model: raw 3-channel conv, packed conv and dense


@needs_aarch64
@pytest.mark.parametrize("name,net", [
    pytest.param(n, net, marks=() if n == AARCH64_DEFAULT else pytest.mark.slow) for n, net in WIDE + EDGE],
    ids=WIDE_IDS + IDS)
def test_host_aarch64_neon_kernels(name, net, tmp_path):
    """The NEON kernels, cross-compiled and run under qemu-aarch64 user mode."""
    cfg = load_target("host-aarch64")
    assert _probe(tmp_path, cfg["cc"], cfg["cpu_flags"], cfg["runner"]) == "neon" == vector_kernels(cfg)
    _check(from_net(net, "edge"), "host-aarch64", 200)


@pytest.mark.slow
@needs_aarch64
def test_bench_counts_instructions_under_qemu_user_mode():
    """`dnnc bench --target host-aarch64`: instructions per inference, the same in every run, and more for a
    network with more work (wall time under emulation is no measure, so none is reported)."""
    from dnnc.backends.c import bench

    cfg = load_target("host-aarch64")
    small, wide = from_net(dict(EDGE)[IDS[0]], "edge"), from_net(dict(WIDE)[AARCH64_DEFAULT], "wide")
    a, b, w = bench(small.ir, cfg), bench(small.ir, cfg), bench(wide.ir, cfg)
    assert a["instructions"] == b["instructions"] > 0 and "latency_us_median" not in a
    assert w["instructions"] > a["instructions"]


@needs_arm
@pytest.mark.parametrize("ws,lut_bytes", [("binary", 512), ("binary", 256), ("quinary", 400)])
def test_first_dense_table_chunks_cortex_m4(ws, lut_bytes):
    """The first dense layer's tables in chunks: room for exactly four tables (binary 7 groups of 5 inputs, padded
    to 8: the second chunk ends in a padded group, code 0 and entry 0 = 0; quinary 18 groups of 2 padded to 20),
    and room for two (chunks of 2: the C lookups beside the all-outputs assembly loop)."""
    target = load_target("cortex-m4")
    target["lut_bytes"] = lut_bytes
    loaded = from_net(dense_model(ws), "chunks")
    first = make_plan(loaded.ir, target).stages[0].fields
    assert (first["ngroups"] % 4, first["chunk"], first["ngroups"] * first["group"] > 35) == \
        (0, lut_bytes // (4 * first["vg"]), True)
    _check(loaded, target, 200)
