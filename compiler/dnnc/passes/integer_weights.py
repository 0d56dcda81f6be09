"""Scale weights to integers: turn each Linear's weights into int8 codes of its declared weight set.

The deployment ONNX already carries integer codes (the positive weight scale is folded into the batch
norm scale A and the output scale S at export), so this pass is the exactness gate: every weight must be
an integer in `weight_values`, else DnncError naming the layer, and every value of the set must fit int8
before the codes are narrowed (a wrapped code would make range analysis prove the wrong range).
Preserves: all values (only the dtype narrows to int8). Provides the INTEGER_WEIGHTS requirement.
"""

from __future__ import annotations

import numpy as np

from dnnc.errors import DnncError
from dnnc.ir.model import IRModel, Linear
from dnnc.passes.base import Pass
from dnnc.vocabulary import weight_dtype

INT8_MIN, INT8_MAX = -128, 127


class IntegerWeights(Pass):
    name = "integer-weights"

    def rewrite(self, model: IRModel) -> None:
        for layer in model.layers:
            if not isinstance(layer, Linear):
                continue
            w = np.asarray(layer.weight)
            if not np.all(np.isfinite(w)) or not np.array_equal(w, np.round(w)):
                raise DnncError(f"layer '{layer.name}': weights are not integer codes")
            values = tuple(sorted(int(v) for v in layer.weight_values)) or tuple(int(v) for v in np.unique(w))
            wide = [v for v in values if not INT8_MIN <= v <= INT8_MAX]
            if wide:  # narrowing only after the range is proven: astype(int8) would wrap 200 to -56
                raise DnncError(f"layer '{layer.name}': weight value {wide[0]} does not fit the int8 codes "
                                f"dnnc deploys ({INT8_MIN}..{INT8_MAX})")
            bad = ~np.isin(w, values)
            if bad.any():
                raise DnncError(f"layer '{layer.name}': weight value {w[bad].flat[0]:g} not in the declared "
                                f"set {values}")
            layer.weight = w.astype(np.int8)
            layer.weight_values = values
            layer.weight_dtype = layer.weight_dtype or weight_dtype(values)
