"""The service's Prometheus metrics (prometheus-client), one registry per app.

Requests are counted by route template (``/v2/models/{name}/infer``, not each model's path) and
status, so that a client probing random paths cannot grow the number of series.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..errors import needs_extra

with needs_extra("serve", "the HTTP service"):
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "MetricsMiddleware"]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"})
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    """The counters, histograms and gauges of one app, in a registry of its own (two apps in one
    process, as in tests, do not share or clash)."""

    def __init__(self, max_batch_size: int):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "inception_zoo_requests", "HTTP requests answered, by route and status",
            ["endpoint", "method", "status"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "inception_zoo_request_duration_seconds", "Time from a request's arrival to its answer, by route",
            ["endpoint"], buckets=_LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        sizes = sorted({1, max_batch_size, *(2**i for i in range(max_batch_size.bit_length()))} - {0})
        self.batch_size = Histogram(
            "inception_zoo_batch_size", "Images per model call", ["model"],
            buckets=[s for s in sizes if s <= max_batch_size], registry=self.registry,
        )  # fmt: skip
        self.model_seconds = Histogram(
            "inception_zoo_model_duration_seconds", "Time of one model call (one batch)", ["model"],
            buckets=_LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.queue_depth = Gauge(
            "inception_zoo_queue_depth", "Images waiting for the model", ["model"], registry=self.registry
        )
        self.load_seconds = Gauge(
            "inception_zoo_model_load_seconds", "Time to prepare the model for serving", ["model"],
            registry=self.registry,
        )  # fmt: skip

    def add_model(self, name: str, load_seconds: float, waiting: Callable[[], int]) -> Callable[[int, float], None]:
        """Registers a served model; returns the callback its batcher calls after every batch."""
        self.load_seconds.labels(name).set(load_seconds)
        self.queue_depth.labels(name).set_function(waiting)
        sizes, seconds = self.batch_size.labels(name), self.model_seconds.labels(name)

        def on_batch(size: int, duration: float) -> None:
            sizes.observe(size)
            seconds.observe(duration)

        return on_batch

    def text(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Pure ASGI middleware: counts and times every HTTP request, whatever ends it."""

    def __init__(self, app, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), 500

        async def send_and_note(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in _METHODS else "other"  # clients choose methods
            self.metrics.requests.labels(endpoint, method, str(status)).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - start)
