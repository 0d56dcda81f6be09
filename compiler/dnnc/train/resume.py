"""Resumable runs: a snapshot after every completed epoch, and a run picked up from one (`--resume`).

A run is a fixed sequence of named stages (e.g. the real pre-training net, then the discrete net), each an
epoch loop. After every completed epoch rank 0 writes the checkpoint (atomically, through the method's
`save`) with a `resume` section:
  args           the arguments of the run (what `--resume` runs again)
  stage, epoch   the stage in progress and its last completed epoch
  model          state_dict of that stage's model; optimizer, scheduler: their state_dicts
  rng            {"torch": the global CPU generator, "gen": the data-order generator, "cuda": [...]}
  best_error, best_state   model selection within the stage so far
  prior_history, stage_history   the records of the earlier stages and of this one
  seconds        training time so far
A resumed run skips the stages before `stage`, restores all of the above and continues with epoch + 1.
Every random draw comes from the restored generators, so on CPU the run ends bit-identical to the
uninterrupted one. The finished checkpoint has no `resume` section.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from dnnc.errors import DnncError


def _rng(gen: torch.Generator | None) -> dict:
    state = {"torch": torch.get_rng_state(), "gen": gen.get_state() if gen is not None else None}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


class Run:
    """One training run across its stages: skips and restores for a resumed run, snapshots every epoch.

    save(model, resume_state): writes the checkpoint of `model` with that `resume` section (rank 0 only;
    None: no snapshots, e.g. a run from the Python API without an output path).
    """

    def __init__(self, args: dict, save: Callable[[torch.nn.Module, dict], None] | None = None,
                 snapshot: dict | None = None):
        self.args, self.save, self.snapshot = args, save, snapshot
        self._waiting = snapshot is not None
        self.history: list[dict] = list(snapshot["prior_history"]) if snapshot else []
        self.seconds_before = float(snapshot["seconds"]) if snapshot else 0.0
        self._t0 = time.perf_counter()

    def seconds(self) -> float:
        """Training time of the run so far, the time before an interruption included."""
        return self.seconds_before + time.perf_counter() - self._t0

    def skip(self, stage: str) -> bool:
        """True for a stage that had ended before the snapshot: a resumed run does not run it again."""
        return self._waiting and stage != self.snapshot["stage"]

    def restore(self, stage: str, model: torch.nn.Module, optimizer, scheduler,
                gen: torch.Generator | None) -> tuple[int, float, dict, list[dict]] | None:
        """Load the snapshot into a stage that was in progress; (first epoch to run, best error, best
        state, records) or None when this stage starts afresh."""
        if not self._waiting or stage != self.snapshot["stage"]:
            return None
        self._waiting = False
        s = self.snapshot
        try:
            model.load_state_dict(s["model"])
            optimizer.load_state_dict(s["optimizer"])
            scheduler.load_state_dict(s["scheduler"])
            torch.set_rng_state(s["rng"]["torch"])
            if gen is not None:
                gen.set_state(s["rng"]["gen"])
            if "cuda" in s["rng"] and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(s["rng"]["cuda"])
            return int(s["epoch"]) + 1, float(s["best_error"]), s["best_state"], list(s["stage_history"])
        except (KeyError, RuntimeError, TypeError, ValueError, IndexError) as exc:
            why = " ".join(str(exc).split())[:160]
            raise DnncError(f"--resume: the checkpoint's resume state does not fit stage {stage!r} ({why})") \
                from None

    def epoch_done(self, stage: str, epoch: int, model: torch.nn.Module, optimizer, scheduler,
                   gen: torch.Generator | None, best_error: float, best_state: dict,
                   stage_history: list[dict]) -> None:
        """Write the snapshot after a completed epoch (no-op without `save`)."""
        if self.save is None:
            return
        state = {"args": dict(self.args), "stage": stage, "epoch": epoch,
                 "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                 "scheduler": scheduler.state_dict(), "rng": _rng(gen), "best_error": best_error,
                 "best_state": best_state, "prior_history": list(self.history),
                 "stage_history": list(stage_history), "seconds": self.seconds()}
        self.save(model, state)


def snapshot_of(ckpt: dict, where: str) -> dict:
    """The resume section of a loaded checkpoint; a finished or foreign one is a one-line error."""
    state = ckpt.get("resume")
    if state is None:
        raise DnncError(f"{where}: the run is complete (the checkpoint has no resume state)")
    need = ("args", "stage", "epoch", "model", "optimizer", "scheduler", "rng", "best_error", "best_state",
            "prior_history", "stage_history", "seconds")
    if not isinstance(state, dict) or any(k not in state for k in need) or not isinstance(state["args"], dict):
        raise DnncError(f"{where}: the checkpoint's resume state is incomplete")
    return state
