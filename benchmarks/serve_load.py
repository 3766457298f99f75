"""Load and soak on the HTTP service, on 127.0.0.1 only: our /predict against the Open Inference
Protocol's infer, the same images and the same answer (top 5), in alternating rounds of one run.

Usage: python benchmarks/serve_load.py [--model googlenet] [--requests 10000] [--clients 16] [--rounds 4]
       [--warmup 500] [--markdown]

The server is ``inception-zoo serve`` in its own process (random weights saved to a temporary
file, so nothing is downloaded); the clients are httpx coroutines in this one, each sending a
JPEG, one request after another. /predict gets it as a raw body; infer as one binary BYTES
element with ``classification = 5`` asked of the probabilities (Triton's binary tensor and
classification extensions, as tritonclient sends them). Every answer is checked (status and
top-5 size); errors are counted, never retried. The server's memory is its proportional set size
(PSS, from /proc), after the warm-up and after each round.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import io
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import torch
from PIL import Image

import inception_zoo


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def jpeg(size: int, seed: int) -> bytes:
    torch.manual_seed(seed)
    buffer = io.BytesIO()
    Image.effect_noise((size * 4 // 3, size), 32 + seed).convert("RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def pss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no Pss in smaps_rollup")


def infer_body(image: bytes) -> tuple[bytes, dict]:
    size = {"binary_data_size": 4 + len(image)}
    header = json.dumps({
        "inputs": [{"name": "images", "datatype": "BYTES", "shape": [1], "parameters": size}],
        "outputs": [{"name": "probabilities", "parameters": {"classification": 5, "binary_data": False}}],
    }).encode()  # fmt: skip
    return header + struct.pack("<I", len(image)) + image, {"Inference-Header-Content-Length": str(len(header))}


class Endpoint:
    def __init__(self, name: str, path: str, images: list[bytes]):
        self.name, self.path = name, path
        if name == "predict":
            self.requests = [(image, {"content-type": "image/jpeg"}) for image in images]
        else:
            self.requests = [infer_body(image) for image in images]
        self.latencies: list[float] = []
        self.rates: list[float] = []
        self.errors = 0

    def answered(self, response: httpx.Response) -> bool:
        if response.status_code != 200:
            return False
        if self.name == "predict":
            return len(response.json()["predictions"]) == 5
        return response.json()["outputs"][0]["shape"] == [1, 5]


async def round_of(url: str, endpoint: Endpoint, clients: int, requests: int, record: bool = True) -> None:
    remaining, latencies = requests, []

    async def client(http: httpx.AsyncClient, offset: int) -> None:
        nonlocal remaining
        i = offset
        while remaining > 0:
            remaining -= 1
            body, headers = endpoint.requests[i % len(endpoint.requests)]
            i += clients
            start = time.perf_counter()
            try:
                ok = endpoint.answered(await http.post(endpoint.path, content=body, headers=headers))
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - start)
            endpoint.errors += not ok if record else 0

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http, k) for k in range(clients)))
        seconds = time.perf_counter() - started
    if record:
        endpoint.latencies += latencies
        endpoint.rates.append(len(latencies) / seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="googlenet")
    parser.add_argument("--requests", type=int, default=10_000, help="in all, half to each endpoint")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds per endpoint")
    parser.add_argument("--warmup", type=int, default=500, help="requests before memory is first measured")
    parser.add_argument("--max-batch-size", type=int, default=16)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()

    model = inception_zoo.create_model(args.model)
    name = model.name
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    images = [jpeg(model.preprocessing.input_size[-1] * 2, seed) for seed in range(8)]
    endpoints = [Endpoint("predict", "/predict", images), Endpoint("infer", f"/v2/models/{name}/infer", images)]
    per_round = args.requests // (2 * args.rounds)
    with tempfile.TemporaryDirectory() as tmp:
        weights = inception_zoo.save_weights(model, Path(tmp) / "model.safetensors")
        command = [sys.executable, "-m", "inception_zoo", "serve", "--weights", str(weights), "--host", "127.0.0.1",
                   "--port", str(port), "--max-batch-size", str(args.max_batch_size),
                   "--max-wait-ms", str(args.max_wait_ms)]  # fmt: skip
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(1200):
                try:
                    if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            else:
                raise RuntimeError("the server did not start")
            for endpoint in endpoints:
                asyncio.run(round_of(url, endpoint, args.clients, args.warmup // 2, record=False))
            memory = [pss_mib(server.pid)]
            started = time.perf_counter()
            for _ in range(args.rounds):
                for endpoint in endpoints:
                    asyncio.run(round_of(url, endpoint, args.clients, per_round))
                memory.append(pss_mib(server.pid))
            soak_seconds = time.perf_counter() - started
            served = httpx.get(f"{url}/info").json()["models"][name]["served"]
        finally:
            server.terminate()
            server.wait(timeout=60)
    exit_code = server.returncode

    total = sum(len(e.latencies) for e in endpoints)
    growth = memory[-1] / memory[0] - 1
    print(
        f"{datetime.date.today().isoformat()}; {name}, random weights; torch {torch.__version__}; "
        f"{os.cpu_count()} CPU cores; {args.clients} clients; max batch {args.max_batch_size}, max wait "
        f"{args.max_wait_ms} ms; {total:,} requests in {soak_seconds / 60:.1f} min after {args.warmup} to warm up; "
        f"the server ran {served['images']:,} images in {served['batches']:,} batches and exited {exit_code} on SIGTERM"
    )
    print(
        f"server PSS: {memory[0]:.0f} MiB after warm-up, {memory[-1]:.0f} MiB at the end ({100 * growth:+.1f}%; "
        f"after each round: {', '.join(f'{m:.0f}' for m in memory[1:])})"
    )
    header = ["endpoint", "requests", "errors", "requests/s (median, range over rounds)", "p50 ms", "p99 ms"]
    rows = []
    for endpoint in endpoints:
        cuts = statistics.quantiles(endpoint.latencies, n=100)
        rates = endpoint.rates
        rows.append([
            endpoint.path.replace(name, "{name}"), f"{len(endpoint.latencies):,}", str(endpoint.errors),
            f"{statistics.median(rates):.1f} ({min(rates):.1f}-{max(rates):.1f})", f"{cuts[49] * 1000:.0f}",
            f"{cuts[98] * 1000:.0f}",
        ])  # fmt: skip
    ratios = [b / a for a, b in zip(endpoints[0].rates, endpoints[1].rates, strict=True)]
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(c) for c in column) for column in zip(header, *rows, strict=True)]
        for row in [header, *rows]:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    print(
        f"infer / predict throughput: {statistics.median(ratios):.3f} (range {min(ratios):.3f}-{max(ratios):.3f}, "
        f"round by round)"
    )
    return 0 if all(e.errors == 0 for e in endpoints) else 1


if __name__ == "__main__":
    raise SystemExit(main())
