"""Data-parallel training across processes: the process group and the few collectives training needs.

`torchrun --nproc-per-node N -m attire train ...` starts N copies of `attire train` and
tells each its place in the environment (WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR,
MASTER_PORT). When WORLD_SIZE > 1, `process_group` joins them: backend gloo on the CPU,
nccl on CUDA with rank r on cuda:LOCAL_RANK. Without torchrun every helper here is a
no-op, so the single-process path runs exactly as before.

Who does what (see attire/training.py): every rank trains on its share of each batch
and DistributedDataParallel averages the gradients; rank 0 alone validates, prints,
and writes the run directory, and the others wait for it at the end of each epoch.

A rank that dies closes its sockets, so the others fail their next collective within
a moment and torchrun stops the rest of the job; a rank that hangs (a machine gone
silent) is given up on after COLLECTIVE_TIMEOUT.
"""

import contextlib
import os
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn

from attire.errors import ConfigError

# Long enough for rank 0's validation and final test pass while the others wait at a
# barrier; short enough that a lost machine ends the job in minutes, not torch's 30.
# $ATTIRE_COLLECTIVE_TIMEOUT (seconds) changes it, for a slow machine or a test.
COLLECTIVE_TIMEOUT = timedelta(seconds=float(os.environ.get("ATTIRE_COLLECTIVE_TIMEOUT", 300)))


def world_size() -> int:
    """How many processes train together: 1 unless started by torchrun with several."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return int(os.environ.get("WORLD_SIZE", 1))


def rank() -> int:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", 0))


def is_main() -> bool:
    """Whether this process speaks and writes for the job (rank 0, or the only process)."""
    return rank() == 0


def local_device(device: torch.device) -> torch.device:
    """This process's device: under torchrun each rank of a machine gets its own GPU."""
    if world_size() > 1 and device.type == "cuda":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return device


@contextlib.contextmanager
def process_group(device: torch.device):
    """Join the job's process group for the duration (when there is a job of several processes).

    A group that already exists (a script that set one up itself) is used and left alone.
    """
    if world_size() == 1 or dist.is_initialized():
        yield
        return
    if not dist.is_available():
        raise ConfigError("WORLD_SIZE > 1 asks for distributed training, but this PyTorch build has "
                          "no torch.distributed: install the official build from pytorch.org")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    # device_id binds NCCL to this rank's GPU at once (and silences its guessing)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=COLLECTIVE_TIMEOUT,
                            device_id=device if device.type == "cuda" else None)
    try:
        yield
    finally:
        teardown()


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def data_parallel(model: nn.Module) -> nn.Module:
    """The model wrapped so that backward() averages gradients across ranks; itself in one process.

    BatchNorm stays per rank (each normalises by its own batch of `batch_size` images, as a
    single process would; SyncBatchNorm needs CUDA, and a collective per layer and step). DDP
    copies rank 0's running statistics to all ranks before each forward, and rank 0's model
    is the one saved.
    """
    if world_size() == 1:
        return model
    device = next(model.parameters()).device
    return nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)


def all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    """Each value summed over all ranks, in one collective; the values themselves in one process."""
    if world_size() == 1:
        return values
    totals = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(totals, op=dist.ReduceOp.SUM)
    return totals.tolist()


def from_main(value):
    """Rank 0's `value`, on every rank (pickled: only for our own small results)."""
    if world_size() == 1:
        return value
    box = [value if is_main() else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    """Wait until every rank gets here (for rank 0's files to be complete before anyone goes on)."""
    if world_size() == 1:
        return
    if dist.get_backend() == "nccl":
        dist.barrier(device_ids=[torch.cuda.current_device()])
    else:
        dist.barrier()


def is_peer_failure(error: BaseException) -> bool:
    """Whether `error` is a collective that failed: another rank died, or went silent past the timeout.

    Gloo reports these as plain RuntimeErrors ("Connection reset by peer", "Timed out
    waiting ... for recv") raised from its own source files, NCCL names itself.
    """
    if world_size() == 1:
        return False
    if isinstance(error, dist.DistError):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and ("gloo" in text or "NCCL" in text)


def launch_command(args: str, n_processes: int) -> str:
    """The command that runs `attire ARGS` with as many processes as `n_processes`."""
    if n_processes == 1:
        return f"attire {args}"
    return f"torchrun --nproc-per-node {n_processes} -m attire {args}"
