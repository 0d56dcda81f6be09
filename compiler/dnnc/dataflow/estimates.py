"""Resource and throughput estimates: FINN-R formulas for MVAU / Thresholding, stated approximations
for the rest, and the network roll-up (bottleneck, fps and latency at the clock).

MVAU formulas are FINN's `lut_estimation` / `bram_estimation` / `dsp_estimation` (FINN-R, Blott et
al. 2018; shared/reference/interop-semantics.md section 9). Stages FINN has no closed formula for in
the reference notes (sliding window, max-pool, width converters, label select) use the buffer-size
approximation documented in docs/targets/fpga-hls.md and are marked "approx" in the report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dnnc.dataflow.stages import Stage
from dnnc.vocabulary import INT32, dtype_bits, dtype_signed


@dataclass
class Resources:
    lut: int
    bram18: int
    dsp: int
    model: str  # "FINN-R" or "approx"


def _mvau_acc_bits(a: dict) -> int:
    w, x = dtype_bits(a["weightDataType"]), dtype_bits(a["inputDataType"])
    alpha = math.log2(a["MW"]) + w + x - 1 - int(dtype_signed(a["inputDataType"]))
    return int(min(dtype_bits(a["accDataType"]), math.ceil(alpha + math.log2(1 + 2 ** -alpha) + 1)))


def mvau_lut(stage: Stage) -> int:
    a, p, q = stage.attrs, stage.pe, stage.simd
    w, x = dtype_bits(a["weightDataType"]), dtype_bits(a["inputDataType"])
    wmem = a["MW"] * a["MH"] // (p * q)
    tmem = a["MH"] // p
    c2 = 0
    if (a["mem_mode"] == "internal_decoupled" and a["ram_style"] == "distributed") or (
        a["mem_mode"] == "internal_embedded" and wmem <= 128
    ):
        c2 = p * q * w * math.ceil(wmem / 64)
    mult = 0 if a["resType"] == "dsp" else q * (2 * math.ceil((w + x) / 6) - 1) * (w + x)
    addertree = (w + x) * (2 * q - 1)
    acc = _mvau_acc_bits(a)
    thr = comp = 0
    if a["noActivation"] == 0 and a["ram_style_thresholds"] == "distributed":
        b = dtype_bits(a["outputDataType"])
        thr = (2**b - 1) * acc * math.ceil(tmem / 64)
        comp = (2**b - 1) * acc
    return int(300 + 1.1 * (p * (mult + addertree + acc + thr + comp)) + c2)


def mvau_bram18(stage: Stage) -> int:
    a, p, q = stage.attrs, stage.pe, stage.simd
    omega = a["MW"] * a["MH"] / (p * q)
    width = p * q * dtype_bits(a["weightDataType"])
    wmem = a["MW"] * a["MH"] // (p * q)
    if (
        (a["mem_mode"] == "internal_decoupled" and a["ram_style"] in ("distributed", "ultra"))
        or (a["mem_mode"] == "internal_embedded" and wmem <= 128)
        or a["mem_mode"] == "external"
    ):
        return 0
    return bram18(width, omega)


def bram18(width: int, depth: float) -> int:
    """RAMB18 count for a width x depth memory (FINN-R's table of SDP aspect ratios, UG573)."""
    omega = depth
    if width == 1:
        return math.ceil(omega / 16384)
    if width == 2:
        return math.ceil(omega / 8192)
    if width <= 4:
        return math.ceil(omega / 4096) * math.ceil(width / 4)
    if width <= 9:
        return math.ceil(omega / 2048) * math.ceil(width / 9)
    if width <= 18 or omega > 512:
        return math.ceil(omega / 1024) * math.ceil(width / 18)
    return math.ceil(omega / 512) * math.ceil(width / 36)


def mvau_dsp(stage: Stage) -> int:
    a = stage.attrs
    if a["resType"] != "dsp":
        return 0
    w, x = dtype_bits(a["weightDataType"]), dtype_bits(a["inputDataType"])
    return int(stage.pe * stage.simd * math.ceil((w + x) / 48))


def thresholding(stage: Stage) -> Resources:
    """FINN Thresholding: comparators A*P LUTs plus LUTRAM for TMEM > 1 (distributed thresholds), once per
    threshold step (2^k - 1 for a k-bit output)."""
    a, p = stage.attrs, stage.pe
    x = dtype_bits(a["inputDataType"])
    steps = int(a.get("numSteps", 1))
    tmem = a["NumChannels"] // p
    lutram = p * x * math.ceil(tmem / 64) if tmem > 1 else 0
    return Resources(lut=(x * p + lutram) * steps, bram18=0, dsp=0, model="FINN-R")


def _buffer(bits: int, width: int) -> Resources:
    """Approximation for stream buffers: BRAM18 above 1 Kib (same aspect-ratio table as FINN-R's
    weight memories), else LUTRAM (64 b / LUT)."""
    if bits > 1024:
        return Resources(lut=100 + 2 * width, bram18=bram18(width, bits / width), dsp=0, model="approx")
    return Resources(lut=100 + 2 * width + math.ceil(bits / 64), bram18=0, dsp=0, model="approx")


def estimate(stage: Stage) -> Resources:
    a = stage.attrs
    if stage.op == "MVAU":
        return Resources(lut=mvau_lut(stage), bram18=mvau_bram18(stage), dsp=mvau_dsp(stage), model="FINN-R")
    if stage.op == "Thresholding":
        return thresholding(stage)
    if stage.op == "ConvolutionInputGenerator":  # the emitted kernel's ring of KH input rows
        bits = a["ConvKernelDim"][0] * a["ifm_w"] * a["IFMChannels"] * dtype_bits(a["inputDataType"])
        return _buffer(bits, stage.simd * dtype_bits(a["inputDataType"]))
    if stage.op == "StreamingMaxPool":  # one output row of running maxima
        bits = a["ImgDim"][1] // a["PoolDim"][1] * a["NumChannels"] * dtype_bits(a["dataType"])
        return _buffer(bits, stage.pe * dtype_bits(a["dataType"]))
    if stage.op == "LabelSelect":
        return Resources(lut=100 + a["Labels"] * 32 // 8, bram18=0, dsp=0, model="approx")
    width = max(a["inWidth"], a["outWidth"]) * dtype_bits(a.get("dataType", INT32))
    return Resources(lut=50 + 2 * width, bram18=0, dsp=0, model="approx")


@dataclass
class Summary:
    """Network roll-up: FINN's est_fps = f_clk / max cycles, latency = sum of stage cycles * T_clk."""

    clock_ns: float
    max_cycles: int
    bottleneck: str
    fps: float
    latency_cycles: int
    latency_us: float
    lut: int
    bram18: int
    dsp: int


def summarize(stages: list[Stage], clock_ns: float) -> Summary:
    cycles = [s.cycles() for s in stages]
    res = [estimate(s) for s in stages]
    worst = max(range(len(stages)), key=lambda i: cycles[i])
    latency = sum(cycles)
    return Summary(
        clock_ns=clock_ns,
        max_cycles=cycles[worst],
        bottleneck=stages[worst].name,
        fps=1e9 / clock_ns / cycles[worst],
        latency_cycles=latency,
        latency_us=latency * clock_ns / 1e3,
        lut=sum(r.lut for r in res),
        bram18=sum(r.bram18 for r in res),
        dsp=sum(r.dsp for r in res),
    )
