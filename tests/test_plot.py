"""`dnnc plot` and `dnnc inspect --cost-chart`: PNGs that open, have the size asked and show something."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("matplotlib")

from dnnc.cli import main
from dnnc.train.api import train_model
from dnnc.train.checkpoint import save_checkpoint
from PIL import Image


@pytest.fixture(scope="module")
def ckpt_path(tmp_path_factory):
    ckpt = train_model(arch="tiny-cnn", weights="ternary", epochs=2, pretrain_epochs=2, train_limit=300, seed=0)
    path = tmp_path_factory.mktemp("plot") / "m.pt"
    save_checkpoint(ckpt, path)
    return path


def _check_png(path, min_w: int, min_h: int) -> None:
    with Image.open(path) as im:
        assert im.format == "PNG"
        w, h = im.size
        pix = np.asarray(im.convert("RGB")).reshape(-1, 3)
    assert w >= min_w and h >= min_h
    colours, counts = np.unique(pix, axis=0, return_counts=True)
    assert len(colours) > 20  # lines, bars and text, not a blank canvas
    assert counts.max() < 0.97 * len(pix)  # the background is not everything


def test_plot_writes_curves_and_one_histogram_per_layer(ckpt_path, tmp_path):
    out = tmp_path / "pics"
    r = CliRunner().invoke(main, ["plot", str(ckpt_path), "-o", str(out)])
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["curves.png"] + [f"weights-layer{i}.png" for i in range(4)]
    _check_png(out / "curves.png", 800, 500)
    for i in range(4):
        _check_png(out / f"weights-layer{i}.png", 900, 350)


def test_plot_bad_input_is_one_line(ckpt_path, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    r = CliRunner().invoke(main, ["plot", str(bad), "-o", str(tmp_path / "pics")])
    assert r.exit_code == 2 and "bad.pt" in r.output and not (tmp_path / "pics").exists()


def test_inspect_cost_chart(ckpt_path, tmp_path):
    png = tmp_path / "cost.png"
    r = CliRunner().invoke(main, ["inspect", str(ckpt_path), "--cost-chart", str(png), "--json"])
    assert r.exit_code == 0, r.output
    import json

    cost = json.loads(r.stdout)["cost"]
    assert [c["op"] for c in cost] == ["conv", "conv", "dense_bits", "output"]
    assert all(c["macs"] > 0 and c["flash_bytes"] > 0 and c["ram_bytes"] > 0 for c in cost)
    _check_png(png, 600, 700)
    r = CliRunner().invoke(main, ["inspect", str(ckpt_path), "--cost-chart", str(tmp_path / "x.png"),
                                  "-t", "fpga-hls"])
    assert r.exit_code == 2 and "C backend" in r.output and not (tmp_path / "x.png").exists()
