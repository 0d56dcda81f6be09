"""Fold the in-graph input normalization (InputAffine u = mul*x + add) into the first Linear.

Rewrites: InputAffine followed by a Linear -> that Linear with in_mul/in_add composed
(u = in_mul*(mul*x + add) + in_add), in_dtype "UINT8". Precondition: the InputAffine is directly followed
by a Linear (there is no other consumer of the normalized input). Preserves: every accumulator exactly
(the same integers are summed; padded positions still contribute 0 in the u domain). Invalidates: ranges.
"""

from __future__ import annotations

from dnnc.errors import DnncError
from dnnc.ir.model import InputAffine, IRModel, Linear
from dnnc.passes.base import RANGES, Pass
from dnnc.vocabulary import UINT8


class FoldInputAffine(Pass):
    name = "fold-input-affine"
    invalidates = frozenset({RANGES})  # rewrites the first Linear's in_mul/in_add

    def rewrite(self, model: IRModel) -> None:
        layers = model.layers
        for i, layer in enumerate(layers):
            if not isinstance(layer, InputAffine):
                continue
            nxt = layers[i + 1] if i + 1 < len(layers) else None
            if not isinstance(nxt, Linear):
                raise DnncError(f"layer '{layer.name}': input normalization must feed a dense or conv layer")
            nxt.in_add = nxt.in_mul * layer.add + nxt.in_add
            nxt.in_mul = nxt.in_mul * layer.mul
            nxt.in_dtype = UINT8
        model.layers = [layer for layer in layers if not isinstance(layer, InputAffine)]
