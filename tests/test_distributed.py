"""Data-parallel training: 2 CPU processes started by torchrun on tiny synthetic data.

One 2-process run serves several tests: it must write one run directory, record its
world size, learn as well as one process, and be reproduced bit for bit by a run whose
rank 1 is killed mid-way and which is then resumed. Each launch starts three Python
processes (torchrun and two workers), about 15 s on 2 busy cores.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from attire import distributed
from attire.checkpoint import read_safetensors
from attire.config import config_from_dict, describe_scaling, peak_lr, resolve_config
from attire.errors import ConfigError
from attire.training import CHECKPOINT, shard_order, train
from synthetic import make_dataset

REPO = Path(__file__).resolve().parents[1]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--standalone"]
LAUNCH_TIMEOUT = 300   # s, for a whole tiny job on 2 busy cores (about 15 s when they are idle)
EPOCHS = 6             # enough for the killed run to be caught between its first and last epoch
TINY = dict(epochs=EPOCHS, batch_size=32, val_size=100, verify_data=False, device="cpu", augment=False,
            model_kwargs={"width": 8})


def train_args(data_dir: Path) -> list[str]:
    return ["-m", "attire", "train", "--preset", "fast", "--data-dir", str(data_dir), "--epochs", str(EPOCHS),
            "--batch-size", "32", "--device", "cpu", "--quiet", "--no-report", "--set", "val_size=100",
            "--set", "verify_data=false", "--set", "augment=false", "--set", 'model_kwargs={"width": 8}']


def job_env() -> dict:
    # this tree's attire in every worker; a collective timeout far above the bounds asserted
    # below, so a test that passes shows torchrun ending the job, not the timeout
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
            "ATTIRE_COLLECTIVE_TIMEOUT": "200"}


def torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*TORCHRUN, *args], capture_output=True, text=True, cwd=cwd, env=job_env(),
                          timeout=LAUNCH_TIMEOUT)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("tiny"), n_train=600, n_test=200)


@pytest.fixture(scope="module")
def two_process_run(data_dir, tmp_path_factory):
    """A whole 2-process run, launched with no --out, in an empty folder."""
    cwd = tmp_path_factory.mktemp("job")
    job = torchrun(*train_args(data_dir), cwd=cwd)
    assert job.returncode == 0, job.stderr[-3000:]
    return job, cwd


def test_two_processes_write_one_run_with_their_world_size(two_process_run):
    job, cwd = two_process_run
    (run_dir,) = (cwd / "runs").iterdir()
    assert sorted(p.name for p in cwd.iterdir()) == ["runs"]
    assert sorted(p.name for p in run_dir.iterdir()) == ["config.json", "history.csv", "metrics.json",
                                                         "model.safetensors"]
    config = json.loads((run_dir / "config.json").read_text())
    lr = resolve_config("fast").lr
    assert (config["world_size"], config["batch_size"], config["lr"]) == (2, 32, lr)
    assert f"2 processes: effective batch 64 = 2 × 32, lr {2 * lr:g} = {lr:g} × 2" in job.stdout
    # rank 0 alone speaks: each line once
    assert job.stdout.count("test accuracy") == 1 and job.stdout.count(f"epoch   1/{EPOCHS}") == 1
    assert job.stdout.count("run directory:") == 1
    rows = (run_dir / "history.csv").read_text().splitlines()
    assert len(rows) == 1 + EPOCHS


def test_two_processes_learn_as_well_as_one(two_process_run, data_dir, tmp_path):
    _, cwd = two_process_run
    (run_dir,) = (cwd / "runs").iterdir()
    # one thread, as torchrun gives each worker: two threads on two busy cores are slower
    one_process = subprocess.run([sys.executable, *train_args(data_dir), "--out", str(tmp_path / "one")],
                                 capture_output=True, text=True, env={**job_env(), "OMP_NUM_THREADS": "1"},
                                 timeout=LAUNCH_TIMEOUT)
    assert one_process.returncode == 0, one_process.stderr[-3000:]
    one = json.loads((tmp_path / "one" / "metrics.json").read_text())
    two = json.loads((run_dir / "metrics.json").read_text())
    # Each synthetic class is a bright bar at its own height: both runs should classify the
    # 200 test images (nearly) perfectly, and they see the same images as often. They take
    # different paths (half as many steps, twice the lr), so their losses differ, and the
    # accuracies are compared to 2 % (4 images), not exactly.
    assert one["accuracy"] >= 0.97 and two["accuracy"] >= 0.97
    assert abs(one["accuracy"] - two["accuracy"]) <= 0.02


def worker_pid(launcher: subprocess.Popen, rank: int) -> int | None:
    """The pid of the worker torchrun started for `rank` (Linux: read from /proc)."""
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if f"PPid:\t{launcher.pid}\n" in status.read_text() and \
                    f"RANK={rank}".encode() in (status.parent / "environ").read_bytes().split(b"\0"):
                return int(status.parent.name)
        except OSError:  # the process ended while we looked
            continue
    return None


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the workers through /proc")
def test_a_dead_rank_ends_the_job_and_its_checkpoint_resumes(two_process_run, data_dir, tmp_path):
    run_dir = tmp_path / "run"
    launcher = subprocess.Popen([*TORCHRUN, *train_args(data_dir), "--out", str(run_dir)], env=job_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline, rank_1 = time.monotonic() + LAUNCH_TIMEOUT, None
        while not (run_dir / CHECKPOINT).exists() and time.monotonic() < deadline:
            rank_1 = rank_1 or worker_pid(launcher, 1)
            time.sleep(0.02)
        assert rank_1 and (run_dir / CHECKPOINT).exists(), "the job never finished an epoch"
        assert not (run_dir / "model.safetensors").exists(), "the job ended before rank 1 could be killed"
        os.kill(rank_1, signal.SIGKILL)  # as the out-of-memory killer would, in epoch 2 (or so)
        killed = time.monotonic()
        stdout, stderr = launcher.communicate(timeout=LAUNCH_TIMEOUT)
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
    assert time.monotonic() - killed < 60, "the job outlived its dead rank"
    assert launcher.returncode != 0
    output = stdout + stderr
    assert "Root Cause" in output and "Signal 9 (SIGKILL)" in output  # torchrun names the rank that died
    # rank 0 says how to go on, whether the broken connection or torchrun's SIGTERM reached it first
    assert f"continue with `torchrun --nproc-per-node 2 -m attire train --resume {run_dir}`" in output
    assert (run_dir / CHECKPOINT).exists() and not (run_dir / "model.safetensors").exists()

    resumed = torchrun("-m", "attire", "train", "--resume", str(run_dir), "--quiet", "--no-report",
                       cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming" in resumed.stdout
    _, cwd = two_process_run
    (whole_dir,) = (cwd / "runs").iterdir()
    whole = read_safetensors(whole_dir / "model.safetensors")[0]
    after_resume = read_safetensors(run_dir / "model.safetensors")[0]
    for key, value in whole.items():
        assert torch.equal(value, after_resume[key]), key


def test_resuming_with_another_number_of_processes_is_refused(tmp_path):
    config = resolve_config("fast", **{**TINY, "world_size": 2})
    (tmp_path / "config.json").write_text(config.to_json())
    with pytest.raises(ConfigError, match="trained by 2 process.*torchrun --nproc-per-node 2 -m attire train "
                                          "--resume"):
        train(None, resume=tmp_path, quiet=True, log=lambda *_: None)


def test_each_rank_takes_every_world_size_th_image():
    order = torch.randperm(103, generator=torch.Generator().manual_seed(0))
    shares = [shard_order(order, rank, 4) for rank in range(4)]
    assert len({len(share) for share in shares}) == 1                    # as many steps on every rank
    assert set(torch.cat(shares).tolist()) == set(range(103))            # every image, 1 of them twice
    assert len(torch.cat(shares)) == 104
    batch = 5  # step s of all ranks together: the batch one process with 4 × 5 images would take
    together = torch.stack([share[batch:2 * batch] for share in shares], 1).flatten()
    assert torch.equal(together, order[4 * batch:8 * batch])
    assert torch.equal(shard_order(order, 0, 1), order)


def test_linear_lr_scaling_is_stated_and_can_be_turned_off():
    config = config_from_dict({**resolve_config("fast").to_dict(), "world_size": 2, "batch_size": 256,
                               "lr": 0.004})
    assert peak_lr(config) == 2 * config.lr
    assert describe_scaling(config) == "2 processes: effective batch 512 = 2 × 256, lr 0.008 = 0.004 × 2"
    off = config_from_dict({**config.to_dict(), "lr_scaling": "none"})
    assert peak_lr(off) == off.lr and "lr_scaling none" in describe_scaling(off)
    assert peak_lr(resolve_config("fast")) == resolve_config("fast").lr  # one process: unchanged


def test_one_process_needs_no_process_group():
    assert distributed.world_size() == 1 and distributed.is_main()
    assert distributed.from_main("mine") == "mine"
    assert distributed.all_reduce_sum([1.5, 2], torch.device("cpu")) == [1.5, 2]
    model = torch.nn.Linear(2, 2)
    assert distributed.data_parallel(model) is model
    distributed.barrier()
    assert not distributed.is_peer_failure(RuntimeError("gloo: Connection reset by peer"))
