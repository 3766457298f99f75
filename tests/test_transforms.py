"""Our transforms equal the references' for the same weights, on real PIL images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from inception_zoo import model_info
from inception_zoo.catalog import catalog
from inception_zoo.data import Preprocessing, preprocessing_for, preprocessing_of, transforms_for

timm = pytest.importorskip("timm")

# Every network with weights timm publishes, with the first of them: timm's name for it.
TIMM_WEIGHTS = [
    (row["name"], next(w["tag"] for w in row["weights"] if w["tag"].startswith("timm:")).removeprefix("timm:"))
    for row in catalog()
    if any(w["tag"].startswith("timm:") for w in row["weights"])
]


@pytest.fixture(scope="module")
def image() -> Image.Image:
    """A smooth, non-square RGB image (smooth, so that resampling differences are not noise)."""
    y, x = np.mgrid[0:333, 0:401]
    rgb = np.stack([(x * 0.6) % 256, (y * 0.7) % 256, ((x + y) * 0.3) % 256], axis=-1)
    return Image.fromarray(rgb.astype(np.uint8))


@pytest.mark.parametrize("name, timm_name", TIMM_WEIGHTS, ids=[t for _, t in TIMM_WEIGHTS])
def test_equal_to_timm(image, name, timm_name):
    from timm.data import create_transform, resolve_data_config

    config = resolve_data_config({}, model=timm.create_model(timm_name, pretrained=False))
    expected = create_transform(**config)(image)
    ours = transforms_for(preprocessing_for(name, model_info(name).weight_entry(f"timm:{timm_name}")))(image)
    assert ours.shape == expected.shape
    torch.testing.assert_close(ours, expected, atol=1e-6, rtol=0)


def test_caffe_preprocessing_equals_cadene(image):
    """BN-Inception: BGR, 0-255, mean (104, 117, 128), as Cadene's TransformImage does."""
    pretrainedmodels = pytest.importorskip("pretrainedmodels")
    from pretrainedmodels.utils import TransformImage

    reference = pretrainedmodels.bninception(pretrained=None)
    for attr, value in dict(
        input_space="BGR", input_size=[3, 224, 224], input_range=[0, 255], mean=[104, 117, 128], std=[1, 1, 1]
    ).items():
        setattr(reference, attr, value)
    expected = TransformImage(reference)(image)
    torch.testing.assert_close(transforms_for("bn_inception")(image), expected, atol=1e-4, rtol=0)


def test_resize_size_keeps_exact_ratios():
    base = dict(interpolation="bilinear", mean=(0.5,) * 3, std=(0.5,) * 3)
    assert Preprocessing(input_size=(3, 299, 299), crop_pct=299 / 342, **base).resize_size == 342
    assert Preprocessing(input_size=(3, 299, 299), crop_pct=0.875, **base).resize_size == 341
    assert Preprocessing(input_size=(3, 224, 224), crop_pct=0.875, **base).resize_size == 256


def test_train_transforms_give_the_input_size(image):
    out = transforms_for("inception_v3", train=True)(image)
    assert out.shape == (3, 299, 299) and out.dtype == torch.float32


def test_uint8_tensors_work_too(image):
    tensor = torch.from_numpy(np.array(image)).permute(2, 0, 1).contiguous()
    assert transforms_for("googlenet")(tensor).shape == (3, 224, 224)


def test_bad_preprocessing_is_refused():
    with pytest.raises(ValueError, match="interpolation must be one of"):
        Preprocessing(input_size=(3, 8, 8), crop_pct=1.0, interpolation="lanczos9", mean=(0,), std=(1,))
    with pytest.raises(ValueError, match="crop_pct must be in"):
        Preprocessing(input_size=(3, 8, 8), crop_pct=1.5, interpolation="bilinear", mean=(0,), std=(1,))


def test_preprocessing_of_a_model_falls_back_to_its_card():
    import inception_zoo

    model = inception_zoo.create_model("xception")
    assert preprocessing_of(model) == preprocessing_of("xception")
