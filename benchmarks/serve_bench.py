"""Serving benchmark: requests/s and latency of single-image POST /v1/predict against a real server.

Starts `python -m attire serve` on 127.0.0.1 (a free port) and sends it one image per
request from client threads using keep-alive http.client connections (light on CPU, so
the client takes little from the server on a small machine). Scenarios: a 28×28 PNG
(what the page's random-sample button sends) and a 1600×1200 JPEG photo, each from one
client (latency) and from several at once (throughput, where the server's Batcher
groups requests). Every request must answer 200; a failure is counted, never hidden.

    python benchmarks/serve_bench.py                  # 3 repeats, the shipped model
    python benchmarks/serve_bench.py --smoke          # a few requests, to check the harness
    python benchmarks/serve_bench.py --model runs/X   # another model

In `make bench` (section `serve`), run.py runs this file as one process, which prints its
table and a `RESULT {json}` line; `benchmark(repeats, smoke, model)` measures in-process.
Without the shipped pretrained model, and without --model, it serves an untrained cnn of
the default size: the same computation per image, so the same speed, but random answers.
"""

import argparse
import http.client
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
from PIL import Image

from common import REPO, Bench, Section, attire_env, fmt, markdown_table, median, process_table, run_script

SECTION = "serve"
STARTUP_S = 180
# (name, image kind, concurrent clients, requests per repeat, smoke requests)
SCENARIOS = [
    ("28×28 PNG, 1 client", "png", 1, 500, 20),
    ("28×28 PNG, 16 clients", "png", 16, 2000, 64),
    ("1600×1200 JPEG photo, 1 client", "photo", 1, 100, 5),
    ("1600×1200 JPEG photo, 4 clients", "photo", 4, 200, 8),
]


# ---------------------------------------------------------------- inputs

def test_image() -> np.ndarray:
    """A real Fashion-MNIST test image where the data is installed, else a synthetic one."""
    sys.path.insert(0, str(REPO))
    try:
        from attire.data import load_data
        _, (images, _) = load_data(progress=False)
        return images[0]
    except Exception:  # no data here: the speed does not depend on which image it is
        image = np.zeros((28, 28), np.uint8)
        image[4:24, 8:20] = 180
        return image


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def payloads() -> dict[str, bytes]:
    small = test_image()
    garment = Image.fromarray(255 - small).resize((900, 900), Image.Resampling.BICUBIC)  # dark on white
    photo = Image.new("L", (1600, 1200), 255)
    photo.paste(garment, (350, 150))
    noise = np.random.default_rng(0).normal(0, 4, (1200, 1600, 3))
    photo = Image.fromarray(np.clip(np.asarray(photo.convert("RGB")) + noise, 0, 255).astype(np.uint8))
    return {"png": encode(Image.fromarray(small), "PNG"), "photo": encode(photo, "JPEG", quality=90)}


def multipart(data: bytes, filename: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            f"Content-Type: image/{'png' if filename.endswith('png') else 'jpeg'}\r\n\r\n").encode() \
        + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


# ---------------------------------------------------------------- the server

def untrained_model(directory: Path) -> Path:
    sys.path.insert(0, str(REPO))
    from attire.checkpoint import save_model
    from attire.data import CLASS_NAMES
    from attire.models import create_model
    path = directory / "untrained-cnn.safetensors"
    save_model(path, create_model("cnn"), "cnn", {}, class_names=list(CLASS_NAMES),
               config={"preset": "untrained"}, metrics={})
    return path


def start_server(model: Path | None) -> tuple[subprocess.Popen, str, str]:
    command = [sys.executable, "-m", "attire", "serve", "--host", "127.0.0.1", "--port", "0", "--no-access-log"]
    if model:
        command += ["--model", str(model)]
    env = {**os.environ, **attire_env()}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.monotonic() + STARTUP_S
    lines = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        found = re.search(r"serving (.*?) at http://127\.0\.0\.1:(\d+)/", line)
        if found:
            threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()  # drain
            wait_healthy(found.group(2))
            return process, found.group(2), found.group(1)
    process.kill()
    raise RuntimeError("attire serve did not start:\n" + "".join(lines))


def wait_healthy(port: str) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", int(port), timeout=5)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("attire serve never answered /healthz")


def stop_server(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# ---------------------------------------------------------------- the load

def send(port: str, body: bytes, content_type: str, n_requests: int, n_clients: int) -> tuple[float, list, int]:
    """(wall seconds, latencies in seconds, failures) for n_requests spread over n_clients threads."""
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    counts = [n_requests // n_clients + (i < n_requests % n_clients) for i in range(n_clients)]

    def client(count: int):
        connection = http.client.HTTPConnection("127.0.0.1", int(port), timeout=60)
        mine, failed = [], 0
        for _ in range(count):
            start = time.perf_counter()
            try:
                connection.request("POST", "/v1/predict", body, {"Content-Type": content_type})
                response = connection.getresponse()
                response.read()
                failed += response.status != 200
            except (OSError, http.client.HTTPException):
                failed += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", int(port), timeout=60)
            mine.append(time.perf_counter() - start)
        connection.close()
        with lock:
            latencies.extend(mine)
            failures[0] += failed

    threads = [threading.Thread(target=client, args=(count,)) for count in counts]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, latencies, failures[0]


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def benchmark(repeats: int = 3, smoke: bool = False, model: str | Path | None = None) -> list[dict]:
    """One row per scenario: the median requests/s over `repeats`, latencies over all of them."""
    sys.path.insert(0, str(REPO))
    from attire.pretrained import DEFAULT_MODEL
    images = payloads()
    with tempfile.TemporaryDirectory() as scratch:
        note = ""
        if model is None and not DEFAULT_MODEL.is_file():
            model, note = untrained_model(Path(scratch)), "untrained cnn (no shipped model yet)"
        process, port, description = start_server(model and Path(model))
        try:
            rows = []
            for name, kind, n_clients, n_requests, n_smoke in SCENARIOS:
                body, content_type = multipart(images[kind], f"image.{'png' if kind == 'png' else 'jpg'}")
                n = n_smoke if smoke else n_requests
                send(port, body, content_type, min(n, 4 * n_clients), n_clients)  # warm up
                rates, latencies, failures = [], [], 0
                for _ in range(repeats):
                    seconds, times, failed = send(port, body, content_type, n, n_clients)
                    rates.append(n / seconds)
                    latencies += times
                    failures += failed
                latencies.sort()
                rows.append({"scenario": name, "clients": n_clients, "requests": n,
                             "repeats": repeats, "upload_bytes": len(images[kind]),
                             "requests_per_s": median(rates),
                             "p50_ms": 1000 * percentile(latencies, 0.50),
                             "p99_ms": 1000 * percentile(latencies, 0.99),
                             "failures": failures, "model": note or description})
            return rows
        finally:
            stop_server(process)


# ---------------------------------------------------------------- the section, as run.py calls it

def run(bench: Bench) -> Section:
    args = ["--repeats", str(bench.repeats)]
    args += ["--model", str(bench.attire_model)] if bench.attire_model else []
    args += ["--smoke"] if bench.smoke else []
    print("serve: attire serve on 127.0.0.1 ...", flush=True)
    outcome = run_script(bench, SECTION, "serve", "serve_bench.py", args)
    rows = outcome.result.get("rows", [])
    print("  " + ("ok" if outcome.ok else f"FAILED: {outcome.error}"), flush=True)
    notes = notes_for(rows)
    if bench.smoke:
        notes.append("SMOKE RUN: a few requests per scenario; figures mean nothing.")
    return Section("Serving: single-image requests to `attire serve` on 127.0.0.1",
                   summary_table(rows) if rows else [["scenario"], ["failed: see the process below"]],
                   process_table([outcome]), notes, failures=int(not outcome.ok))


def summary_table(rows: list[dict]) -> list[list[str]]:
    table = [["scenario", "upload KB", "requests", "requests/s, median", "p50 ms", "p99 ms", "failed"]]
    for row in rows:
        table.append([row["scenario"], fmt(row["upload_bytes"] / 1000, ",.1f"),
                      f"{row['repeats']} × {row['requests']:,}", fmt(row["requests_per_s"], ",.0f"),
                      fmt(row["p50_ms"], ".1f"), fmt(row["p99_ms"], ".1f"), str(row["failures"])])
    return table


def notes_for(rows: list[dict]) -> list[str]:
    if not rows:
        return []
    return [f"Model: {rows[0]['model']}. Client and server share the machine's "
            f"{os.cpu_count()} cores; the client uses keep-alive connections, one thread per "
            "client. Latencies: over every request of every repeat, after a warm-up."]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each scenario (default: 3)")
    parser.add_argument("--smoke", action="store_true", help="a few requests per scenario, to check the harness")
    parser.add_argument("--model", help="run directory or model file (default: the shipped pretrained model)")
    args = parser.parse_args()
    results = benchmark(args.repeats, args.smoke, args.model)
    print(markdown_table(summary_table(results)), *notes_for(results), sep="\n\n")
    print("RESULT " + json.dumps({"rows": results}), flush=True)
    failed = sum(row["failures"] for row in results)
    if failed:  # last, so that the harness quotes it
        print(f"serve_bench: {failed} request(s) failed", flush=True)
    sys.exit(1 if failed else 0)
