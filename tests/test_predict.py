"""predict: batched, the weights' preprocessing and labels, bad files reported and skipped."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from inception_zoo import create_model, save_weights, transforms_for
from inception_zoo.cli import main
from inception_zoo.predict import predict


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for i, (w, h) in enumerate([(320, 240), (200, 260), (256, 256)]):
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / f"image{i}.{'png' if i % 2 else 'jpg'}")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    (root / "notes.txt").write_text("not an image, and not picked up from a folder")
    return root


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return create_model("googlenet").eval()


def test_predict_matches_a_manual_forward(folder, model):
    results = predict(model, [folder], topk=3, batch_size=2)
    assert [r.path.rsplit("/", 1)[-1] for r in results] == ["broken.jpg", "image0.jpg", "image1.png", "image2.jpg"]
    assert results[0].error and "cannot read this image" in results[0].error and results[0].top == []
    with Image.open(folder / "image1.png") as image:
        expected = model(transforms_for(model)(image.convert("RGB")).unsqueeze(0)).softmax(1)[0]
    top = results[2].top
    assert [p["index"] for p in top] == expected.topk(3).indices.tolist()
    assert [p["score"] for p in top] == pytest.approx(expected.topk(3).values.tolist(), abs=1e-5)
    assert top[0]["label"] == model.labels[top[0]["index"]]


def test_predict_command(folder, model, tmp_path, capsys):
    weights = save_weights(model, tmp_path / "googlenet.safetensors")
    code = main(
        ["predict", str(folder / "image0.jpg"), str(folder / "image2.jpg"), "--weights", str(weights), "--json"]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == "googlenet" and len(out["predictions"]) == 2
    assert all(len(p["top"]) == 5 and p["error"] is None for p in out["predictions"])
    assert main(["predict", str(folder), "--weights", str(weights)]) == 1  # one unreadable file: reported, exit 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and "broken.jpg: cannot read this image" in lines[0]


def test_bad_arguments():
    with pytest.raises(ValueError, match="topk and batch_size must be >= 1"):
        predict(create_model("googlenet"), [], topk=0)
    assert main(["predict", "x.jpg"]) == 2
