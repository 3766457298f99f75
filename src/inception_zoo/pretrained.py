"""A model as a Hugging Face Hub repository: ``save_pretrained`` writes one, ``push_to_hub`` publishes
it, ``from_pretrained`` loads one (ours, or timm's for a network we have).

A repository of ours holds ``model.safetensors`` (our weights file, as ``save_weights`` writes it:
everything needed to rebuild the model), ``config.json`` (the network, its options and timm's
``pretrained_cfg``, for the tools and pages that read it) and ``README.md`` (the model card the
Hub shows: the network, its paper, where its weights came from, its preprocessing, how to load it).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from huggingface_hub import HfApi, ModelCard, ModelCardData
from torch import nn

from ._version import __version__
from .errors import ArgumentError
from .formats import FORMAT, read_metadata
from .hub import HF_HUB, fetch_repo, parse_repo
from .models._builder import create_model
from .models._zoo import list_models, registered
from .weights import load_model, save_weights

__all__ = ["from_pretrained", "open_model", "push_to_hub", "save_pretrained"]

WEIGHTS_FILE = "model.safetensors"


def save_pretrained(model: nn.Module, directory: str | os.PathLike, *, repo_id: str | None = None) -> Path:
    """Write ``model`` as a Hub repository's files into ``directory`` (made if missing); ``repo_id`` is
    the name the model card tells readers to load it by."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ArgumentError(f"cannot write a repository into {directory}: it is a file")
    directory.mkdir(parents=True, exist_ok=True)
    save_weights(model, directory / WEIGHTS_FILE)
    config = {
        "library_name": "inception-zoo",
        "format": FORMAT,
        "model": model.name,
        "options": model.config,
        "num_classes": model.num_classes,
        "pretrained_cfg": model.pretrained_cfg,
    }
    (directory / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    _model_card(model, repo_id).save(directory / "README.md")
    return directory


def push_to_hub(
    model: nn.Module,
    repo_id: str,
    *,
    private: bool | None = None,
    token: str | None = None,
    revision: str | None = None,
    commit_message: str | None = None,
):
    """Publish ``model`` as the Hub repository ``repo_id`` (created if missing): its ``save_pretrained``
    files in one commit. Returns huggingface_hub's ``CommitInfo``."""
    parse_repo(repo_id)  # a bad name is refused before anything is written
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        save_pretrained(model, folder, repo_id=repo_id)
        return api.upload_folder(
            repo_id=repo_id,
            folder_path=folder,
            revision=revision,
            commit_message=commit_message or f"{model.name} from inception-zoo {__version__}",
        )


def from_pretrained(source: str | os.PathLike, *, revision: str | None = None) -> nn.Module:
    """The model in ``source``: a folder from ``save_pretrained``, or a Hub repository (``"ORG/NAME"``,
    ``"hf-hub:ORG/NAME[@REVISION]"``), ours or timm's for one of our networks. Downloaded once into the
    Hugging Face cache (shared with timm), checked against the Hub's hash; ``HF_HUB_OFFLINE`` honoured."""
    if Path(source).is_dir():
        return load_model(Path(source) / WEIGHTS_FILE)
    spec = str(source) if str(source).startswith(HF_HUB) else HF_HUB + str(source)
    if revision is not None:
        spec = f"{spec.partition('@')[0]}@{revision}"
    repo = fetch_repo(spec)
    if read_metadata(repo.weights).get("format") == FORMAT:
        return load_model(repo.weights)
    return create_model(_network_of(spec, repo.config), weights=spec)


def open_model(model: str | None = None, weights: str | os.PathLike | None = None, *, onnx: bool = True) -> nn.Module:
    """A trained model for inference, named as the command line names it: a network (with its published
    weights, or ``weights``: a tag or a checkpoint file, whose classifier must fit), or ``weights`` alone:
    one of our files, an ``hf-hub:ORG/NAME`` repository, or (with ``onnx``) an ``.onnx`` file of ours."""
    if model:
        return create_model(model, weights=weights if weights else True, require_trained_head=True)
    if weights and str(weights).startswith(HF_HUB):
        return from_pretrained(str(weights))
    if weights:
        if str(weights).endswith(".onnx") and not onnx:
            raise ArgumentError("this needs the network's weights (.safetensors), not an ONNX file", option="weights")
        return load_model(weights)
    raise ArgumentError(
        "give a network (model=NAME, with its default weights or weights=...) or weights=FILE of ours",
        cli="pass --model NAME (with its default weights, or --weights), or --weights FILE of ours",
    )


def _network_of(spec: str, config: dict) -> str:
    """Our network for a foreign repository: one whose published weights live there, else timm's name."""
    repo, _ = parse_repo(spec)
    for name in list_models():
        if any(entry.hugging_face and entry.hugging_face[0] == repo for entry in registered(name).card.weights):
            return name
    architecture = config.get("architecture")
    if architecture in list_models():
        return architecture
    said = f"its config.json names {architecture!r}" if architecture else "it has no config.json naming its network"
    raise ArgumentError(
        f"{spec} is not a repository of ours and {said}, which is not one of our networks: "
        f"pass the network, create_model(NAME, weights={spec!r})"
    )


def _model_card(model: nn.Module, repo_id: str | None) -> ModelCard:
    card = registered(model.name).card
    pre = model.preprocessing
    data = ModelCardData(
        library_name="inception-zoo",
        pipeline_tag="image-classification" if model.num_classes else "image-feature-extraction",
        tags=["inception-zoo", "image-classification", model.name],
    )
    load = repo_id or "ORG/NAME"
    weights = model.provenance.get("weights") or "not a published checkpoint (initialised or trained by its owner)"
    lines = [
        "---",
        data.to_yaml(),
        "---",
        "",
        f"# {repo_id or model.name}",
        "",
        f"**{model.name}** ([{card.paper.title}]({card.paper.url})), saved by inception-zoo {__version__}: "
        f"{sum(p.numel() for p in model.parameters()):,} parameters, {model.num_classes} classes. "
        f"Weights: {weights}.",
        "",
        "## Use",
        "",
        "```python",
        "import inception_zoo",
        "",
        f'model = inception_zoo.from_pretrained("{load}").eval()',
        "transform = inception_zoo.transforms_for(model)  # the preprocessing below",
        "```",
        "",
        f"or `inception-zoo predict --weights {HF_HUB}{load} IMAGE...`",
        "",
        "## Preprocessing",
        "",
        f"Resize the short side to {pre.resize_size} ({pre.interpolation}), center-crop to "
        f"{pre.input_size[1]}x{pre.input_size[2]}, {pre.channel_order} in [{pre.input_range[0]:g}, "
        f"{pre.input_range[1]:g}], minus mean {list(pre.mean)}, divided by std {list(pre.std)}.",
        "",
    ]
    return ModelCard("\n".join(lines))
