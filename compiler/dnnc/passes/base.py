"""What every pass is: a callable object with a name, IRModel -> new IRModel, never mutating its input."""

from __future__ import annotations

from dnnc.ir.model import IRModel, Layer, Linear, MaxPool


class Pass:
    name = "pass"

    def __call__(self, model: IRModel) -> IRModel:
        out = model.copy()
        self.rewrite(out)
        return out

    def rewrite(self, model: IRModel) -> None:
        """Rewrite `model` (a private copy) in place."""
        raise NotImplementedError


def producing_linear(layers: list[Layer], index: int) -> Linear | None:
    """The Linear whose accumulators reach layers[index], skipping max-pools; None if there is none."""
    j = index - 1
    while j >= 0 and isinstance(layers[j], MaxPool):
        j -= 1
    return layers[j] if j >= 0 and isinstance(layers[j], Linear) else None
