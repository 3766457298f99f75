"""inception-zoo: the whole Inception family of image classifiers.

>>> import inception_zoo
>>> inception_zoo.list_models("inception_v*")
['inception_v3', 'inception_v4']
>>> model = inception_zoo.create_model("inception_v3", num_classes=10)
"""

from .data import transforms_for
from .losses import inception_loss
from .models import InceptionNet, ModelInfo, TrainOutput, create_model, list_models, model_info
from .optimize import optimize_for_inference, quantize_int8
from .weights import load_model, save_weights

__all__ = [
    "InceptionNet",
    "ModelInfo",
    "TrainOutput",
    "create_model",
    "inception_loss",
    "list_models",
    "load_model",
    "model_info",
    "optimize_for_inference",
    "quantize_int8",
    "save_weights",
    "transforms_for",
]
__version__ = "0.1.0"
