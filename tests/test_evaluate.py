"""Evaluation: numbers checked by hand on a tiny case, the multi-crop protocols' counts, the command."""

from __future__ import annotations

import json
import math

import pytest
import torch
from PIL import Image
from torch import nn

from inception_zoo.cli import main
from inception_zoo.data.datasets import DigitsDataset
from inception_zoo.data.transforms import Preprocessing
from inception_zoo.evaluate import MultiCrop, Tally, evaluate

PLAIN = Preprocessing(input_size=(3, 8, 8), crop_pct=1.0, interpolation="bilinear", mean=(0, 0, 0), std=(1, 1, 1))


class ChannelMeans(nn.Module):
    """Logits = the mean of each colour channel: a red image says class 0, green 1, blue 2."""

    num_classes = 3
    preprocessing = PLAIN

    def forward(self, images):
        return images.mean(dim=(2, 3))


def test_numbers_by_hand(tmp_path):
    # Two red images of class 0, one green of class 1, and a blue one filed under class 1: 3 of 4 right.
    for folder, colour, name in (("0", (255, 0, 0), "a"), ("0", (255, 0, 0), "b"), ("1", (0, 255, 0), "c"),
                                 ("1", (0, 0, 255), "d"), ("2", None, None)):  # fmt: skip
        (tmp_path / folder).mkdir(exist_ok=True)
        if colour:
            Image.new("RGB", (12, 10), colour).save(tmp_path / folder / f"{name}.png")
    result = evaluate(ChannelMeans(), tmp_path)
    assert (result.count, result.top1, result.top5) == (4, 75.0, 100.0)  # top-5 of 3 classes: every class
    right = math.log(math.e + 2) - 1  # cross-entropy of logits (1, 0, 0) for its class
    wrong = math.log(math.e + 2)  # the blue image: logits (0, 0, 1), class 1
    assert result.loss == pytest.approx((3 * right + wrong) / 4, rel=1e-6)
    assert result.per_class == [100.0, 50.0, None]
    assert result.confusion == [[2, 0, 0], [0, 1, 1], [0, 0, 0]]


def test_tally_merges_multi_crop_by_averaging_probabilities():
    tally = Tally(2)
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])  # two crops of one image of class 0
    tally.add(logits, torch.tensor([0]), crops=2)
    mean = (logits.softmax(dim=1)).mean(dim=0)
    assert tally.result().loss == pytest.approx(-math.log(mean[0].item()))
    assert tally.result().top1 == 100.0


@pytest.mark.parametrize("crops", [10, 12, 144])
@pytest.mark.parametrize("size", [(160, 120), (120, 160)])  # landscape and portrait
def test_multi_crop_counts(crops, size):
    image = Image.effect_noise(size, 60).convert("RGB")
    pre = Preprocessing((3, 32, 32), crop_pct=0.5, interpolation="bilinear", mean=(0,) * 3, std=(1,) * 3)
    views = MultiCrop(pre, crops)(image)
    assert views.shape == (crops, 3, 32, 32)
    assert len({tuple(v.flatten().tolist()) for v in views}) == crops  # every crop is a different view


def test_googlenet_144_crops_are_scales_squares_six_crops_and_mirrors():
    pre = Preprocessing(input_size=(3, 224, 224), crop_pct=0.875, interpolation="bilinear", mean=(0,) * 3, std=(1,) * 3)
    crop = MultiCrop(pre, 144)
    views = crop.views(Image.effect_noise((400, 300), 60).convert("RGB"))
    assert len(views) == 4 * 3 * 6 * 2
    first_square = views[:12]
    for original, mirrored in zip(first_square[:6], first_square[6:], strict=True):
        assert original.transpose(Image.FLIP_LEFT_RIGHT).tobytes() == mirrored.tobytes()
    assert all(v.size == (224, 224) for v in views)


def test_evaluate_refuses_a_folder_with_other_classes(tmp_path):
    for c in "ab":
        (tmp_path / c).mkdir()
        Image.new("RGB", (8, 8)).save(tmp_path / c / "x.png")
    with pytest.raises(ValueError, match="2 class folders but the model has 3 classes"):
        evaluate(ChannelMeans(), tmp_path)
    with pytest.raises(ValueError, match="crops must be one of"):
        evaluate(ChannelMeans(), tmp_path, crops=5)


def test_the_demo_data_set_is_offline_and_split_once():
    train, val = DigitsDataset("train"), DigitsDataset("val")
    assert len(train) + len(val) == 1797 and len(train.classes) == 10
    assert not set(train.indices.tolist()) & set(val.indices.tolist())
    image, target = val[0]
    assert image.size == (32, 32) and image.mode == "RGB" and 0 <= target < 10


def test_the_eval_command(tmp_path, capsys):
    from inception_zoo import create_model, save_weights

    model = create_model("inception_next_atto_cifar")
    model.preprocessing = Preprocessing((3, 16, 16), 1.0, "bilinear", (0.5,) * 3, (0.25,) * 3)
    weights = save_weights(model, tmp_path / "m.safetensors")
    # 10 classes: the digits' val split matches a 10-class model.
    assert main(["eval", "--weights", str(weights), "--dataset", "digits", "--crops", "10", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["count"] == 360 and report["crops"] == 10 and len(report["per_class"]) == 10
    assert 0 <= report["top1"] <= report["top5"] <= 100
    png = tmp_path / "m-confusion.png"
    assert report["confusion_png"] == str(png) and png.read_bytes()[:4] == b"\x89PNG"
