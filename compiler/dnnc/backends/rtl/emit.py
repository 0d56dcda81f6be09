"""Render the Verilog design from the folded stage list: plain contexts of sizes, widths and ROM words, turned
into Verilog, Tcl/yosys scripts and Markdown by templates/rtl/ (no Verilog text here).

Stream element widths by kind: bits 1, i8 8 (signed, padded bipolar windows), u8 8 (raw pixels), i16 16 and
i32 32 (signed). Weights live in one ROM word per (neuron fold, input fold), PE x SIMD codes a word, in the HLS
backend's order (channel nf * PE + pe from PE pe), so the same stage list means the same schedule.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import jinja2
import numpy as np

from dnnc import __version__
from dnnc.dataflow.stages import Stage
from dnnc.errors import DnncError
from dnnc.ir.model import IRModel
from dnnc.resources import resource_dir
from dnnc.vocabulary import BIPOLAR, dtype_range, signed_bits

EW = {"bits": 1, "i8": 8, "u8": 8, "i16": 16, "i32": 32}
MAX_ACC_BITS = 48
# Memories at most this many bits stay in logic (LUTs / flip-flops), larger ones are left to block RAM.
LOGIC_RAM_BITS, LOGIC_ROM_BITS = 256, 1024
MAX_LOGIT_TABLE = 1 << 16  # entries; a wider output range would need a float32 multiply-add in RTL
RUNTIME_FILES = ("dnnc_rtl.v",)


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir("templates"))),
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
    )


def _lit(v: int, bits: int) -> str:
    return f"-{bits}'sd{-v}" if v < 0 else f"{bits}'sd{v}"


def _by_pe(values: np.ndarray, pe: int) -> np.ndarray:
    mh = values.shape[0]
    return values.reshape(mh // pe, pe, *values.shape[1:]).swapaxes(0, 1)


def _words(codes: np.ndarray, wb: int) -> list[str]:
    """(WMEM, PE * SIMD) integer codes -> hex ROM words, code i at bits [i*wb, (i+1)*wb), two's complement."""
    c = codes.astype(np.int64) & ((1 << wb) - 1)
    bits = ((c[..., None] >> np.arange(wb)) & 1).reshape(c.shape[0], -1).astype(np.uint8)
    width = bits.shape[1]
    pad = (-width) % 8
    packed = np.packbits(np.pad(bits, ((0, 0), (0, pad))), axis=1, bitorder="little")
    digits = math.ceil(width / 4)
    return [format(int.from_bytes(row.tobytes(), "little"), f"0{digits}x") for row in packed]


def _bits(n: int) -> int:
    """Counter width for values 0 .. n - 1."""
    return max(1, (n - 1).bit_length())


def _max_abs_input(stage: Stage) -> int:
    if stage.in_kind in ("bits", "i8"):
        return 1
    rng = dtype_range(stage.attrs["inputDataType"])
    if rng is None:
        raise DnncError(f"stage '{stage.name}': no integer range for input type {stage.attrs['inputDataType']}")
    return max(abs(rng[0]), abs(rng[1]))


def _thr_ctx(stage: Stage, accw: int) -> dict:
    p = stage.params
    thr = np.asarray(p["thr"], np.int64)
    direction = np.asarray(p["dir"])
    mode = np.where(direction > 0, 2, np.where(direction < 0, 3, np.where(np.asarray(p["cst"]) > 0, 1, 0)))
    live = thr[direction != 0]
    if live.size and signed_bits(int(live.min()), int(live.max())) > accw:
        raise DnncError(f"stage '{stage.name}': thresholds need more than {accw} bits")
    thr = np.where(direction != 0, thr, 0)
    return {"thr": [_lit(int(t), accw) for t in thr], "mode": [int(m) for m in mode], "channels": int(thr.shape[0])}


def _mvau_ctx(stage: Stage, u_bits: int) -> dict:
    a, p = stage.attrs, stage.params
    pe, simd = stage.pe, stage.simd
    w = np.asarray(p["weight"], np.int64)
    mh, mw = w.shape
    sf, nf = mw // simd, mh // pe
    wmem = sf * nf
    binary = set(np.unique(w).tolist()) <= {-1, 1}
    in_bits = stage.in_kind == "bits"
    if in_bits and binary:
        wmode, wb = "xnor", 1
    elif binary:
        wmode, wb = "wsign", 1
    elif in_bits:
        wmode = "xsign"
        wb = signed_bits(int(w.min()), int(w.max()))
    else:
        wmode = "mul"
        wb = signed_bits(int(w.min()), int(w.max()))
    codes = (w > 0).astype(np.int64) if wb == 1 else w
    # (MH, MW) -> (PE, NF, SF, SIMD) -> words indexed nf * SF + sf holding [pe][lane]
    blocks = _by_pe(codes.reshape(mh, sf, simd), pe).reshape(pe, wmem, simd).transpose(1, 0, 2).reshape(wmem, -1)
    max_term = _max_abs_input(stage) * max(1, int(np.abs(w).max(initial=1)))
    dw = signed_bits(-simd * max_term, simd * max_term) + 1
    x_unsigned = stage.in_kind == "u8"
    xw = _ew(stage.in_kind, u_bits) + (1 if x_unsigned else 0)
    fused = a["noActivation"] == 0
    lo, hi = int(p["acc_min"]), int(p["acc_max"])
    accw = max(dw, signed_bits(lo, hi)) + 1
    if fused:
        t = np.asarray(p["thr"], np.int64)[np.asarray(p["dir"]) != 0]
        if t.size:
            accw = max(accw, signed_bits(int(t.min()), int(t.max())) + 1)
    if accw > MAX_ACC_BITS or (not fused and signed_bits(lo, hi) > 32):
        raise DnncError(f"stage '{stage.name}': accumulator needs {accw} bits (RTL limit {MAX_ACC_BITS}, 32 "
                        "on a stream)")
    ctx = {"SF": sf, "SFB": _bits(sf), "NF": nf, "NFB": _bits(nf), "WAB": _bits(wmem), "WMEM": wmem, "wmode": wmode, "WB": wb, "DW": dw, "XW": xw,
           "x_unsigned": x_unsigned, "ACCW": accw, "fused": fused, "rom": _words(blocks, wb),
           "out_ew": 1 if fused else 32, "MW": mw, "MH": mh,
           "ibuf_logic": 2 * 2 ** _bits(sf) * simd * _ew(stage.in_kind, u_bits) <= LOGIC_RAM_BITS,
           "wrom_logic": wmem * pe * simd * wb <= LOGIC_ROM_BITS}
    if fused:
        ctx.update(_thr_ctx(stage, accw))
    return ctx


def _label_ctx(stage: Stage, model: IRModel) -> dict:
    out = model.output_linear
    k = model.num_classes
    scale = np.asarray(stage.params["scale"], np.float32)
    bias = np.asarray(stage.params["bias"], np.float32)
    if out.kind == "dense" and out.out_channels == k:
        lo, hi = out.acc_min_ch.astype(np.int64), out.acc_max_ch.astype(np.int64)
    else:
        lo, hi = np.full(k, out.acc_min, np.int64), np.full(k, out.acc_max, np.int64)
    # On +-1 inputs every dense accumulator has the parity of -sum|w| = its proven minimum: half a table.
    sh = 0
    if out.kind == "dense" and out.in_dtype == BIPOLAR and out.out_channels == k:
        absw = np.abs(out.weight.astype(np.int64)).reshape(k, -1).sum(axis=1)
        if np.array_equal(lo, -absw) and np.array_equal(hi, absw):
            sh = 1
    entries = int(((hi - lo) >> sh).sum() + k)
    if entries > MAX_LOGIT_TABLE:
        raise DnncError(f"layer '{out.name}': the RTL logit rank table would hold {entries} entries (accumulator range "
                        f"[{int(lo.min())}, {int(hi.max())}]), more than {MAX_LOGIT_TABLE}; the rtl targets need an "
                        "output layer on +-1 inputs or a narrower range")
    values: list[np.ndarray] = []
    base: list[int] = []
    for c in range(k):
        accs = np.arange(lo[c], hi[c] + 1, 1 << sh, dtype=np.int64)
        logits = ((accs.astype(np.float32) * scale[c]).astype(np.float32) + bias[c]).astype(np.float32)
        base.append(sum(len(v) for v in values))
        values.append(logits)
    # The argmax needs only the order of the logits: each float32 becomes its rank among the distinct values
    # (float comparison: -0 == +0, so equal values share a rank and ties stay ties).
    flat = np.concatenate(values).astype(np.float64) + 0.0
    distinct = np.unique(flat)
    ranks = np.searchsorted(distinct, flat)
    rank_bits = max(1, int(len(distinct) - 1).bit_length())
    table = [format(int(r), "x") for r in ranks]
    return {"K": k, "table": table, "RB": rank_bits, "base": base, "amin": [int(v) for v in lo], "SH": sh,
            "ACCOUT": out_acc_bits(model), "CB": class_bits(k), "LB": _bits(stage.pe)}


def out_acc_bits(model: IRModel) -> int:
    """Width of the top's out_acc port: the output layer's proven accumulator range."""
    out = model.output_linear
    return max(2, signed_bits(out.acc_min, out.acc_max))


def class_bits(k: int) -> int:
    return max(1, (k - 1).bit_length())


def _ew(kind: str, u_bits: int) -> int:
    """Lane width of a stream kind; the input-converted (u) stream is as wide as its proven range."""
    return u_bits if kind == "i16" and u_bits else EW.get(kind, 32)


def stage_context(stage: Stage, model: IRModel, u_bits: int = 0) -> dict:
    ctx = {"name": stage.name, "op": stage.op, "layer": stage.layer, "PE": stage.pe, "SIMD": stage.simd,
           "in_lanes": stage.in_width, "out_lanes": stage.out_width,
           "in_ew": _ew(stage.in_kind, u_bits), "out_ew": _ew(stage.out_kind, u_bits)}
    a = stage.attrs
    if stage.op == "MVAU":
        ctx.update(_mvau_ctx(stage, u_bits))
    elif stage.op == "Thresholding":
        ctx.update(_thr_ctx(stage, 32))
        ctx.update(ACCW=32, CFB=_bits(ctx["channels"] // stage.pe))
    elif stage.op == "InputConvert":
        ctx.update(lanes=a["inWidth"], mul=int(a["mul"]), add=int(a["add"]))
    elif stage.op == "ConvolutionInputGenerator":
        kh, kw = a["ConvKernelDim"]
        if kh != kw or a["Stride"][0] != a["Stride"][1]:
            raise DnncError(f"stage '{stage.name}': the RTL window generator needs square kernels and strides")
        ctx.update(C=a["IFMChannels"], H=a["ifm_h"], W=a["ifm_w"], K=kh, S=a["Stride"][0], P=a["pad"],
                   OH=a["OFMDim"][0], OW=a["OFMDim"][1],
                   bits_in=int(stage.in_kind == "bits" and stage.out_kind == "i8"))
    elif stage.op == "StreamingMaxPool":
        ctx.update(C=a["NumChannels"], H=a["ImgDim"][0], W=a["ImgDim"][1], K=a["PoolDim"][0])
    elif stage.op == "LabelSelect":
        ctx.update(_label_ctx(stage, model))
    elif stage.op != "StreamingDataWidthConverter":
        raise DnncError(f"stage '{stage.name}': no RTL kernel for {stage.op}")
    return ctx


def top_input(stages: list[Stage], model: IRModel, lanes: int) -> tuple[int, list[dict]]:
    """The top's pixels per beat and, if it is narrower than the first stage, a width converter in front."""
    first = stages[0].in_width
    n = int(np.prod(model.input_shape))
    lanes = lanes or first
    if n % lanes:
        raise DnncError(f"input_lanes = {lanes} does not divide the {n} input pixels")
    if lanes == first:
        return lanes, []
    return lanes, [{"name": "in_dwc", "op": "StreamingDataWidthConverter", "layer": "input", "PE": 1, "SIMD": 1,
                    "in_lanes": lanes, "out_lanes": first, "in_ew": 8, "out_ew": 8}]


def project_context(model: IRModel, stages: list[Stage], target: dict) -> dict:
    lanes, front = top_input(stages, model, int(target["input_lanes"]))
    ctxs = list(front)
    u_bits = 0
    for s in stages:
        if s.op == "InputConvert":
            lo, hi = sorted((int(s.attrs["add"]), int(s.attrs["mul"]) * 255 + int(s.attrs["add"])))
            u_bits = signed_bits(lo, hi)
            if s.out_kind != "i16":
                raise DnncError(f"stage '{s.name}': input values [{lo}, {hi}] exceed the RTL's 16-bit input lanes")
        ctxs.append(stage_context(s, model, u_bits))
    return {"version": __version__, "name": model.name, "classes": model.num_classes, "stages": ctxs,
            "in_lanes": lanes, "in_beats": int(np.prod(model.input_shape)) // lanes,
            "acc_bits": out_acc_bits(model), "class_bits": class_bits(model.num_classes)}


def write_rtl(ctx: dict, rtl_dir: Path) -> None:
    """The design <name>.v, its weight ROMs <stage>_w.hex, its testbench tb_<name>.v and the building blocks
    from runtime/rtl/. Tools run in rtl_dir (the ROM files are named relative to it)."""
    env = _env()
    rtl_dir.mkdir(parents=True, exist_ok=True)
    name = ctx["name"]
    (rtl_dir / f"{name}.v").write_text(env.get_template("rtl/top.v.j2").render(**ctx))
    (rtl_dir / f"tb_{name}.v").write_text(env.get_template("rtl/tb.v.j2").render(**ctx))
    rom = env.get_template("rtl/rom.hex.j2")
    for s in ctx["stages"]:
        if s["op"] == "MVAU":  # weight ROMs as $readmemh files beside the design (simulators and yosys read them)
            (rtl_dir / f"{s['name']}_w.hex").write_text(rom.render(words=s["rom"]))
    for f in RUNTIME_FILES:
        shutil.copyfile(resource_dir("runtime") / "rtl" / f, rtl_dir / f)


def render(template: str, ctx: dict) -> str:
    return _env().get_template(template).render(**ctx)
