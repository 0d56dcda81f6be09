"""`dnnc train --resume`: continue an interrupted run with the trainer of the method it recorded. Kept apart
from dnnc.train.api because it names every method, and the methods build on api's run machinery."""

from __future__ import annotations

import inspect
import os

from dnnc.errors import DnncError
from dnnc.train.api import train_model
from dnnc.train.checkpoint import load_checkpoint
from dnnc.train.resume import snapshot_of


def resume_model(path: str | os.PathLike, progress: bool = False, snapshot_to=None) -> dict:
    """Continue the interrupted run whose latest snapshot is the checkpoint at `path` (same arguments and
    method: args["method"], absent for the distribution method)."""
    state = snapshot_of(load_checkpoint(path), str(path))
    args = dict(state["args"])
    method = args.pop("method", "distribution")
    if method == "lrt":
        from dnnc.train.lrt import train_lrt as trainer
    elif method == "few-mult":
        from dnnc.train.few_mult import train_few_mult as trainer
    elif method == "distribution":
        trainer = train_model
    else:
        raise DnncError(f"{path}: unknown training method {method!r} in the resume state")
    try:
        inspect.signature(trainer).bind(**args)
    except TypeError as exc:  # arguments of another dnnc version
        raise DnncError(f"{path}: the resume state's arguments do not fit --method {method} ({exc})") from None
    return trainer(**args, progress=progress, snapshot_to=snapshot_to, resume=state)
