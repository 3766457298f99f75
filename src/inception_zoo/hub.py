"""Downloading published checkpoints: once, checked against what their source publishes, never hanging.

- A file on the Hugging Face Hub goes through ``huggingface_hub`` into the Hub's cache, where
  timm puts the same files: one timm downloaded is used as it is, and ``HF_HUB_OFFLINE``,
  ``HF_HUB_CACHE`` and ``HF_ENDPOINT`` are honoured. Each time it is used, the file is checked
  against the SHA-256 the Hub published for it (the cache names the file's blob by it).
  ``hf-hub:ORG/REPO[@REVISION]`` names a whole repository (``fetch_repo``): its weights file
  (``model.safetensors``, else ``pytorch_model.bin``: ours and timm's) and its ``config.json``.
- Any other URL goes to torch's hub cache (``torch.hub.get_dir()/checkpoints``), where
  torchvision and Cadene's pretrainedmodels put the same files under the same names. A download
  streams into a temporary file beside its destination, is checked against the SHA-256 prefix
  in its file name (torch.hub's convention) and only then renamed into place, so an interrupted
  or corrupt download never leaves a cache file behind; a cached file is checked again each
  time it is used. A file whose name carries no hash (facenet-pytorch's) cannot be checked.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import NamedTuple

import huggingface_hub.constants
import torch
from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url
from huggingface_hub.utils import EntryNotFoundError, LocalEntryNotFoundError

from ._files import atomic_output
from .errors import ArgumentError, DownloadError
from .models._metadata import WeightEntry, preprocessing_of_cfg

__all__ = ["HF_HUB", "RepoFiles", "cache_dir", "fetch", "fetch_repo", "parse_repo"]

HF_HUB = "hf-hub:"  # the prefix of a Hugging Face repository given as weights (timm's spelling)
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")  # a repository's weights, in order of preference

TIMEOUT_S = float(os.environ.get("INCEPTION_ZOO_DOWNLOAD_TIMEOUT", "15"))
_SHA256 = re.compile(r"[0-9a-f]{64}")


def cache_dir() -> Path:
    """Where direct downloads are kept: torch's hub cache."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def fetch(entry: WeightEntry, *, timeout: float = TIMEOUT_S) -> Path:
    """The local path of ``entry``'s file, checked, downloading it first if it is not cached."""
    if entry.hugging_face:
        return _fetch_from_hugging_face(entry, timeout)
    return _fetch_url(entry, timeout)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _check(tag: str, url: str, path: Path, expected: str, *, cached: bool) -> None:
    actual = _sha256(path)
    if actual.startswith(expected):
        return
    what = f"the cached file {path}" if cached else f"the file from {url}"
    then = "delete it to download it again" if cached else "it was not kept"
    raise DownloadError(
        f"{tag}: {what} has SHA-256 {actual[:16]}..., expected {expected[:16]}... as its source "
        f"publishes; {then}. The source may have changed, or the file is corrupt."
    )


def _offline_hint(url: str, where: str, *, cli: bool = False) -> str:
    give = "give its path with --weights" if cli else "pass its path as weights=..."
    return f"If this machine is offline, download {url} elsewhere and {give}, or {where}"


def _download_error(tag: str, url: str, reason: str, where: str) -> DownloadError:
    said = f"could not download {tag} from {url}: {reason}."
    return DownloadError(f"{said} {_offline_hint(url, where)}", cli=f"{said} {_offline_hint(url, where, cli=True)}")


def _fetch_url(entry: WeightEntry, timeout: float) -> Path:
    path = cache_dir() / entry.cache_name
    expected = entry.sha256_prefix
    if path.is_file():
        if expected:
            _check(entry.tag, entry.url, path, expected, cached=True)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        try:
            with open(tmp, "wb") as file, urllib.request.urlopen(entry.url, timeout=timeout) as response:
                while chunk := response.read(1 << 20):
                    file.write(chunk)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
            reason = f"HTTP {e.code} {e.reason}" if isinstance(e, urllib.error.HTTPError) else getattr(e, "reason", e)
            raise _download_error(entry.tag, entry.url, str(reason), f"copy it to {path}") from None
        if expected:
            _check(entry.tag, entry.url, tmp, expected, cached=False)
    return path


def _fetch_from_hugging_face(entry: WeightEntry, timeout: float) -> Path:
    repo, revision, file = entry.hugging_face
    return _hub_file(repo, file, revision, entry.tag, timeout)


def _hub_file(repo: str, file: str, revision: str | None, tag: str, timeout: float, *, check: bool = True) -> Path:
    """``file`` of ``repo`` from the Hub's cache, downloading it first if needed; checked against the Hub's
    SHA-256 (``check``: a weights file, which the Hub keeps in LFS). ``EntryNotFoundError`` if the
    repository has no such file."""
    path = _cached(repo, file, revision) or _download_from_hugging_face(repo, file, revision, tag, timeout)
    if not check:
        return path
    blob = Path(os.path.realpath(path))
    url = hf_hub_url(repo, file, revision=revision)
    if _SHA256.fullmatch(blob.name):
        _check(tag, url, path, blob.name, cached=True)
    else:  # a cache without links (Windows without developer mode) keeps no hash to check against
        warnings.warn(f"{tag}: {path} could not be checked (the cache keeps no hash for it)", stacklevel=4)
    return path


def _cached(repo: str, file: str, revision: str | None) -> Path | None:
    try:
        return Path(hf_hub_download(repo, file, revision=revision, local_files_only=True))
    except LocalEntryNotFoundError:
        return None


def _download_from_hugging_face(repo: str, file: str, revision: str | None, tag: str, timeout: float) -> Path:
    where = f"put it in the Hugging Face cache (hf download {repo} {file})"
    url = hf_hub_url(repo, file, revision=revision)
    if huggingface_hub.constants.HF_HUB_OFFLINE:
        raise _download_error(tag, url, "HF_HUB_OFFLINE is set and the file is not cached", where)
    try:
        # One quick request first: huggingface_hub retries an unreachable Hub for minutes; we say so at once.
        get_hf_file_metadata(url, timeout=timeout)
        return Path(hf_hub_download(repo, file, revision=revision, etag_timeout=timeout))
    except EntryNotFoundError:
        raise
    except Exception as e:  # huggingface_hub's own errors, and its HTTP client's
        raise _download_error(tag, url, str(e).splitlines()[0] if str(e) else type(e).__name__, where) from None


def parse_repo(weights: str) -> tuple[str, str | None]:
    """``"hf-hub:ORG/REPO[@REVISION]"`` -> ``(repo, revision)``."""
    spec = weights.removeprefix(HF_HUB)
    repo, _, revision = spec.partition("@")
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo) or (revision == "" and "@" in spec):
        raise ArgumentError(f"{weights!r} is not a Hugging Face repository: write {HF_HUB}ORG/NAME[@REVISION]")
    return repo, revision or None


class RepoFiles(NamedTuple):
    """A Hub repository's weights file, its ``config.json`` (``{}`` if none), and the weight entry they
    make (its preprocessing from the config's timm ``pretrained_cfg``, which ours and timm's carry)."""

    weights: Path
    config: dict
    entry: WeightEntry


def fetch_repo(weights: str, *, timeout: float = TIMEOUT_S) -> RepoFiles:
    """The files of the repository ``weights`` names (``hf-hub:ORG/REPO[@REVISION]``), the weights checked."""
    repo, revision = parse_repo(weights)
    cached = [file for file in WEIGHT_FILES if _cached(repo, file, revision)]  # offline, any one of them does
    for file in cached or WEIGHT_FILES:
        try:
            path = _hub_file(repo, file, revision, weights, timeout)
            break
        except EntryNotFoundError:
            continue
    else:
        raise DownloadError(f"{weights}: the repository has no weights file ({' or '.join(WEIGHT_FILES)})")
    try:
        config = json.loads(_hub_file(repo, "config.json", revision, weights, timeout, check=False).read_text())
    except EntryNotFoundError:
        config = {}
    entry = WeightEntry(
        tag=weights,
        url=hf_hub_url(repo, path.name, revision=revision),
        preprocessing=preprocessing_of_cfg(config.get("pretrained_cfg") or {}),
        num_classes=config.get("num_classes", 1000),
    )
    return RepoFiles(path, config, entry)
