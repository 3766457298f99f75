"""Models as Hugging Face Hub repositories: ours written, pushed and loaded back; timm's loaded.

The Hub is a loopback server (``conftest.fake_hub``) speaking the Hub's resolve protocol to the
real huggingface_hub client; the push goes to a stand-in for ``HfApi`` that files the uploaded
folder on that server.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from conftest import max_relative_error, randomize_batchnorm
from inception_zoo import create_model, from_pretrained, pretrained, push_to_hub, save_pretrained
from inception_zoo.errors import ArgumentError, DownloadError

timm = pytest.importorskip("timm")


def _fine_tuned():
    model = randomize_batchnorm(create_model("googlenet", num_classes=3))
    model.labels = ["cat", "dog", "fox"]
    return model


def test_save_pretrained_writes_our_file_a_config_and_a_model_card(tmp_path):
    from huggingface_hub import ModelCard

    model = _fine_tuned()
    folder = save_pretrained(model, tmp_path / "repo", repo_id="someone/googlenet-pets")
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    config = json.loads((folder / "config.json").read_text())
    assert config["model"] == "googlenet" and config["num_classes"] == 3
    assert config["pretrained_cfg"]["input_size"] == [3, 224, 224]
    card = ModelCard.load(folder / "README.md")
    assert card.data.library_name == "inception-zoo" and "googlenet" in card.data.tags
    assert 'from_pretrained("someone/googlenet-pets")' in card.text
    assert "arxiv.org/abs/1409.4842" in card.text  # the paper
    again = from_pretrained(folder).eval()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(again(x), model(x))
    assert again.labels == ["cat", "dog", "fox"] and again.preprocessing == model.preprocessing


class _HubApi:
    """Stands in for ``huggingface_hub.HfApi``: records the calls, files uploads on the loopback Hub."""

    calls: list = []
    hub = None

    def __init__(self, token=None):
        self.calls.append(("HfApi", token))

    def create_repo(self, repo_id, *, private=None, exist_ok=False, **_):
        self.calls.append(("create_repo", repo_id, private, exist_ok))

    def upload_folder(self, *, repo_id, folder_path, commit_message=None, revision=None, **_):
        files = sorted(p.name for p in Path(folder_path).iterdir())
        self.calls.append(("upload_folder", repo_id, files, commit_message))
        for name in files:
            self.hub.files[f"{repo_id}/{name}"] = (Path(folder_path) / name).read_bytes()
        return f"https://huggingface.co/{repo_id}/commit/{'0' * 40}"


def _image(path: Path) -> Path:
    Image.fromarray((torch.rand(64, 80, 3) * 255).byte().numpy()).save(path)
    return path


def test_push_to_hub_publishes_one_commit_that_from_pretrained_loads(fake_hub, monkeypatch, tmp_path, capsys):
    import huggingface_hub.constants

    from inception_zoo.cli import main

    api = type("Api", (_HubApi,), {"calls": [], "hub": fake_hub})
    monkeypatch.setattr(pretrained, "HfApi", api)
    model = _fine_tuned()
    commit = push_to_hub(model, "someone/googlenet-pets", private=True, token="hf_x")
    assert commit.endswith("0" * 40)
    assert api.calls[:2] == [("HfApi", "hf_x"), ("create_repo", "someone/googlenet-pets", True, True)]
    assert api.calls[2][:3] == (
        "upload_folder",
        "someone/googlenet-pets",
        ["README.md", "config.json", "model.safetensors"],
    )
    assert "googlenet" in api.calls[2][3]  # the commit message says what was pushed

    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        expected = model(x)
        for source in ("someone/googlenet-pets", "hf-hub:someone/googlenet-pets"):
            assert torch.equal(from_pretrained(source).eval()(x), expected)
        assert torch.equal(create_model("googlenet", weights="hf-hub:someone/googlenet-pets").eval()(x), expected)
    assert main(["predict", "--weights", "hf-hub:someone/googlenet-pets", str(_image(tmp_path / "a.png"))]) == 0
    said = capsys.readouterr().out
    assert all(label in said for label in ("cat", "dog", "fox")), said  # the repository's labels
    fake_hub.files = {}  # the Hub is gone: offline, the cache answers
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with torch.no_grad():
        assert torch.equal(from_pretrained("someone/googlenet-pets").eval()(x), expected)


def test_a_bad_repository_name_is_refused_before_anything_is_sent(monkeypatch):
    api = type("Api", (_HubApi,), {"calls": []})
    monkeypatch.setattr(pretrained, "HfApi", api)
    with pytest.raises(ArgumentError, match="not a Hugging Face repository: write hf-hub:ORG/NAME"):
        push_to_hub(_fine_tuned(), "no slash here")
    assert api.calls == []


@pytest.mark.parametrize("safe_serialization", [True, False], ids=["model.safetensors", "pytorch_model.bin"])
def test_a_timm_repository_loads_with_its_preprocessing(fake_hub, tmp_path, safe_serialization):
    from inception_zoo import load_model
    from inception_zoo.cli import main

    """Files as timm's own ``save_for_hf`` writes them (what timm pushes): the weights, and the
    ``pretrained_cfg`` our preprocessing comes from."""
    from timm.models import save_for_hf

    reference = randomize_batchnorm(timm.create_model("inception_next_atto"))
    reference.pretrained_cfg = dict(reference.pretrained_cfg, crop_pct=0.95, interpolation="bilinear")
    save_for_hf(reference, str(tmp_path / "timm-repo"), safe_serialization=safe_serialization)
    fake_hub.files = {f"someone/atto/{p.name}": p.read_bytes() for p in (tmp_path / "timm-repo").iterdir()}
    ours = from_pretrained("hf-hub:someone/atto").eval()
    assert ours.name == "inception_next_atto"
    assert ours.preprocessing.crop_pct == 0.95 and ours.preprocessing.interpolation == "bilinear"
    assert ours.provenance["weights"] == "hf-hub:someone/atto"
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        assert max_relative_error(ours(x), reference(x)) <= 1e-4
    assert main(["convert", "hf-hub:someone/atto", str(tmp_path / "atto.safetensors")]) == 0  # the network from it
    assert load_model(tmp_path / "atto.safetensors").preprocessing == ours.preprocessing


def test_what_timm_downloaded_is_used_as_it_is(fake_hub, monkeypatch):
    """timm fetches a checkpoint into the Hugging Face cache; our tag for it then needs no network."""
    import huggingface_hub.constants
    from safetensors.torch import save

    reference = randomize_batchnorm(timm.create_model("inception_next_atto"))
    data = save({k: v.contiguous() for k, v in reference.state_dict().items()})
    fake_hub.files = {"timm/inception_next_atto.sail_in1k/model.safetensors": data}
    by_timm = timm.create_model("inception_next_atto.sail_in1k", pretrained=True).eval()
    fake_hub.files = {}
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    ours = create_model("inception_next_atto", weights="timm:inception_next_atto.sail_in1k").eval()
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        assert max_relative_error(ours(x), by_timm(x)) <= 1e-4


def test_a_repository_without_weights_or_of_an_unknown_network_says_so(fake_hub):
    from safetensors.torch import save

    fake_hub.files = {"someone/empty/config.json": b"{}"}
    with pytest.raises(DownloadError, match="has no weights file"):
        from_pretrained("someone/empty")
    fake_hub.files = {
        "someone/resnet/model.safetensors": save({"fc.weight": torch.zeros(2, 2)}),
        "someone/resnet/config.json": json.dumps({"architecture": "resnet50"}).encode(),
    }
    with pytest.raises(ArgumentError, match=r"names 'resnet50', which is not one of our networks"):
        from_pretrained("someone/resnet")
    with pytest.raises(ArgumentError, match="not a Hugging Face repository"):
        create_model("googlenet", weights="hf-hub:nothing")
