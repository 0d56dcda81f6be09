"""Training past one process: torchrun's environment, DDP, data shards and the once-and-broadcast steps.

`torchrun --nproc-per-node N --no-python dnnc train ...` starts N copies of `dnnc train`; torchrun sets
RANK, WORLD_SIZE and LOCAL_RANK (and the rendezvous for several nodes). Every training method runs the same
rules, so a run on N processes follows the single-process run of the same seed up to float reduction order:

- Backend gloo on CPU, NCCL on CUDA (one GPU per process: cuda:LOCAL_RANK).
- Every rank uses the *same* seeds (not seed + rank). The epoch's order of the training set comes from
  one generator that all ranks hold in the same state; each global batch of B indices is split by
  torch's DistributedSampler rule (rank r takes positions r, r + N, ...), so the N shards together are
  exactly the global batch a single process would take (B must be a multiple of N).
- Noise drawn in the forward pass (Gumbel, Gaussian LRT, dropout masks, stochastic weights) comes from
  `rand_like` / `randn_like` below: each rank draws the noise of the whole global batch and keeps its
  own rows, so sample i gets the same noise as in the single-process run. Per-parameter noise (same
  shape on every rank) is drawn by plain torch calls: the ranks' generators stay in step.
- Gradients are averaged by DistributedDataParallel (mean of the shard means = the global mean), and
  batch-norm statistics in the training forward are those of the global batch (`batch_sum`, as
  SyncBatchNorm computes them).
- Batch-norm re-estimation, validation and model selection run once, on rank 0, over the whole sets;
  rank 0 then broadcasts the model's buffers, the shared generator's state and the validation error, so
  every rank steps its scheduler and selects its epoch alike. Rank 0 alone writes checkpoints.
A last global batch smaller than B is padded by DistributedSampler (it repeats the first positions), so
with a training set that is not a multiple of B the N-process run sees a few samples twice per epoch.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist

from dnnc.errors import DnncError


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    device: str = "cpu"

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


_world = World()


def current() -> World:
    return _world


def start(device: str) -> World:
    """Join torchrun's process group if WORLD_SIZE > 1 (else a world of one); returns the World."""
    global _world
    size = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if size <= 1:
        _world = World(device=device)
        return _world
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    if device == "cuda":
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    if not dist.is_initialized():
        try:
            dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
        except (RuntimeError, ValueError) as exc:
            raise DnncError(f"cannot join the torchrun process group ({' '.join(str(exc).split())[:200]})") \
                from None
    _world = World(rank=rank, size=size, device=device)
    return _world


def stop(sync: bool = False) -> None:
    """Leave the process group; with `sync` (a run that ended well) only once every rank is here: a rank
    that leaves while rank 0 still writes the checkpoint can abort in gloo's threads ('terminate called
    without an active exception'). After an error no barrier: the other ranks may never arrive."""
    global _world
    if dist.is_initialized():
        if sync:
            dist.barrier()
        dist.destroy_process_group()
    _world = World()


def check_batch(batch_size: int) -> None:
    if batch_size % _world.size:
        raise DnncError(f"--batch-size {batch_size} is not a multiple of the {_world.size} processes "
                        "(each process takes an equal share of every global batch)")


def wrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module to call for the training forward: DDP around `model` when distributed, else `model`."""
    if not _world.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [torch.device(_world.device).index] if _world.device.startswith("cuda") else None
    return DistributedDataParallel(model, device_ids=ids, broadcast_buffers=False)


def batches(n: int, batch_size: int, gen: torch.Generator | None) -> Iterator[torch.Tensor]:
    """This rank's share of each global batch of one epoch's order (randperm from the shared `gen`)."""
    order = torch.randperm(n, generator=gen) if gen is not None else torch.arange(n)
    if not _world.distributed:
        for lo in range(0, n, batch_size):
            yield order[lo:lo + batch_size]
        return
    from torch.utils.data.distributed import DistributedSampler

    mine = order[list(DistributedSampler(range(n), _world.size, _world.rank, shuffle=False))]
    share = batch_size // _world.size
    for lo in range(0, len(mine), share):
        yield mine[lo:lo + share]


def _global_rows(draw: Callable[..., torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    full = draw((x.shape[0] * _world.size, *x.shape[1:]), dtype=x.dtype, device=x.device)
    return full[_world.rank::_world.size]


def rand_like(x: torch.Tensor) -> torch.Tensor:
    """U(0, 1) noise for a batch-first tensor, row i as the single-process run draws it for its sample."""
    return _global_rows(torch.rand, x) if _world.distributed else torch.rand_like(x)


def randn_like(x: torch.Tensor) -> torch.Tensor:
    """N(0, 1) noise for a batch-first tensor (see rand_like)."""
    return _global_rows(torch.randn, x) if _world.distributed else torch.randn_like(x)


def batch_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum of a per-shard tensor over the ranks, with gradients (batch-norm statistics of the global
    batch, as SyncBatchNorm); call it from the training forward only: every rank must reach it."""
    if not _world.distributed:
        return t
    from torch.distributed.nn.functional import all_reduce

    return all_reduce(t)


def total(*values: float) -> list[float]:
    """Sums over the ranks (float64), e.g. of per-shard loss totals and counts."""
    if not _world.distributed:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=_world.device)
    dist.all_reduce(t)
    return t.tolist()


def once(fn: Callable[[], float], model: torch.nn.Module, gen: torch.Generator | None = None) -> float:
    """Run fn on rank 0 only (BN re-estimation, validation), then give every rank its result, the model's
    buffers and the shared generator's state, as if each had run it."""
    value = fn() if _world.main else 0.0
    if not _world.distributed:
        return value
    for b in model.buffers():
        dist.broadcast(b.data, 0)
    if gen is not None:
        state = gen.get_state().to(_world.device)
        dist.broadcast(state, 0)
        gen.set_state(state.cpu())
    t = torch.tensor([value], dtype=torch.float64, device=_world.device)
    dist.broadcast(t, 0)
    return float(t.item())
