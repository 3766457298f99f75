"""The processes of a run: one, or the ones ``torchrun`` starts (DDP over gloo on CPUs, NCCL on GPUs)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["Processes", "join", "leave"]


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

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` summed over the processes (in place)."""
        if self.world > 1:
            dist.all_reduce(tensor)
        return tensor


def join(device: str | None = None) -> Processes:
    """This process's place, joining the process group that torchrun describes in the environment."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device:
        chosen = torch.device(device)
    elif torch.cuda.is_available():
        chosen = torch.device("cuda", local_rank)
    else:
        chosen = torch.device("cpu")
    if chosen.type == "cuda":
        torch.cuda.set_device(chosen)
    if world > 1:
        dist.init_process_group("nccl" if chosen.type == "cuda" else "gloo")
        return Processes(dist.get_rank(), world, chosen)
    return Processes(0, 1, chosen)


def leave(processes: Processes) -> None:
    if processes.world > 1:
        dist.destroy_process_group()
