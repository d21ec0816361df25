"""Data-parallel training of one run over several processes (DESIGN 9), as ``torchrun`` starts
them: one process (rank) per GPU, or per CPU share with the ``gloo`` backend.

Every rank builds the same model, method and data order from the run's seed. Each step, every
rank reads its contiguous share of ``B / N`` examples of the same global batch (the loaders'
``shard``, ``benchmark.data.source``); PyTorch's ``DistributedDataParallel`` averages the gradients during
``backward``, so each rank holds the gradient of the global batch's mean loss,

.. math:: \\bar g = \\frac1N \\sum_{r=1}^{N} \\nabla \\frac{N}{B} \\sum_{i \\in S_r} \\ell_i
          = \\nabla \\frac1B \\sum_{i=1}^{B} \\ell_i ,

before the method's ``after_backward`` hook and the optimizers see it. What a method decides
from weights, gradients and its own seeded generator (StoMPP's masks, OvSW's trackers, Bop's
momenta, PaBT's pruning) is therefore computed identically on every rank: drawn once per rank
from the same seed, the same everywhere, and :meth:`Group.check_same` verifies it at every
epoch's end. BatchNorm normalises with the rank's own share of the batch (``SyncBatchNorm``
needs CUDA); the running statistics are rank 0's, which DDP broadcasts before every forward
pass and :meth:`Group.share_buffers` before every evaluation.

One rank (0) writes records, checkpoints and weights; every rank reads the checkpoint on
resume. The decision to checkpoint (a stop signal, the policy's clock) is agreed on by all
ranks at every step boundary (:meth:`Group.agree`), so they stop at the same step.

Launch: ``torchrun --standalone --nproc-per-node N -m benchmark.cli train ...``; the workflow
does so for a run whose ``resources`` ask for ``gpus`` > 1 (``benchmark.cluster.launcher``).
Reference: Li et al. 2020, "PyTorch Distributed: Experiences on Accelerating Data Parallel
Training" (VLDB), for DDP's bucketed all-reduce during backward.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import warnings
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from benchmark.errors import UserError


@dataclasses.dataclass
class Group:
    """This process's place in the run: ``rank`` of ``world`` processes (1: not distributed)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    _flags: Any = None  # a gloo process group for the per-step agreement (CPU tensors)

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def leader(self) -> bool:
        """Whether this rank writes the run's files."""
        return self.rank == 0

    # -- set-up ---------------------------------------------------------------------------
    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> Group:
        """The group ``torchrun`` describes in ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``
        (a single process without them)."""
        env = os.environ if env is None else env
        world = int(env.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        return cls(rank=int(env["RANK"]), world=world, local_rank=int(env.get("LOCAL_RANK", env["RANK"])))

    def device(self, device: torch.device) -> torch.device:
        """The rank's device: its own GPU (``cuda:LOCAL_RANK``) on CUDA."""
        if self.enabled and device.type == "cuda":
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        return device

    def start(self, device: torch.device, batch_size: int) -> None:
        """Join the process group (NCCL on CUDA, else gloo); ``batch_size`` (the global batch)
        must split evenly over the ranks."""
        if not self.enabled:
            return
        if batch_size % self.world:
            raise UserError(
                f"the batch size {batch_size} does not split over {self.world} processes; "
                f"choose a multiple of {self.world} (recipe.batch_size is the global batch)"
            )
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        self._flags = dist.new_group(backend="gloo") if device.type == "cuda" else dist.group.WORLD

    def stop(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()

    # -- training -------------------------------------------------------------------------
    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        """The model that trains: ``DistributedDataParallel`` over ``model`` (the same module
        objects; evaluation, checkpoints and the method use ``model`` itself).

        ``find_unused_parameters``: a method may take a parameter out of the graph during
        training (StoMPP's fully frozen layers get no gradient), which DDP must not wait for."""
        if not self.enabled:
            return model
        from torch.nn.parallel import DistributedDataParallel

        # a 1x1 kernel's gradient in channels-last has other (equivalent) strides than DDP's
        # bucket view: a performance note, not an error
        warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)

    def sum(self, tensor: Tensor) -> Tensor:
        """``tensor`` summed over the ranks (in place; itself when not distributed)."""
        if self.enabled:
            import torch.distributed as dist

            dist.all_reduce(tensor)
        return tensor

    def agree(self, *flags: bool) -> tuple[bool, ...]:
        """Each flag, true when it is true on any rank (a stop signal reaches the ranks at
        slightly different moments; the checkpoint clock runs on each)."""
        if not self.enabled:
            return flags
        import torch.distributed as dist

        t = torch.tensor([int(f) for f in flags], dtype=torch.int32)
        dist.all_reduce(t, group=self._flags)
        return tuple(bool(v) for v in t.tolist())

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier(group=self._flags)

    def share_buffers(self, model: nn.Module) -> None:
        """Rank 0's buffers (BatchNorm's running statistics) on every rank, as DDP gives them
        to the next forward pass; after it, every rank evaluates the same network."""
        if not self.enabled:
            return
        import torch.distributed as dist

        for buffer in model.buffers():
            dist.broadcast(buffer, src=0)

    def check_same(self, what: str, state: Any) -> None:
        """Raise when ``state`` (tensors in nested containers) differs between the ranks."""
        if not self.enabled:
            return
        import torch.distributed as dist

        mine = fingerprint(state)
        every: list[str | None] = [None] * self.world
        dist.all_gather_object(every, mine, group=self._flags)
        if len(set(every)) > 1:
            differ = [r for r, f in enumerate(every) if f != every[0]]
            raise RuntimeError(f"the {what} of rank(s) {differ} differs from rank 0's: the ranks diverged")


def fingerprint(state: Any) -> str:
    """SHA-256 over the bytes of every tensor and the text of every other leaf of ``state``."""
    digest = hashlib.sha256()
    _feed(digest, state)
    return digest.hexdigest()


def _feed(digest: Any, state: Any) -> None:
    if isinstance(state, Tensor):
        t = state.detach().cpu().contiguous()
        digest.update(str((t.dtype, tuple(t.shape))).encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(state, Mapping):
        for key in sorted(state, key=str):
            digest.update(str(key).encode())
            _feed(digest, state[key])
    elif isinstance(state, list | tuple):
        for item in state:
            _feed(digest, item)
    else:
        digest.update(repr(state).encode())
