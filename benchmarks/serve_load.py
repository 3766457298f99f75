"""Load on the HTTP service, on 127.0.0.1 only: requests/s and latency percentiles per number of clients.

Usage: python benchmarks/serve_load.py [--model googlenet] [--clients 1 8 32] [--requests 96] [--markdown]

The server is ``inception-zoo serve`` in its own process (random weights saved to a temporary
file, so nothing is downloaded); the clients are httpx coroutines in this one, each sending the
same JPEG as a raw body, one request after another, until ``--requests`` are answered (a
bounded loop). Latency is measured per request, from send to the parsed answer.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image

import inception_zoo


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def jpeg(size: int) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((size * 4 // 3, size), 64).convert("RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


async def load(url: str, body: bytes, clients: int, requests: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    remaining = requests

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            start = time.perf_counter()
            response = await http.post("/predict", content=body, headers={"content-type": "image/jpeg"})
            response.raise_for_status()
            response.json()
            latencies.append(time.perf_counter() - start)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        await http.post("/predict", content=body)  # warm-up
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        return time.perf_counter() - started, latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="googlenet")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--requests", type=int, default=96, help="per number of clients")
    parser.add_argument("--max-batch-size", type=int, default=16)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()

    model = inception_zoo.create_model(args.model)
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        weights = inception_zoo.save_weights(model, Path(tmp) / "model.safetensors")
        command = [sys.executable, "-m", "inception_zoo", "serve", "--weights", str(weights), "--host", "127.0.0.1",
                   "--port", str(port), "--max-batch-size", str(args.max_batch_size),
                   "--max-wait-ms", str(args.max_wait_ms)]  # fmt: skip
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                raise RuntimeError("the server did not start")
            body = jpeg(model.preprocessing.input_size[-1] * 2)
            rows = []
            for clients in args.clients:
                seconds, latencies = asyncio.run(load(url, body, clients, args.requests))
                cuts = statistics.quantiles(latencies, n=100)
                rows.append([clients, len(latencies) / seconds, cuts[49] * 1000, cuts[98] * 1000])
            served = httpx.get(f"{url}/info").json()["served"]
        finally:
            server.terminate()
            server.wait(timeout=30)

    print(
        f"# {args.model}, random weights, {os.cpu_count()} CPUs, max batch {args.max_batch_size}, max wait "
        f"{args.max_wait_ms} ms; the server ran {served['images']} images in {served['batches']} batches"
    )
    header = ["clients", "requests/s", "p50 latency (ms)", "p99 latency (ms)"]
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for clients, rate, p50, p99 in rows:
            print(f"| {clients} | {rate:.1f} | {p50:.0f} | {p99:.0f} |")
    else:
        print("  ".join(header))
        for clients, rate, p50, p99 in rows:
            print(f"{clients:>7}  {rate:>10.1f}  {p50:>16.0f}  {p99:>16.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
