"""Published weights: entries, downloads, our own format, adapting to the task."""

from __future__ import annotations

import dataclasses
import functools
import http.server
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import inception_zoo
from conftest import max_relative_error, randomize_batchnorm, save_checkpoint
from inception_zoo import create_model, list_models, load_model, model_info, save_weights, transforms_for
from inception_zoo.data import preprocessing_for
from inception_zoo.errors import DownloadError
from inception_zoo.hub import fetch
from inception_zoo.models import _registry

timm = pytest.importorskip("timm")
torchvision = pytest.importorskip("torchvision")

ENTRIES = [(name, entry) for name in list_models() for entry in model_info(name).weights]


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """An empty torch hub cache, so that nothing of the user's is read or written."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "hub" / "checkpoints"


@pytest.fixture(scope="module")
def image() -> Image.Image:
    y, x = np.mgrid[0:300, 0:380]
    rgb = np.stack([(x * 0.6) % 256, (y * 0.7) % 256, ((x + y) * 0.3) % 256], axis=-1)
    return Image.fromarray(rgb.astype(np.uint8))


@pytest.fixture
def file_server(tmp_path):
    """A loopback HTTP server over a folder; yields (folder, base URL)."""
    root = tmp_path / "served"
    root.mkdir()

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_every_network_with_public_weights_has_entries():
    with_weights = {name for name, _ in ENTRIES}
    assert {
        "googlenet",
        "inception_v3",
        "inception_v4",
        "inception_resnet_v2",
        "bn_inception",
        "xception",
    } <= with_weights
    assert {"inception_resnet_v1", "inception_next_tiny", "xception65"} <= with_weights


@pytest.mark.parametrize("name, entry", ENTRIES, ids=[f"{n}-{e.tag}" for n, e in ENTRIES])
def test_entry_is_complete(name, entry):
    source, _, rest = entry.tag.partition(":")
    assert source in {"torchvision", "timm", "cadene", "facenet", "pytorch-fid", "torch-fidelity"} and rest
    assert entry.url.startswith(("https://", "http://")) and entry.cache_name
    assert entry.metrics_source or entry.labels == "none"  # the FID network: no classes to be accurate on
    if entry.labels == "imagenet-1k":
        assert 60 < entry.top1 < 90 and entry.top1 < entry.top5 < 100
    preprocessing_for(name, entry)  # valid values
    tags = model_info(name).weight_tags
    assert len(tags) == len(set(tags))


TIMM_ENTRIES = [(n, e) for n, e in ENTRIES if e.tag.startswith("timm:")]


@pytest.mark.parametrize("name, entry", TIMM_ENTRIES, ids=[e.tag for _, e in TIMM_ENTRIES])
def test_timm_entries_carry_timms_own_preprocessing(name, entry):
    cfg = timm.models.get_pretrained_cfg(entry.tag.removeprefix("timm:"))
    ours = preprocessing_for(name, entry)
    assert ours.input_size == tuple(cfg.input_size)
    assert ours.crop_pct == pytest.approx(cfg.crop_pct)
    assert ours.interpolation == cfg.interpolation
    assert ours.mean == pytest.approx(cfg.mean) and ours.std == pytest.approx(cfg.std)
    expected_url = (
        f"https://huggingface.co/{cfg.hf_hub_id}/resolve/main/model.safetensors" if cfg.hf_hub_id else cfg.url
    )
    assert entry.url == expected_url


def cached_as(tag: str, name: str, state_dict: dict, hub_cache, monkeypatch) -> None:
    """``state_dict`` in torch's hub cache as the file of ``name``'s ``tag``, as if torchvision had
    downloaded it. Its random weights are not the published file, so the entry is renamed after the
    file's own hash (torch.hub's convention), which is checked."""
    import hashlib

    hub_cache.mkdir(parents=True, exist_ok=True)
    path = save_checkpoint(state_dict, hub_cache / "random.pth")
    registration = _registry.registered(name)
    entry = registration.card.weight_entry(tag)
    stem = entry.cache_name.rsplit("-", 1)[0]
    renamed = f"{stem}-{hashlib.sha256(path.read_bytes()).hexdigest()[:8]}.pth"
    path.rename(hub_cache / renamed)
    entry = dataclasses.replace(entry, url=entry.url.rsplit("/", 1)[0] + "/" + renamed)
    weights = tuple(entry if e.tag == tag else e for e in registration.card.weights)
    card = dataclasses.replace(registration.card, weights=weights)
    monkeypatch.setitem(_registry._REGISTRY, name, dataclasses.replace(registration, card=card))


@pytest.mark.parametrize(
    "name, make_reference, weights_enum",
    [
        (
            "googlenet",
            lambda: torchvision.models.googlenet(init_weights=True, transform_input=True),
            "GoogLeNet_Weights",
        ),
        (
            "inception_v3",
            lambda: torchvision.models.inception_v3(init_weights=True, transform_input=True),
            "Inception_V3_Weights",
        ),
    ],
)
def test_torchvision_weights_end_to_end(hub_cache, monkeypatch, image, name, make_reference, weights_enum):
    """Image -> our transforms -> our model equals image -> torchvision's preset -> its model with
    transform_input: the same arithmetic, expressed as preprocessing instead of hidden in forward."""
    reference = randomize_batchnorm(make_reference())
    tv_weights = getattr(torchvision.models, weights_enum).IMAGENET1K_V1
    entry = model_info(name).weight_entry("torchvision:IMAGENET1K_V1")
    assert entry.url == tv_weights.url
    cached_as("torchvision:IMAGENET1K_V1", name, reference.state_dict(), hub_cache, monkeypatch)

    ours = create_model(name, weights="torchvision:IMAGENET1K_V1").eval()
    assert ours.labels == list(tv_weights.meta["categories"])
    with torch.no_grad():
        expected = reference(tv_weights.transforms()(image).unsqueeze(0))
        got = ours(transforms_for(ours)(image).unsqueeze(0))
    assert max_relative_error(got, expected) <= 1e-4


def test_download_is_verified_and_atomic(hub_cache, file_server):
    root, base = file_server
    reference = torchvision.models.googlenet(init_weights=False)
    data = save_checkpoint(reference.state_dict(), root / "googlenet.pth").read_bytes()
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    (root / f"googlenet-{digest[:8]}.pth").write_bytes(data)  # torch.hub's convention: the hash in the name
    entry = dataclasses.replace(model_info("googlenet").weights[0], url=f"{base}/googlenet-{digest[:8]}.pth")
    assert entry.sha256_prefix == digest[:8]
    path = fetch(entry)
    assert path.read_bytes() == data
    assert fetch(entry) == path  # cached: no second download

    (root / "other-deadbeef.pth").write_bytes(data)  # a name whose hash is not the file's
    wrong = dataclasses.replace(entry, url=f"{base}/other-deadbeef.pth")
    with pytest.raises(DownloadError, match="SHA-256 .* expected deadbeef"):
        fetch(wrong)
    assert sorted(p.name for p in hub_cache.iterdir()) == [entry.cache_name]  # nothing half-written left

    missing = dataclasses.replace(entry, url=f"{base}/nope.pth")
    with pytest.raises(DownloadError, match="could not download .*404"):
        fetch(missing)

    path.write_bytes(data[:-1] + b"x")  # a cached file that changed since is refused, each time it is used
    with pytest.raises(DownloadError, match="the cached file .* has SHA-256"):
        fetch(entry)


def test_offline_fails_within_seconds_and_says_what_to_do(hub_cache, monkeypatch):
    """With no network (here: a closed port on this machine), a clear error names the file and the fix."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    registration = _registry.registered("googlenet")
    entry = dataclasses.replace(
        registration.card.weights[0], url=f"http://127.0.0.1:{closed_port}/googlenet-1378be20.pth"
    )
    card = dataclasses.replace(registration.card, weights=(entry,))
    monkeypatch.setitem(_registry._REGISTRY, "googlenet", dataclasses.replace(registration, card=card))
    start = time.monotonic()
    with pytest.raises(OSError, match=r"could not download torchvision:IMAGENET1K_V1 .*offline.*weights=") as error:
        create_model("googlenet", weights=True)
    assert time.monotonic() - start < 10
    assert "googlenet-1378be20.pth" in str(error.value)
    assert not hub_cache.exists() or not any(hub_cache.iterdir())


def test_unknown_tag_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown weights 'timm:inception_v3.nope'; known: timm:inception_v3.tf_in1k"):
        create_model("inception_v3", weights="timm:inception_v3.nope")
    with pytest.raises(ValueError, match="no published weights"):
        create_model("googlenet_paper", weights=True)


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("inception_v3", {}),
        ("googlenet", dict(num_classes=10, in_chans=1)),
        ("inception_resnet_v1", dict(embedding=True)),
        ("xception", dict(num_classes=0)),  # a backbone: no classifier keys at all
    ],
)
def test_save_and_load_round_trip(tmp_path, name, kwargs):
    model = randomize_batchnorm(create_model(name, **kwargs))
    path = save_weights(model, tmp_path / "model.safetensors")
    again = load_model(path).eval()
    assert again.name == name and again.config == model.config
    assert again.preprocessing == model.preprocessing and again.labels == model.labels
    x = torch.randn(2, model.in_chans, 96, 96)
    with torch.no_grad():
        assert torch.equal(again(x), model(x))
        assert [a.shape for a in again.forward_train(x).aux] == [a.shape for a in model.forward_train(x).aux]


def test_our_file_remembers_its_network(tmp_path):
    path = save_weights(create_model("inception_v4", num_classes=3), tmp_path / "v4.safetensors")
    with pytest.raises(ValueError, match=r"holds inception_v4 weights: build it with create_model\('inception_v4'"):
        create_model("inception_v3", weights=path)
    with pytest.raises(ValueError, match="is not an inception-zoo weights file"):
        load_model(save_checkpoint(create_model("inception_v4").state_dict(), tmp_path / "plain.safetensors"))
    with pytest.raises(ValueError, match="name it .*v4.safetensors"):
        save_weights(create_model("inception_v4"), tmp_path / "v4.pth")


def test_new_number_of_classes_keeps_the_backbone(tmp_path):
    reference = randomize_batchnorm(timm.create_model("inception_v4"))
    path = save_checkpoint(reference.state_dict(), tmp_path / "v4.pth")
    with pytest.warns(UserWarning, match="new 10-class classifier in place of the file's 1000-class one"):
        ours = create_model("inception_v4", weights=path, num_classes=10).eval()
    x = torch.randn(1, 3, 160, 160)
    with torch.no_grad():
        assert ours(x).shape == (1, 10)
        assert max_relative_error(ours.forward_features(x), reference.forward_features(x)) <= 1e-4


def test_one_channel_input_from_rgb_weights(tmp_path):
    """Summing the first conv over its RGB inputs: a grey image gives the reference's RGB-grey logits."""
    reference = randomize_batchnorm(timm.create_model("inception_v3"))
    path = save_checkpoint(reference.state_dict(), tmp_path / "v3.pth")
    with pytest.warns(UserWarning, match="adapted the first conv .* from 3 to 1 input channels"):
        ours = create_model("inception_v3", weights=path, in_chans=1).eval()
    grey = torch.randn(1, 1, 160, 160)
    with torch.no_grad():
        assert max_relative_error(ours(grey), reference(grey.expand(-1, 3, -1, -1))) <= 1e-4
    with pytest.warns(UserWarning, match="from 3 to 4 input channels"):
        four = create_model("inception_v3", weights=path, in_chans=4).eval()
    with torch.no_grad():
        assert four(torch.randn(1, 4, 96, 96)).shape == (1, 1000)


def test_side_classifier_missing_from_the_file_is_fresh_and_reported(tmp_path):
    reference = randomize_batchnorm(timm.create_model("inception_v3"))  # timm's file: no side head
    path = save_checkpoint(reference.state_dict(), tmp_path / "v3.pth")
    with pytest.warns(UserWarning, match="no side classifiers: the model's are freshly initialised"):
        ours = create_model("inception_v3", weights=path, aux_logits=True).eval()
    x = torch.randn(1, 3, 160, 160)
    with torch.no_grad():
        out = ours.forward_train(x)
        assert len(out.aux) == 1 and max_relative_error(out.logits, reference(x)) <= 1e-4


def test_convert_command(tmp_path, capsys):
    from inception_zoo.cli import main

    reference = randomize_batchnorm(torchvision.models.googlenet(init_weights=True, aux_logits=True))
    source = save_checkpoint(reference.state_dict(), tmp_path / "googlenet.pth")
    assert main(["convert", str(source), str(tmp_path / "g.safetensors")]) == 0
    assert "googlenet, torchvision googlenet, 1000 classes" in capsys.readouterr().out
    model = load_model(tmp_path / "g.safetensors").eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert max_relative_error(model(x), reference(x)) <= 1e-4

    atto = save_checkpoint(timm.create_model("inception_next_atto").state_dict(), tmp_path / "atto.pth")
    assert main(["convert", str(atto), str(tmp_path / "atto.safetensors")]) == 2
    assert "pass --model" in capsys.readouterr().err
    assert main(["convert", str(atto), str(tmp_path / "atto.safetensors"), "--model", "inception_next_atto"]) == 0


def test_public_api():
    for name in ("create_model", "load_model", "save_weights", "transforms_for", "model_info", "list_models"):
        assert callable(getattr(inception_zoo, name))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a plain build warns about nothing
        create_model("googlenet")


def _timm_safetensors(name: str) -> tuple[torch.nn.Module, bytes]:
    from safetensors.torch import save

    reference = randomize_batchnorm(timm.create_model(name))
    return reference, save({k: v.contiguous() for k, v in reference.state_dict().items()})


def test_hugging_face_weights_come_through_the_hub_checked_and_cached(fake_hub, monkeypatch):
    """A timm tag downloads from the Hub into the Hub's cache (where timm looks too), is checked against
    the Hub's SHA-256, and is used from that cache offline."""

    import huggingface_hub.constants

    reference, data = _timm_safetensors("inception_next_atto")
    fake_hub.files = {"timm/inception_next_atto.sail_in1k/model.safetensors": data}
    ours = create_model("inception_next_atto", weights="timm:inception_next_atto.sail_in1k").eval()
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        assert max_relative_error(ours(x), reference(x)) <= 1e-4
    cached = list((Path(huggingface_hub.constants.HF_HUB_CACHE)).rglob("model.safetensors"))
    assert [p.parent.parent.parent.name for p in cached] == ["models--timm--inception_next_atto.sail_in1k"]

    fake_hub.files = {}  # the Hub is gone: offline, the cached file is used (and checked again)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    again = create_model("inception_next_atto", weights="timm:inception_next_atto.sail_in1k").eval()
    with torch.no_grad():
        assert torch.equal(again(x), ours(x))


def test_a_hub_file_that_is_not_what_the_hub_publishes_is_refused(fake_hub):
    _, data = _timm_safetensors("inception_next_atto")
    fake_hub.files = {"timm/inception_next_atto.sail_in1k/model.safetensors": data}
    fake_hub.published_hash = "ab" * 32
    with pytest.raises(DownloadError, match=r"has SHA-256 .*, expected abababab"):
        create_model("inception_next_atto", weights=True)


def test_a_hub_file_offline_or_unreachable_fails_at_once_and_says_what_to_do(fake_hub, monkeypatch):
    import socket

    import huggingface_hub.constants

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setattr(
        huggingface_hub.constants, "HUGGINGFACE_CO_URL_TEMPLATE", closed + "/{repo_id}/resolve/{revision}/{filename}"
    )
    for offline in (
        False,
        True,
    ):  # an unreachable Hub (huggingface_hub alone would retry for minutes), then HF_HUB_OFFLINE
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", offline)
        start = time.monotonic()
        with pytest.raises(DownloadError, match=r"could not download timm:inception_v3.tf_in1k\b.*offline.*weights="):
            create_model("inception_v3", weights=True)
        assert time.monotonic() - start < 10


def test_every_download_is_https_or_checked():
    """No entry is fetched over plain http unless the hash its name publishes is checked."""
    for _, entry in ENTRIES:
        assert entry.url.startswith("https://") or (entry.url.startswith("http://") and entry.sha256_prefix), entry.tag
        if entry.url.startswith("https://huggingface.co/"):
            assert entry.hugging_face is not None, entry.tag
