"""inception-zoo: the whole Inception family of image classifiers.

>>> import inception_zoo
>>> inception_zoo.list_models("inception_v*")
['inception_v2', 'inception_v2_cifar', 'inception_v3', 'inception_v3_cifar', 'inception_v4', 'inception_v4_cifar']
>>> model = inception_zoo.create_model("inception_v3", num_classes=10)

Importing the package loads nothing heavy: each name below is imported on first use.
"""

from typing import TYPE_CHECKING

from ._lazy import lazy_exports
from ._version import __version__

__all__ = [
    "InceptionNet",
    "ModelInfo",
    "TrainForward",
    "TrainOutput",
    "__version__",
    "create_model",
    "diagram",
    "embed",
    "embed_to_file",
    "from_pretrained",
    "inception_loss",
    "list_models",
    "load_model",
    "model_info",
    "optimize_for_inference",
    "predict",
    "predict_to_file",
    "push_to_hub",
    "quantize_int8",
    "save_pretrained",
    "save_weights",
    "transforms_for",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "InceptionNet": ".models._base",
        "TrainForward": ".models._base",
        "TrainOutput": ".models._base",
        "ModelInfo": ".models._zoo",
        "list_models": ".models._zoo",
        "model_info": ".models._zoo",
        "create_model": ".models._builder",
        "diagram": ".diagrams.render",
        "inception_loss": ".losses",
        "load_model": ".weights",
        "save_weights": ".weights",
        "from_pretrained": ".pretrained",
        "push_to_hub": ".pretrained",
        "save_pretrained": ".pretrained",
        "optimize_for_inference": ".optimize.inference",
        "quantize_int8": ".optimize.int8",
        "transforms_for": ".data.transforms",
        "predict": ".batch.api",
        "predict_to_file": ".batch.api",
        "embed": ".batch.api",
        "embed_to_file": ".batch.api",
    },
)

if TYPE_CHECKING:
    from .batch.api import embed, embed_to_file, predict, predict_to_file
    from .data.transforms import transforms_for
    from .diagrams.render import diagram
    from .losses import inception_loss
    from .models._base import InceptionNet, TrainForward, TrainOutput
    from .models._builder import create_model
    from .models._zoo import ModelInfo, list_models, model_info
    from .optimize.inference import optimize_for_inference
    from .optimize.int8 import quantize_int8
    from .pretrained import from_pretrained, push_to_hub, save_pretrained
    from .weights import load_model, save_weights
