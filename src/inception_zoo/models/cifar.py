"""Small-image (CIFAR, 32x32) profiles of the family: ``<name>_cifar``.

One rule for every network: the stem (the layers before the first Inception module, named in
``STEMS``) keeps its layers but loses its downsampling. Its convs run at stride 1 with "same"
padding, its strided pools go, and a patchify conv (kernel = stride, InceptionNeXt's 4x4/4)
becomes a 3x3 stride-1 conv. Everything after the stem is the paper's network, so the grid
reductions still take 32x32 down to 8x8 or smaller.
"""

from __future__ import annotations

from torch import nn

from ..layers import Branches
from ._base import InceptionNet
from ._registry import ModelCard, builder_for, model_class_of, register_model, registered_card

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)

# network -> (the layers of its stem, the smallest input the profile accepts)
STEMS: dict[str, tuple[tuple[str, ...], int]] = {
    "googlenet": (("conv1", "maxpool1", "conv2", "conv3", "maxpool2"), 2),
    "bn_inception": (("conv1_7x7_s2", "pool1_3x3_s2", "conv2_3x3_reduce", "conv2_3x3", "pool2_3x3_s2"), 1),
    "inception_v2": (
        ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "MaxPool_3a_3x3", "Conv2d_3b_3x3", "Conv2d_4a_3x3"),
        7,
    ),
    "inception_v3": (
        ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "MaxPool_3a_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3")
        + ("MaxPool_5a_3x3",),
        7,
    ),
    "inception_v4": (("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Mixed_3a", "Mixed_4a", "Mixed_5a"), 7),
    "inception_resnet_v1": (
        ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "MaxPool_3a_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3")
        + ("Conv2d_4b_3x3",),
        7,
    ),
    "inception_resnet_v2": (
        ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "MaxPool_3a_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3")
        + ("MaxPool_5a_3x3",),
        7,
    ),
    "xception": (("conv1", "conv2", "block1"), 1),
    "xception41": (("stem1", "stem2", "block1"), 1),
    "inception_next_atto": (("stem",), 8),
    "inception_next_tiny": (("stem",), 8),
}


def remove_stem_downsampling(model: InceptionNet, stem: tuple[str, ...]) -> None:
    """Make the named stem layers of ``model.features`` keep the input's size (in place)."""
    layers = dict(model.features.named_children())
    missing = [name for name in stem if name not in layers]
    if missing:
        raise ValueError(f"{model.name} has no stem layers {missing}")
    for name in stem:
        _keep_size(model.features, name, layers[name])


def _keep_size(parent: nn.Module, attr: str, module: nn.Module) -> None:
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        if (kh, kw) == module.stride and kh % 2 == 0:  # patchify: no stride-1 "same" form
            setattr(parent, attr, nn.Conv2d(module.in_channels, module.out_channels, 3, padding=1))
        else:
            module.stride, module.padding = (1, 1), (kh // 2, kw // 2)
    elif isinstance(module, nn.MaxPool2d | nn.AvgPool2d) and module.stride not in (1, (1, 1)):
        setattr(parent, attr, nn.Identity())
    elif isinstance(module, nn.Sequential | nn.ModuleList | Branches | nn.Module):
        for child_name, child in list(module.named_children()):
            _keep_size(module, child_name, child)


def _register(name: str, stem: tuple[str, ...], min_input_size: int) -> None:
    base_builder = builder_for(name)

    def build(*, num_classes: int = 10, **kwargs) -> InceptionNet:
        model = base_builder(num_classes=num_classes, **kwargs)
        remove_stem_downsampling(model, stem)
        model.min_input_size = min_input_size
        return model

    build.__name__ = build.__qualname__ = f"{name}_cifar"
    build.__doc__ = f"{name} for 32x32 inputs: its stem ({', '.join(stem)}) no longer downsamples."
    build.model_class = model_class_of(base_builder)
    card = registered_card(name)
    register_model(
        ModelCard(
            paper=card.paper,
            input_size=(3, 32, 32),
            mean=CIFAR_MEAN,
            std=CIFAR_STD,
            interpolation="bilinear",
            crop_pct=1.0,
            aux_loss_weight=card.aux_loss_weight,
            notes=f"{name} with a stem that keeps 32x32 (CIFAR-10/100)",
        )
    )(build)


for _name, (_stem, _min_size) in STEMS.items():
    _register(_name, _stem, _min_size)
