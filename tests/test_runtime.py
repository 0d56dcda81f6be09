"""C unit tests of the runtime kernels against numpy, on the host (ASan/UBSan, portable C) and on the
emulated Cortex-M4 (the Armv7E-M assembly kernels). Driver: tests/test_runtime_kernels.c."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from dnnc.backends.c import emit
from dnnc.backends.c.build import compile_exe, execute, write_support
from dnnc.resources import resource_dir
from dnnc.targets import load_target

HERE = Path(__file__).resolve().parent
SETS = {2: (-1, 1), 3: (-1, 0, 1), 4: (-3, -1, 1, 3), 5: (-2, -1, 0, 1, 2)}


def _pc(words: np.ndarray) -> int:
    return int(np.unpackbits(np.ascontiguousarray(words, np.uint32).view(np.uint8)).sum())


def _count_ref(kind: int, w: np.ndarray, x: np.ndarray) -> int:
    planes = w.reshape(len(x), -1)
    d = planes[:, 0] ^ x
    if kind == 0:
        return _pc(d)
    if kind == 1:
        return _pc(d & planes[:, 1])
    if kind == 2:
        return _pc(d) + 2 * _pc(d & planes[:, 1])
    return _pc(d & planes[:, 1]) + 2 * _pc(d & planes[:, 2])


def _cases(rng: np.random.Generator, asm: int):
    """(input bytes, expected output bytes); asm: the assembly kernels the build is expected to use (0 none,
    1 Armv7E-M, 2 Armv6-M)."""
    inp, out = [], []
    i32 = lambda *v: np.array(v, np.int32).tobytes()
    inp.append(i32(5))
    out.append(i32(asm))
    for kind, planes in ((0, 1), (1, 2), (2, 2), (3, 3)):
        for n in (1, 3, 4, 8, 12, 13, 20, 28, 29, 31, 40, 124, 128, 248, 251, 252, 255, 256, 260):
            w = rng.integers(0, 2**32, size=n * planes, dtype=np.uint64).astype(np.uint32)
            x = rng.integers(0, 2**32, size=n, dtype=np.uint64).astype(np.uint32)
            if rng.random() < 0.3 or n in (252, 255):
                x[:] = 0xFFFFFFFF  # all bits set: counters at their maximum
                w[:] = np.where(np.arange(w.size) % planes == 0, 0, 0xFFFFFFFF).astype(np.uint32)
            inp += [i32(1, kind, n), w.tobytes(), x.tobytes()]
            out.append(np.uint32(_count_ref(kind, w, x)).tobytes())
    for n in (1, 31, 32, 33, 100):
        acc = rng.integers(-50, 50, size=n).astype(np.int32)
        thr = rng.integers(-50, 50, size=n).astype(np.int32)
        thr[: n // 4] = acc[: n // 4]  # exact ties
        flip = rng.random(n) < 0.5
        nw = -(-n // 32)
        fw = np.zeros(nw * 32, bool)
        fw[:n] = flip
        bits = np.zeros(nw * 32, bool)
        bits[:n] = (acc >= thr) ^ flip
        pack = lambda b: (b.reshape(-1, 32).astype(np.uint64) << np.arange(32, dtype=np.uint64)).sum(1)
        inp += [i32(2, n), acc.tobytes(), thr.tobytes(), pack(fw).astype(np.uint32).tobytes()]
        out.append(pack(bits).astype(np.uint32).tobytes())
    for npairs in (1, 2, 13, 14):
        w = rng.integers(-3, 4, size=(npairs, 4, 2)).astype(np.int16)
        u = rng.integers(-255, 256, size=(npairs, 2)).astype(np.int16)
        acc = np.einsum("pjk,pk->j", w.astype(np.int64), u.astype(np.int64)).astype(np.int32)
        inp += [i32(3, npairs), w.tobytes(), u.tobytes()]
        out.append(acc.tobytes())
    for levels, group in ((2, 8), (3, 5), (4, 4), (5, 3), (3, 2)):
        ng = int(rng.integers(1, 9))
        vals = np.zeros(8, np.int8)
        vals[:levels] = SETS[levels]
        u = rng.integers(-300, 301, size=ng * group).astype(np.int32)
        digits = rng.integers(0, levels, size=(ng, group))
        codes = (digits * levels ** np.arange(group)).sum(1).astype(np.uint8)
        want = int((vals[digits].astype(np.int64) * u.reshape(ng, group)).sum())
        inp += [i32(4, ng, group, levels, levels**group), vals.tobytes(), u.tobytes(), codes.tobytes()]
        out.append(np.int32(want).tobytes())
    inp.append(i32(0))
    return b"".join(inp), b"".join(out)


def _run(target_name: str, tmp_path: Path, sanitize: bool, popcount: str | None = None,
         opt: tuple[str, ...] = ()) -> None:
    target = load_target(target_name)
    if popcount:
        target["popcount"] = popcount
    if opt:  # replaces the target's optimization level
        target["cflags"] = [f for f in target["cflags"] if not f.startswith("-O")] + list(opt)
    features = emit.features(target)
    lib = tmp_path / "lib"
    shutil.copytree(resource_dir("runtime"), lib / "runtime", ignore=shutil.ignore_patterns("__*"))
    write_support(target, tmp_path)
    shutil.copyfile(HERE / "test_runtime_kernels.c", tmp_path / "kernels.c")
    asm = 1 if "DNNC_V7EM_KERNELS" in features else 2 if "DNNC_V6M_KERNELS" in features else 0
    data, want = _cases(np.random.default_rng(7), asm)
    (tmp_path / "in.bin").write_bytes(data)
    exe = compile_exe(target, lib, tmp_path, ["kernels.c"], "kernels.elf",
                      ['-DDNNC_IN_PATH="in.bin"', '-DDNNC_OUT_PATH="out.bin"', *(f"-D{m}" for m in features)],
                      sanitize=sanitize)
    execute(target, exe, tmp_path, timeout=120)
    got = (tmp_path / "out.bin").read_bytes()
    assert len(got) == len(want)
    assert got == want


@pytest.mark.parametrize("popcount", ["builtin", "swar"])
def test_kernels_host_sanitized(tmp_path, popcount):
    _run("host", tmp_path, sanitize=True, popcount=popcount)


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
                    reason="arm-none-eabi-gcc / qemu-system-arm not installed (tools/setup.sh)")
@pytest.mark.parametrize("opt", [(), ("-O0", "-fno-omit-frame-pointer")], ids=["target-flags", "O0-frame-pointer"])
def test_kernels_cortex_m4(tmp_path, opt):
    """The Armv7E-M assembly kernels, also in a debug build (r7 is the frame pointer there)."""
    _run("cortex-m4", tmp_path, sanitize=False, opt=opt)


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
                    reason="arm-none-eabi-gcc / qemu-system-arm not installed (tools/setup.sh)")
@pytest.mark.parametrize("opt", [(), ("-O0", "-fno-omit-frame-pointer")], ids=["target-flags", "O0-frame-pointer"])
def test_kernels_cortex_m0plus(tmp_path, opt):
    """The Armv6-M assembly kernels (counter limits, n not a multiple of 8), also where r7 is the frame pointer."""
    _run("cortex-m0plus", tmp_path, sanitize=False, opt=opt)
