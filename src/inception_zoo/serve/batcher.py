"""Dynamic batching: single images in, one model call per batch, off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import torch
from torch import nn

from .limits import Limits

__all__ = ["Batcher"]


class Batcher:
    """Collects preprocessed images into batches; one thread runs the model so the event loop stays free.

    The first image of a batch waits at most ``limits.max_wait_ms`` for company, up to
    ``limits.max_batch_size`` images. ``on_batch(size, seconds)`` is told of every model call.
    """

    def __init__(self, model: nn.Module, limits: Limits, on_batch: Callable[[int, float], None] | None = None):
        self.model, self.limits, self.on_batch = model, limits, on_batch
        self.queue: asyncio.Queue | None = None
        self.executor: ThreadPoolExecutor | None = None
        self.task: asyncio.Task | None = None
        self.batches = self.images = 0
        self.waiting = 0  # images accepted and not yet given to the model (queued, or in a batch forming)

    def start(self) -> None:
        """Each start (an app may be served more than once) gets its own queue and model thread."""
        self.queue = asyncio.Queue()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if self.executor is not None:
            self.executor.shutdown(wait=False)

    async def logits(self, image: torch.Tensor) -> torch.Tensor:
        """The model's float32 logits for one preprocessed CHW image."""
        future = asyncio.get_running_loop().create_future()
        self.waiting += 1
        await self.queue.put((image, future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            deadline = loop.time() + self.limits.max_wait_ms / 1000
            while len(batch) < self.limits.max_batch_size:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self.queue.get(), timeout))
                except TimeoutError:
                    break
            self.waiting -= len(batch)
            batch = [(image, future) for image, future in batch if not future.cancelled()]  # clients gone
            if not batch:
                continue
            try:
                logits = await loop.run_in_executor(self.executor, self._forward, [i for i, _ in batch])
                if len(logits) != len(batch):
                    raise RuntimeError(f"the model answered {len(logits)} rows for a batch of {len(batch)}")
            except Exception as e:  # a failed batch fails its requests, never the batcher
                for _, future in batch:
                    if not future.done():
                        future.set_exception(e)
                continue
            self.batches, self.images = self.batches + 1, self.images + len(batch)
            for (_, future), row in zip(batch, logits, strict=True):
                if not future.done():
                    future.set_result(row)

    def _forward(self, images: list[torch.Tensor]) -> torch.Tensor:
        start = time.perf_counter()
        with torch.inference_mode():
            logits = self.model(torch.stack(images)).float()
        if self.on_batch is not None:
            self.on_batch(len(images), time.perf_counter() - start)
        return logits
