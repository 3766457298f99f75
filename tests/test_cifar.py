"""The small-image profiles: 32x32 in, the stem no longer downsamples, and they train."""

from __future__ import annotations

import pytest
import torch

from inception_zoo import create_model, inception_loss, list_models, model_info
from inception_zoo.models._zoo import registered
from inception_zoo.models.cifar import PROFILED

CIFAR = list_models("*_cifar")


def test_every_required_member_has_a_profile():
    required = {
        "googlenet",
        "bn_inception",
        "inception_v2",
        "inception_v3",
        "inception_v4",
        "inception_resnet_v1",
        "inception_resnet_v2",
        "xception",
        "inception_next_tiny",
    }
    assert {f"{name}_cifar" for name in required} <= set(CIFAR)
    assert set(CIFAR) == {f"{name}_cifar" for name in PROFILED}
    # ... and every kind of network in the registry (every model class) has one.
    kinds = {registered(name).model_class for name in list_models() if name not in CIFAR}
    assert kinds == {registered(name).model_class for name in CIFAR}


@pytest.mark.parametrize("name", CIFAR)
def test_stem_keeps_32x32_and_the_rest_is_the_paper_network(name):
    from inception_zoo.summary import stage_shapes

    base = name.removesuffix("_cifar")
    with torch.device("meta"):
        stem = registered(name).build().stem_layers
    assert stem == registered(base).build().stem_layers
    shapes = dict(stage_shapes(name))
    assert all(shapes[layer][-2:] == (32, 32) for layer in stem), "the stem must not downsample"
    assert model_info(name).input_size == (3, 32, 32)
    # After the stem, the same layers with the same channel counts as the ImageNet network.
    imagenet = dict(stage_shapes(base))
    after_stem = [layer for layer in imagenet if layer not in stem and layer != "head" and "aux" not in layer]
    assert [shapes[layer][1] for layer in after_stem] == [imagenet[layer][1] for layer in after_stem]
    assert shapes["head"] == (1, 10)


@pytest.mark.parametrize("name", CIFAR)
def test_trains_on_a_fixed_batch(name):
    """A few optimiser steps on one batch of 32x32 images lower the loss (aux losses included)."""
    torch.manual_seed(0)
    model = create_model(name).train()
    images, labels = torch.randn(8, 3, 32, 32), torch.arange(8) % 10
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    aux_weight = model_info(name).aux_loss_weight or 0.0
    losses = []
    for _ in range(4):
        optimizer.zero_grad()
        loss = inception_loss(model.forward_train(images), labels, aux_weight=aux_weight)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0], f"{name}: loss went {losses}"
