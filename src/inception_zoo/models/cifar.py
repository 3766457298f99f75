"""Small-image (CIFAR, 32x32) profiles of the family: ``<name>_cifar``.

Each is its network built with ``small_input=True``: the stem that the network declares keeps
its layers but loses its downsampling (convs at stride 1 with "same" padding, strided pools
gone, a patchify conv made a 3x3 one: ``keep_input_size``). Everything after the stem is the
paper's network, so the grid reductions still take 32x32 down to 8x8 or smaller. 10 classes
unless asked otherwise.
"""

from __future__ import annotations

from ._metadata import ModelCard, Preprocessing
from ._registry import register_model, registered

__all__ = ["CIFAR_MEAN", "CIFAR_STD", "PROFILED", "register_cifar_profiles"]

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)

# One network of each kind in the family (the other sizes of a kind are built from the same blocks).
PROFILED = (
    "googlenet",
    "bn_inception",
    "inception_v2",
    "inception_v3",
    "inception_v4",
    "inception_resnet_v1",
    "inception_resnet_v2",
    "xception",
    "xception41",
    "inception_next_atto",
    "inception_next_tiny",
)


def register_cifar_profiles() -> None:
    """Register ``<name>_cifar`` for each network of ``PROFILED`` (which must be registered already)."""
    for name in PROFILED:
        base = registered(name)
        register_model(
            f"{name}_cifar",
            base.model_class,
            ModelCard(
                paper=base.card.paper,
                preprocessing=Preprocessing(
                    input_size=(3, 32, 32), crop_pct=1.0, interpolation="bilinear", mean=CIFAR_MEAN, std=CIFAR_STD
                ),
                aux_loss_weight=base.card.aux_loss_weight,
                notes=f"{name} with a stem that keeps 32x32 (CIFAR-10/100)",
            ),
            defaults=dict(base.defaults) | {"num_classes": 10},
            **base.fixed,
            small_input=True,
        )
