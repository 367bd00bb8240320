"""`attire serve` as a real process on 127.0.0.1: answers over HTTP, a bounded load test, CLI errors."""

import asyncio
import socket
import time
from collections import Counter

import httpx
import pytest

from attire.data import CLASS_NAMES
from conftest import run_cli
from serve_fixtures import ServerProcess, labelled_images, png, server, tiny_model  # noqa: F401 (fixtures)

N_CLIENTS = 50
N_REQUESTS = 2000
LOAD_TIME_LIMIT_S = 300  # a hard stop; 2 shared cores do it in well under a minute when idle
BAD_EVERY = 10           # one request in ten is a bad upload


def test_the_server_prints_its_url_and_answers(server, labelled_images):
    banner = next(line for line in server.output if line.startswith("attire: serving"))
    assert f"at {server.url}/" in banner and "cnn (preset fast" in banner and f"{server.url}/docs" in banner
    images, labels = labelled_images
    response = httpx.post(f"{server.url}/v1/predict", params={"top_k": 2},
                          files=[("file", (f"{i}.png", png(image), "image/png")) for i, image in enumerate(images)])
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert [p["class_index"] for p in predictions] == labels.tolist()
    assert [p["label"] for p in predictions] == [CLASS_NAMES[k] for k in labels]
    assert all(len(p["top_k"]) == 2 for p in predictions)

    raw = httpx.post(f"{server.url}/v1/predict", content=png(images[3]), headers={"Content-Type": "image/png"})
    assert raw.json()["predictions"][0]["class_index"] == labels[3]
    assert httpx.get(f"{server.url}/v1/model").json()["name"] == "cnn"
    bad = httpx.post(f"{server.url}/v1/predict", files={"file": ("x.txt", b"hi", "text/plain")})
    assert bad.status_code == 415 and bad.json()["error"]["code"] == "unsupported_type"


def bad_uploads() -> list[tuple[dict, int]]:
    """(httpx.post keyword arguments, expected status) for uploads the server must refuse."""
    return [
        ({"files": {"file": ("junk.png", b"not an image", "image/png")}}, 400),
        ({"files": {"file": ("notes.txt", b"hello", "text/plain")}}, 415),
        ({"files": {"image": ("a.png", b"...", "image/png")}}, 422),
        ({"content": b"\0" * (2**20 + 1), "headers": {"Content-Type": "image/png"}}, 413),  # over --max-upload-mb 1
        ({"params": {"top_k": 99}, "files": {"file": ("a.png", b"...", "image/png")}}, 422),
    ]


def test_load_with_bad_requests_mixed_in_has_no_errors(server, labelled_images):
    images, labels = labelled_images
    good = [(png(image), int(label)) for image, label in zip(images, labels)]
    bad = bad_uploads()
    outcomes: Counter = Counter()
    latencies: list[float] = []

    async def client_loop(client: httpx.AsyncClient, worker: int):
        for i in range(worker, N_REQUESTS, N_CLIENTS):
            start = time.perf_counter()
            if i % BAD_EVERY == BAD_EVERY - 1:
                kwargs, expected = bad[(i // BAD_EVERY) % len(bad)]
                response = await client.post("/v1/predict", **kwargs)
                outcomes["bad refused" if response.status_code == expected
                         else f"bad got {response.status_code}"] += 1
                assert "error" in response.json()
            else:
                data, label = good[i % len(good)]
                response = await client.post("/v1/predict", files={"file": (f"{i}.png", data, "image/png")})
                right = response.status_code == 200 and response.json()["predictions"][0]["class_index"] == label
                outcomes["good answered" if right else f"good got {response.status_code}"] += 1
                latencies.append(time.perf_counter() - start)

    async def load():
        limits = httpx.Limits(max_connections=N_CLIENTS, max_keepalive_connections=N_CLIENTS)
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60) as client:
            await asyncio.wait_for(asyncio.gather(*(client_loop(client, w) for w in range(N_CLIENTS))),
                                   LOAD_TIME_LIMIT_S)

    start = time.perf_counter()
    asyncio.run(load())
    seconds = time.perf_counter() - start
    n_bad = N_REQUESTS // BAD_EVERY
    assert outcomes == {"good answered": N_REQUESTS - n_bad, "bad refused": n_bad}, outcomes
    latencies.sort()
    print(f"\n{N_REQUESTS} requests from {N_CLIENTS} clients in {seconds:.1f} s ({N_REQUESTS / seconds:.0f}/s); "
          f"good ones p50 {latencies[len(latencies) // 2] * 1000:.0f} ms, "
          f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.0f} ms")
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    assert server.process.poll() is None and "Traceback" not in "".join(server.output)


def test_several_workers_serve_and_ctrl_c_stops_them_cleanly(tiny_model, labelled_images):
    images, labels = labelled_images
    process = ServerProcess("--model", str(tiny_model), "--workers", "2", "--no-access-log")
    try:
        for image, label in zip(images[:6], labels[:6]):
            response = httpx.post(f"{process.url}/v1/predict", files={"file": ("a.png", png(image), "image/png")})
            assert response.json()["predictions"][0]["class_index"] == label
    finally:
        output = process.stop()
    assert process.process.returncode == 0, output
    assert "Traceback" not in output and output.count("Finished server process") >= 2, output


def test_a_bad_model_is_reported_before_serving(tmp_path):
    result = run_cli("serve", "--model", str(tmp_path / "missing.safetensors"), "--port", "0", timeout=120)
    assert result.returncode == 1
    assert result.stderr.startswith("attire: error: model") and "not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_busy_port_is_a_clear_error(tiny_model):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("serve", "--model", str(tiny_model), "--port", str(port), timeout=120)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "--port" in result.stderr


@pytest.mark.parametrize("flags, message", [(["--max-upload-mb", "50"], "at most 20 MB"),
                                            (["--workers", "0"], "--workers must be 1 or more")])
def test_bad_flags_are_clear_errors(tiny_model, flags, message):
    result = run_cli("serve", "--model", str(tiny_model), "--port", "0", *flags, timeout=120)
    assert result.returncode == 1 and message in result.stderr, result.stderr
