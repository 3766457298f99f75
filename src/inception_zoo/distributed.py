"""The processes of a run (training, evaluation, a batch job): one, or the ones ``torchrun`` starts
(gloo on CPUs, NCCL on GPUs)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["Processes", "join", "leave", "local_device", "world_size"]


@dataclass(frozen=True)
class Processes:
    """This process's place in the run: its rank among ``world`` processes, and its device."""

    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        """The process that writes (rank 0)."""
        return self.rank == 0

    def any(self, flag: bool) -> bool:
        """True on every process if it is true on one: decisions that skip or stop a step must be shared."""
        if self.world == 1:
            return flag
        shared = torch.tensor(float(flag))
        dist.all_reduce(shared, op=dist.ReduceOp.MAX)
        return bool(shared)

    def barrier(self) -> None:
        """Wait here until every process has arrived."""
        if self.world > 1:
            dist.barrier()

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` summed over the processes (in place)."""
        if self.world > 1:
            dist.all_reduce(tensor)
        return tensor


def world_size() -> int:
    """How many processes torchrun started (1 without torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def local_device(device: str | None = None) -> torch.device:
    """``device`` if given, else this process's GPU (the one of its local rank under torchrun), else the CPU."""
    if device:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def join(device: str | None = None) -> Processes:
    """This process's place, joining the process group that torchrun describes in the environment (or
    the one the caller has already initialised)."""
    chosen = local_device(device)
    if chosen.type == "cuda":
        torch.cuda.set_device(chosen)
    if dist.is_available() and dist.is_initialized():
        return Processes(dist.get_rank(), dist.get_world_size(), chosen)
    if world_size() > 1:
        dist.init_process_group("nccl" if chosen.type == "cuda" else "gloo")
        return Processes(dist.get_rank(), world_size(), chosen)
    return Processes(0, 1, chosen)


def leave(processes: Processes) -> None:
    if processes.world > 1:
        dist.destroy_process_group()
