"""What every executor returns: the three outputs of the deployment ONNX ("acc", "logits", "class")."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Outputs:
    acc: np.ndarray  # int32 (N, K): the output layer's integer accumulators
    logits: np.ndarray  # float32 (N, K)
    cls: np.ndarray  # int64 (N,)

    def mismatch_mask(self, other: Outputs) -> np.ndarray:
        """Bool (N,): rows where any output differs; logits are compared as float32 bit patterns."""
        a = np.asarray(self.logits, np.float32).view(np.uint32)
        b = np.asarray(other.logits, np.float32).view(np.uint32)
        return (
            np.any(np.asarray(self.acc) != np.asarray(other.acc), axis=1)
            | np.any(a != b, axis=1)
            | (np.asarray(self.cls) != np.asarray(other.cls))
        )

    def equals(self, other: Outputs) -> bool:
        return (
            self.acc.shape == other.acc.shape
            and self.cls.shape == other.cls.shape
            and not self.mismatch_mask(other).any()
        )

    def __len__(self) -> int:
        return int(self.cls.shape[0])
