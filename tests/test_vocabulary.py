"""dnnc.vocabulary: the shared datatype, weight-set and geometry words agree with their definitions."""

from __future__ import annotations

import numpy as np
import pytest
from dnnc.errors import DnncError
from dnnc.vocabulary import (
    BIPOLAR,
    TERNARY,
    WEIGHT_SETS,
    conv_out_size,
    dtype_bits,
    dtype_range,
    dtype_signed,
    dtype_values,
    index_bits,
    int_dtype,
    same_pad,
    signed_bits,
    weight_codes,
    weight_dtype,
    weight_encoding,
    weight_set_of,
)


def test_weight_sets_are_sorted_symmetric_and_named_back():
    for name, (codes, scale) in WEIGHT_SETS.items():
        assert codes == tuple(sorted(codes)) and codes == tuple(sorted(-c for c in codes))
        assert scale > 0 and max(codes) * scale == 1.0  # the largest real weight is 1
        assert weight_set_of(reversed(codes)) == name
        assert set(dtype_values(weight_dtype(codes))) >= set(codes)
    assert weight_set_of((-1, 1, 2)) is None
    with pytest.raises(DnncError, match="unknown weight set 'septenary'"):
        weight_codes("septenary")


def test_finn_names_of_the_weight_sets():
    assert [weight_dtype(c) for c, _ in WEIGHT_SETS.values()] == [BIPOLAR, TERNARY, "INT3", "INT3"]
    assert [weight_encoding(c) for c, _ in WEIGHT_SETS.values()] == ["sign", "mask_sign", "index", "index"]
    assert [index_bits(len(c)) for c, _ in WEIGHT_SETS.values()] == [1, 2, 2, 3]


@pytest.mark.parametrize("lo,hi", [(0, 0), (0, 1), (0, 255), (0, 256), (-1, 0), (-1, 1), (-2, 1), (-3, 3),
                                   (-4, 3), (-5, 3), (-128, 127), (-129, 0), (0, 2**31 - 1), (-(2**31), 5)])
def test_int_dtype_is_the_smallest_holding_the_range(lo, hi):
    name = int_dtype(lo, hi)
    rlo, rhi = dtype_range(name)
    assert rlo <= lo and hi <= rhi
    n = dtype_bits(name)
    smaller = f"{name[:-len(str(n))]}{n - 1}"
    if n > 1:
        slo, shi = dtype_range(smaller)
        assert not (slo <= lo and hi <= shi), f"{smaller} already holds [{lo}, {hi}]"
    assert dtype_signed(name) == (lo < 0)
    if lo < 0:
        assert signed_bits(lo, hi) == n


def test_dtype_values_and_bits():
    assert dtype_values(BIPOLAR) == (-1, 1)
    assert dtype_values(TERNARY) == (-1, 0, 1)
    assert dtype_values("INT2") == (-2, -1, 0, 1)
    assert dtype_values("UINT2") == (0, 1, 2, 3)
    assert dtype_values("FLOAT32") is None and dtype_range("FLOAT32") is None
    assert [dtype_bits(n) for n in ("BIPOLAR", "BINARY", "TERNARY", "INT5", "UINT8", "FLOAT32")] == [1, 1, 2, 5, 8, 32]
    with pytest.raises(DnncError, match="unknown FINN datatype"):
        dtype_bits("QUATERNARY")


@pytest.mark.parametrize("size,k,stride,pad", [(28, 5, 1, 2), (28, 3, 2, 1), (7, 3, 2, 0), (6, 2, 2, 0),
                                               (5, 2, 2, 0), (9, 4, 3, 1), (4, 5, 1, 2)])
def test_conv_out_size_counts_the_windows(size, k, stride, pad):
    padded = np.arange(size + 2 * pad)
    starts = padded[: len(padded) - k + 1][::stride]  # every window that fits, floor mode
    assert conv_out_size(size, k, stride, pad) == len(starts)
    if k % 2 and stride == 1:
        assert conv_out_size(size, k, 1, same_pad(k)) == size
