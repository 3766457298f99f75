"""Every network of the family, registered on import. One file per network."""

from . import googlenet, inception_resnet_v2, inception_v3, inception_v4, xception  # noqa: F401  (registers them)
from ._base import InceptionNet, TrainOutput
from ._factory import create_model
from ._registry import ModelInfo, list_models, model_info

__all__ = ["InceptionNet", "ModelInfo", "TrainOutput", "create_model", "list_models", "model_info"]
