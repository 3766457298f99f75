"""Every network of the family, registered on import. One file per network."""

# Importing a model file registers its networks.
from . import (  # noqa: F401
    bn_inception,
    googlenet,
    inception_next,
    inception_resnet_v1,
    inception_resnet_v2,
    inception_v2,
    inception_v3,
    inception_v4,
    xception,
    xception_aligned,
)
from ._base import InceptionNet, TrainOutput
from ._factory import create_model
from ._registry import ModelInfo, list_models, model_info

__all__ = ["InceptionNet", "ModelInfo", "TrainOutput", "create_model", "list_models", "model_info"]

# The 32x32 profiles of the networks above: registered after them.
from . import cifar  # noqa: E402, F401
