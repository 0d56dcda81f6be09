"""Folding and estimates of the FPGA backend against FINN's formulas, with numbers worked by hand."""

from __future__ import annotations

import itertools

import pytest
from dnnc.dataflow.estimates import estimate, summarize
from dnnc.dataflow.folding import apply_folding, fold
from dnnc.dataflow.stages import Stage
from dnnc.errors import DnncError


def mvau(name: str, mw: int, mh: int, act: bool, acc: str) -> Stage:
    return Stage(name, "MVAU", {
        "MW": mw, "MH": mh, "PE": 1, "SIMD": 1, "numInputVectors": [1],
        "inputDataType": "BINARY", "weightDataType": "BINARY", "outputDataType": "BINARY" if act else acc,
        "accDataType": acc, "binaryXnorMode": 1, "noActivation": 0 if act else 1, "resType": "lut",
        "mem_mode": "internal_decoupled", "ram_style": "auto", "ram_style_thresholds": "distributed",
    })


def tfc() -> list[Stage]:
    """FINN's TFC-W1A1 (784-64-64-64-10): input binarization, three hidden MVAUs, output MVAU."""
    return [
        Stage("Thresholding_0", "Thresholding", {"NumChannels": 784, "PE": 1, "inputDataType": "UINT8"}),
        mvau("MVAU_0", 784, 64, True, "UINT10"),
        mvau("MVAU_1", 64, 64, True, "UINT7"),
        mvau("MVAU_2", 64, 64, True, "UINT7"),
        mvau("MVAU_3", 64, 10, False, "UINT7"),
    ]


FINN_TFC_FOLDING = {
    "Thresholding_0": {"PE": 49},
    "MVAU_0": {"PE": 16, "SIMD": 49}, "MVAU_1": {"PE": 8, "SIMD": 8},
    "MVAU_2": {"PE": 8, "SIMD": 8}, "MVAU_3": {"PE": 10, "SIMD": 8},
}


def test_tfc_cycles_match_finn_formula():
    stages = tfc()
    apply_folding(stages, FINN_TFC_FOLDING)
    # (MH/PE)*(MW/SIMD): 4*16, 8*8, 8*8, 1*8; thresholding 784/49 (interop-semantics.md section 9 table)
    assert [s.cycles() for s in stages] == [16, 64, 64, 64, 8]
    summary = summarize(stages, clock_ns=10.0)
    assert summary.max_cycles == 64
    assert summary.fps == pytest.approx(100e6 / 64)
    assert summary.latency_cycles == 16 + 64 + 64 + 64 + 8


def test_tfc_resources_follow_finn_r():
    stages = tfc()
    apply_folding(stages, FINN_TFC_FOLDING)
    res = {s.name: estimate(s) for s in stages}
    # MVAU_0: P=16 Q=49 W=A=1: mult 49*(2*1-1)*2=98, addertree 2*97=194, acc min(10, ceil(11.62))=10,
    # thr 1*10*ceil(4/64)=10, comp 10 -> 300 + 1.1*16*322 = 5967.2 -> 5967
    # BRAM: omega 784*64/784=64, width 784 > 36 and omega <= 512 -> ceil(64/512)*ceil(784/36)=22
    assert (res["MVAU_0"].lut, res["MVAU_0"].bram18, res["MVAU_0"].dsp) == (5967, 22, 0)
    # MVAU_1/2: P=Q=8: mult 16, addertree 30, acc min(7, 9)=7, thr 7, comp 7 -> 300 + 1.1*8*67 = 889.6
    # BRAM: omega 64, width 64 -> 1*ceil(64/36)=2
    assert (res["MVAU_1"].lut, res["MVAU_1"].bram18) == (889, 2)
    assert (res["MVAU_2"].lut, res["MVAU_2"].bram18) == (889, 2)
    # MVAU_3: P=10 Q=8, no activation: 16+30+7=53 -> 300 + 1.1*10*53 = 883; omega 8, width 80 -> 3
    assert (res["MVAU_3"].lut, res["MVAU_3"].bram18) == (883, 3)
    # Thresholding: comparators 8 bits * 49 PE, TMEM 16 in LUTRAM: 49*8*ceil(16/64) -> 392 + 392
    assert res["Thresholding_0"].lut == 784


def test_divisibility_rules():
    stages = tfc()
    with pytest.raises(DnncError, match="MH % PE"):
        apply_folding(stages, {"MVAU_3": {"PE": 4, "SIMD": 8}})
    with pytest.raises(DnncError, match="MW % SIMD"):
        apply_folding(tfc(), {"MVAU_0": {"PE": 1, "SIMD": 10}})
    with pytest.raises(DnncError, match="no stage"):
        apply_folding(tfc(), {"MVAU_9": {"PE": 1}})


@pytest.mark.parametrize("target", [64, 100, 1000, 5000])
def test_fps_search_is_least_parallel(target):
    stages = tfc()
    result = fold(stages, target, None)
    assert result.unmet == []
    for s in stages:
        assert s.cycles() <= target
        if s.op == "MVAU":  # brute force: no legal folding with fewer lanes meets the target
            a = s.attrs
            fewer = [
                (p, q) for p, q in itertools.product(range(1, a["MH"] + 1), range(1, a["MW"] + 1))
                if a["MH"] % p == 0 and a["MW"] % q == 0 and p * q < s.pe * s.simd
                and (a["MH"] // p) * (a["MW"] // q) <= target
            ]
            assert fewer == []


def test_unreachable_target_is_reported():
    stages = tfc()
    result = fold(stages, 0, None)
    assert "MVAU_0" in result.unmet
    assert stages[1].pe == 64 and stages[1].simd == 784


def test_balance_mode_matches_bottleneck():
    stages = tfc()
    result = fold(stages, None, 64)
    # the slowest stage at 64 lanes is MVAU_0: 784*64/64 = 784 cycles; others just keep pace
    assert result.target_cycles == 784
    assert max(s.cycles() for s in stages) == 784
    assert stages[2].pe * stages[2].simd == 8  # 64*64/784 -> needs >= 5.2 lanes; 8 is the least legal


def tfc_net():
    """A TFC-shaped dnnc network: 784-64-64-64-10, binary weights, sign activations, random BN."""
    import numpy as np
    from dnnc.netspec import BatchNorm, DiscreteNet, LinearLayer

    rng = np.random.default_rng(0)
    hidden = []
    for fan_in in (784, 64, 64):
        w = rng.choice(np.array([-1, 1], np.int8), size=(64, fan_in))
        bn = BatchNorm(gamma=rng.normal(size=64), beta=rng.normal(size=64),
                       mean=rng.normal(size=64) * (50 if fan_in == 784 else 3), inv_std=np.ones(64))
        hidden.append(LinearLayer("dense", w, "binary", bn=bn))
    out = LinearLayer("dense", rng.choice(np.array([-1, 1], np.int8), size=(10, 64)), "binary",
                      bias=rng.normal(size=10), out_scale=1 / 8.06)
    return DiscreteNet((1, 28, 28), hidden, out, arch="tfc")


def test_tfc_network_with_finn_folding_lowers_and_simulates_exactly():
    """The real lowering of a TFC-shaped net, FINN's folding: the MVAU cycles are FINN's, the three
    XNOR MVAUs' estimates equal the hand-worked FINN-R numbers above, and C-simulation is exact."""
    import numpy as np
    from dnnc import dataflow
    from dnnc.backends import hls
    from dnnc.frontend import from_net
    from dnnc.targets import load_target
    from dnnc.verify.inputs import make_inputs
    from dnnc.verify.reference import run_onnx

    loaded = from_net(tfc_net(), "tfc")
    folding = {"L0_mvau": {"PE": 16, "SIMD": 49}, "L1_mvau": {"PE": 8, "SIMD": 8},
               "L2_mvau": {"PE": 8, "SIMD": 8}, "L3_mvau": {"PE": 10, "SIMD": 8}}
    target = dict(load_target("fpga-hls"), folding=folding)
    d = dataflow.design(loaded.ir, target)
    mvaus = [s for s in d.stages if s.op == "MVAU"]
    assert [s.cycles() for s in mvaus] == [64, 64, 64, 8]
    assert [s.attrs["binaryXnorMode"] for s in mvaus] == [0, 1, 1, 1]  # dnnc's first layer sees pixels
    res = [estimate(s) for s in mvaus[1:]]
    assert [(r.lut, r.bram18) for r in res] == [(889, 2), (889, 2), (883, 3)]
    assert d.summary.max_cycles == 64 and d.summary.fps == pytest.approx(1e8 / 64)
    raw = make_inputs(loaded, 50, seed=0)
    ref = run_onnx(loaded.onnx, raw)
    got = hls.run(loaded.ir, target, raw)
    assert np.array_equal(got.acc, ref.acc) and np.array_equal(got.cls, ref.cls)
    assert np.array_equal(got.logits.view(np.uint32), ref.logits.view(np.uint32))
