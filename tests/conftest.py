"""Helpers shared by the tests: reference models with randomised statistics, saved to files; a
loopback Hugging Face Hub."""

from __future__ import annotations

import hashlib
import http.server
import struct
import threading
import warnings
import zlib
from pathlib import Path

import pytest
import torch
from torch import nn


def randomize_batchnorm(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BatchNorm non-trivial statistics and affine terms, so that parity means something."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.2)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=gen) * 0.2)
    return model.eval()


def fid_reference_weights(path: Path) -> Path:
    """Random weights of the FID network (the 2015 graph, 1008 classes) in pytorch-fid's and torch-fidelity's
    file layout, with BatchNorm statistics measured on a batch so that activations stay of order 1 as with
    trained weights, and logits of a few units (no class with probability 0)."""
    import torchvision

    torch.manual_seed(0)
    network = torchvision.models.inception_v3(num_classes=1008, aux_logits=False, init_weights=True)
    for module in network.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.momentum = None  # the batch's own statistics
    with torch.no_grad():
        network.train()(torch.rand(6, 3, 299, 299) * 2 - 1)
        network.fc.weight.mul_(0.01)
    torch.save(network.eval().state_dict(), path)
    return path


def max_relative_error(ours: torch.Tensor, reference: torch.Tensor) -> float:
    return ((ours - reference).abs().max() / reference.abs().max()).item()


def save_checkpoint(state_dict: dict, path: Path) -> Path:
    """Save as the references do: a pickle of tensors, or safetensors for ``.safetensors``."""
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state_dict.items()}, path)
    else:
        torch.save(state_dict, path)
    return path


@pytest.fixture(autouse=True)
def _quiet_reference_warnings():
    # torchvision's GoogLeNet warns about its init scheme; not our concern here.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        yield


def one_of_each_kind() -> list[str]:
    """The cheapest registered network of each kind: each model class, and each variant table of
    a class (GoogLeNet's two); the 32x32 profiles and the other sizes are built from the same blocks."""
    from inception_zoo.catalog import catalog
    from inception_zoo.models._zoo import registered

    cheapest: dict[tuple, str] = {}
    for row in sorted(catalog(), key=lambda row: row["gmacs"]):
        registration = registered(row["name"])
        if not registration.fixed.get("small_input"):
            cheapest.setdefault((registration.model_class, registration.fixed.get("variant")), row["name"])
    return sorted(cheapest.values())


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG that declares a huge image: its header is all that may be read."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 1000)  # far too little data for the declared size
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


class _FakeHub(http.server.BaseHTTPRequestHandler):
    """The Hugging Face Hub's resolve endpoint: ``files`` maps ``ORG/NAME/FILE`` (any revision) to its
    bytes; each answer carries the commit and the SHA-256 the Hub publishes for the file
    (``X-Linked-Etag``: the bytes' own, unless ``published_hash`` says otherwise, to test the check).
    A missing file is a 404 with the Hub's ``EntryNotFound`` code."""

    files: dict[str, bytes] = {}
    published_hash: str | None = None

    def log_message(self, *args):
        pass

    def _file(self) -> bytes | None:
        repo, _, rest = self.path.split("?")[0].lstrip("/").partition("/resolve/")
        return self.files.get(f"{repo}/{rest.partition('/')[2]}")

    def _headers(self, data: bytes | None) -> None:
        if data is None:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        etag = self.published_hash or hashlib.sha256(data).hexdigest()
        self.send_response(200)
        self.send_header("X-Repo-Commit", "0" * 40)
        self.send_header("X-Linked-Etag", f'"{etag}"')
        self.send_header("ETag", f'"{etag}"')
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()

    def do_HEAD(self):
        self._headers(self._file())

    def do_GET(self):
        data = self._file()
        self._headers(data)
        if data is not None:
            self.wfile.write(data)


@pytest.fixture
def fake_hub(tmp_path, monkeypatch):
    """A loopback Hugging Face Hub and an empty Hugging Face cache; yields the handler class to fill."""
    import huggingface_hub.constants

    handler = type("Hub", (_FakeHub,), {"files": {}})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(
        huggingface_hub.constants, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    yield handler
    server.shutdown()
    server.server_close()
