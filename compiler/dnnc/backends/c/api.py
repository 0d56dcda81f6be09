"""The C backend's three entry points (see dnnc.backends): compile, run, bench."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from dnnc.backends.c import emit
from dnnc.backends.c.build import compile_exe, count_user_instructions, execute, is_bare_metal, write_harness
from dnnc.backends.c.plan import make_plan
from dnnc.errors import DnncError
from dnnc.fsutil import child_env, scratch_dir
from dnnc.ir.model import IRModel
from dnnc.ir.outputs import Outputs


def compile(model: IRModel, target: dict, outdir: Path) -> None:
    """Write the C library for `target` into `outdir` (an existing, empty directory)."""
    emit.write(make_plan(model, target), target, Path(outdir))


def input_entry(model: IRModel, dtype) -> str:
    """The entry point inputs of `dtype` go through: float32 -> _f32 (a float graph), uint8 -> _u8 (a stated
    input map) or the raw-code entry; DnncError for a type the model does not take."""
    if model.float_input and dtype == np.float32:
        return "_f32"
    if dtype == np.uint8 and (model.byte_codes is not None or not model.float_input):
        return "_u8" if model.byte_codes is not None else ""
    kinds = "uint8 (bytes, via the input map) or float32" if model.byte_codes is not None else \
        np.dtype(model.input_dtype).name
    raise DnncError(f"inputs must be {kinds} (N, {', '.join(map(str, model.input_shape))}), got {np.dtype(dtype).name}")


def _prepare(model: IRModel, target: dict, tmp: Path, template: str, entry: str):
    plan = make_plan(model, target)
    lib = tmp / "lib"
    lib.mkdir()
    emit.write(plan, target, lib)
    write_harness(plan, target, tmp, template, Path(template).stem, entry)
    return plan, lib


def run(model: IRModel, target: dict, raw: np.ndarray, *, sanitize: bool = False, cc: str | None = None) -> Outputs:
    """Outputs of the generated C on raw uint8 inputs (N, C, H, W), executed on the target (or its emulator)."""
    raw = np.ascontiguousarray(raw)
    entry = input_entry(model, raw.dtype)
    if raw.shape[1:] != tuple(model.input_shape):
        raise DnncError(f"inputs must be (N, {', '.join(map(str, model.input_shape))}), got {raw.dtype} {raw.shape}")
    with scratch_dir("dnnc-c-") as tmp:
        plan, lib = _prepare(model, target, tmp, "harness.c.j2", entry)
        (tmp / "in.bin").write_bytes(raw.tobytes())
        exe = compile_exe(target, lib, tmp, ["harness.c"], "harness.elf",
                          ['-DDNNC_IN_PATH="in.bin"', '-DDNNC_OUT_PATH="out.bin"'], sanitize=sanitize, cc=cc)
        macs = sum(st.macs for st in plan.stages)  # emulation runs at ~100+ M instructions/s
        execute(target, exe, tmp, timeout=120 + raw.shape[0] * (0.01 + 2e-8 * macs))
        k = plan.num_classes
        rec = np.fromfile(tmp / "out.bin", np.uint32)
    if rec.size != raw.shape[0] * (1 + 2 * k):
        raise DnncError(f"target '{target['name']}': harness wrote {rec.size} words, expected {raw.shape[0] * (1 + 2 * k)}")
    rec = rec.reshape(raw.shape[0], 1 + 2 * k)
    return Outputs(acc=rec[:, 1:1 + k].view(np.int32).copy(), logits=rec[:, 1 + k:].view(np.float32).copy(),
                   cls=rec[:, 0].astype(np.int64))


def _sizes(target: dict, lib: Path, tmp: Path) -> dict:
    """text/data/bss bytes of the compiled library object (the target's `size` tool, Berkeley format)."""
    cmd = [target["cc"], *target["cpu_flags"], *target["cflags"], "-ffp-contract=off",
           *emit.defines(target), f"-I{lib / 'runtime'}", f"-I{lib}", "-c", str(lib / "model.c"), "-o", "model.o"]
    subprocess.run(cmd, cwd=tmp, check=True, capture_output=True, env=child_env(tmp))
    out = subprocess.run([target["size"], "model.o"], cwd=tmp, check=True, capture_output=True, text=True,
                         env=child_env(tmp)).stdout
    text, data, bss = (int(v) for v in out.splitlines()[1].split()[:3])
    return {"text_bytes": text, "data_bytes": data, "bss_bytes": bss, "flash_bytes": text + data,
            "ram_bytes": data + bss}


def _bench_user_mode(model: IRModel, target: dict, raw: np.ndarray) -> dict:
    """A hosted target run under QEMU user mode (wall time there is no measure): instructions per inference,
    the difference of the counts of 3 and 1 timed inferences (the warm-up, file I/O and startup cancel) / 2."""
    counts = {}
    with scratch_dir("dnnc-bench-") as tmp:
        plan, lib = _prepare(model, target, tmp, "bench.c.j2", input_entry(model, raw.dtype))
        (tmp / "in.bin").write_bytes(raw.tobytes())
        for n in (1, 3):
            exe = compile_exe(target, lib, tmp, ["bench.c"], f"bench{n}.elf",
                              ['-DDNNC_IN_PATH="in.bin"', '-DDNNC_OUT_PATH="out.bin"', f"-DDNNC_REPEAT={n}"])
            counts[n] = count_user_instructions(target, exe, tmp)
        result = {"target": target["name"], "model": model.name, "arena_bytes": plan.arena_words * 4,
                  "const_bytes": plan.flash_bytes, **_sizes(target, lib, tmp),
                  "instructions": round((counts[3] - counts[1]) / 2), "instructions_resolution": 0.5, "repeat": 2,
                  "instructions_under": f"{target['runner'][0]} user mode (-singlestep -d nochain,exec)"}
    result["macs"] = sum(s.macs for s in plan.stages)
    return result


def bench(model: IRModel, target: dict, raw: np.ndarray | None = None, repeat: int | None = None) -> dict:
    """Cost per inference on the first input of `raw` (zeros if None).

    Bare metal: exact-to-a-few instructions count per inference on the emulator (-icount shift=0, the arch's
    cycle counter at emulator.timer_hz over `repeat` back-to-back inferences). Host: median/min latency over `repeat` timed inferences.
    Both: library sizes (text, data, bss) from the target's `size` tool.
    """
    shape = (1, *model.input_shape)
    dtype = model.input_dtype  # a stated input map: the byte entry point is timed
    raw = np.zeros(shape, dtype) if raw is None else np.ascontiguousarray(raw[:1]).astype(dtype)
    bare = is_bare_metal(target)
    if target["runner"]:
        return _bench_user_mode(model, target, raw)
    repeat = repeat or (3 if bare else 2000)
    with scratch_dir("dnnc-bench-") as tmp:
        plan, lib = _prepare(model, target, tmp, "bench.c.j2", input_entry(model, raw.dtype))
        (tmp / "in.bin").write_bytes(raw.tobytes())
        exe = compile_exe(target, lib, tmp, ["bench.c"], "bench.elf",
                          ['-DDNNC_IN_PATH="in.bin"', '-DDNNC_OUT_PATH="out.bin"', f"-DDNNC_REPEAT={repeat}"])
        execute(target, exe, tmp)
        result = {"target": target["name"], "model": model.name, "arena_bytes": plan.arena_words * 4,
                  "const_bytes": plan.flash_bytes, **_sizes(target, lib, tmp)}
        if bare:
            ticks, rep, empty = (int(v) for v in np.fromfile(tmp / "out.bin", np.uint32))
            ns_per_tick = 1e9 / float(target["emulator"]["timer_hz"])
            result["instructions"] = round((ticks - empty) * ns_per_tick / rep)
            result["instructions_resolution"] = ns_per_tick / rep
            result["repeat"] = rep
        else:
            ns = np.fromfile(tmp / "out.bin", np.uint64).astype(np.float64)
            result.update(latency_us_median=float(np.median(ns)) / 1e3, latency_us_min=float(ns.min()) / 1e3,
                          repeat=int(ns.size))
    result["macs"] = sum(s.macs for s in plan.stages)
    return result
