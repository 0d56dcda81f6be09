"""The IR interpreter against a naive loop implementation of the integer semantics (docs/ir-spec.md)."""

import numpy as np
from dnnc.ir.interpreter import run
from dnnc.ir.model import ArgMax, IRModel, Linear, MaxPool, OutputAffine, Threshold


def _naive_conv(u, w, stride, pad):
    c, h, wd = u.shape
    o, _, kh, kw = w.shape
    up = np.zeros((c, h + 2 * pad, wd + 2 * pad), np.int64)
    up[:, pad:pad + h, pad:pad + wd] = u
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((o, oh, ow), np.int64)
    for oc in range(o):
        for i in range(oh):
            for j in range(ow):
                s = 0
                for ci in range(c):
                    for a in range(kh):
                        for b in range(kw):
                            s += int(w[oc, ci, a, b]) * int(up[ci, i * stride + a, j * stride + b])
                out[oc, i, j] = s
    return out


def _model(rng):
    w1 = rng.choice([-3, -1, 1, 3], size=(3, 1, 3, 3)).astype(np.int8)
    w2 = rng.choice([-1, 0, 1], size=(4, 3 * 3 * 3)).astype(np.int8)
    layers = [
        Linear("conv0", (1, 7, 7), (3, 7, 7), kind="conv", weight=w1, weight_values=(-3, -1, 1, 3),
               weight_dtype="INT3", stride=1, pad=1, in_dtype="UINT8", in_mul=2, in_add=-255),
        MaxPool("pool0", (3, 7, 7), (3, 3, 3), k=2, stride=2),
        Threshold("thr0", (3, 3, 3), (3, 3, 3), direction=np.array([1, -1, 0], np.int8),
                  threshold=np.array([10, -20, 0], np.int64), const=np.array([1, 1, -1], np.int8)),
        Linear("out", (3, 3, 3), (4,), kind="dense", weight=w2, weight_values=(-1, 0, 1), weight_dtype="TERNARY"),
        OutputAffine("affine", (4,), (4,), scale=np.full(4, 0.1, np.float32), bias=np.zeros(4, np.float32)),
        ArgMax("argmax", (4,), ()),
    ]
    return IRModel("m", (1, 7, 7), layers, 4), w1, w2


def test_interpreter_matches_naive_loops():
    rng = np.random.default_rng(0)
    model, w1, w2 = _model(rng)
    raw = rng.integers(0, 256, size=(5, 1, 7, 7), dtype=np.uint8)
    out = run(model, raw)
    for n in range(5):
        acc = _naive_conv(2 * raw[n].astype(np.int64) - 255, w1, 1, 1)
        pooled = acc[:, :6, :6].reshape(3, 3, 2, 3, 2).max(axis=(2, 4))
        sign = np.empty_like(pooled)
        sign[0] = np.where(pooled[0] >= 10, 1, -1)
        sign[1] = np.where(pooled[1] <= -20, 1, -1)
        sign[2] = -1
        acc_out = w2.astype(np.int64) @ sign.reshape(-1)
        assert out.acc[n].tolist() == acc_out.tolist()
        logits = np.float32(acc_out.astype(np.float32) * np.float32(0.1))
        assert np.array_equal(out.logits[n].view(np.uint32), logits.view(np.uint32))
        assert out.cls[n] == int(np.argmax(logits))
    assert out.acc.dtype == np.int32 and out.logits.dtype == np.float32 and out.cls.dtype == np.int64


def test_inspect_summary_counts_match_batch_norm():
    """inspect's threshold counts and memory agree with an independent count from the BN constants."""
    from dnnc.interchange.export import net_to_ir
    from models import conv_model, dense_model

    _check_counts(net_to_ir(conv_model("quinary")))
    _check_counts(net_to_ir(dense_model("quaternary")))


def _check_counts(pre):
    from dnnc.ir.model import BatchNormSign
    from dnnc.ir.summary import describe, format_text
    from dnnc.passes.pipeline import run_pipeline

    desc = describe(run_pipeline(pre))
    bns = [x for x in pre.layers if isinstance(x, BatchNormSign)]
    thr = [d for d in desc["layers"] if d["type"] == "Threshold"]
    assert len(bns) == len(thr) == 2
    for bn, d in zip(bns, thr, strict=True):
        assert d["channels"] == bn.scale.size == d["ge"] + d["le_gamma_negative"] + d["constant"]
        assert d["constant_gamma_zero"] == int((bn.scale == 0).sum()) == 2
        assert d["le_gamma_negative"] + d["ge"] + d["constant_saturated"] == int((bn.scale != 0).sum())
        assert d["le_gamma_negative"] <= int((bn.scale < 0).sum())
    lin = [d for d in desc["layers"] if d["type"] == "Linear"]
    bits = [d["weight_bits"] for d in lin]
    assert bits == [3] * 3 or bits == [2] * 3  # 5 levels need 3 bits, 4 levels 2
    assert desc["memory"]["weight_bytes"] == sum(-(-int(np.prod(d["weight_shape"])) * b // 8)
                                                 for d, b in zip(lin, bits, strict=True))
    assert "gamma<0" in format_text(desc)
