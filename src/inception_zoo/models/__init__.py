"""Every network of the family (one file per network), its registry, its metadata types and the builder.

A facade: names are imported on first use (see ``inception_zoo._lazy``).
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

__all__ = [
    "FeatureExtractor",
    "InceptionNet",
    "ModelCard",
    "ModelInfo",
    "ModelMetadata",
    "Preprocessing",
    "TrainForward",
    "TrainOutput",
    "WeightEntry",
    "create_model",
    "list_models",
    "model_info",
    "model_table",
    "register_model",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "FeatureExtractor": "._features",
        "InceptionNet": "._base",
        "TrainForward": "._base",
        "TrainOutput": "._base",
        "ModelCard": "._metadata",
        "ModelMetadata": "._metadata",
        "Preprocessing": "._metadata",
        "WeightEntry": "._metadata",
        "ModelInfo": "._zoo",
        "list_models": "._zoo",
        "model_info": "._zoo",
        "model_table": "._zoo",
        "register_model": "._registry",
        "create_model": "._builder",
    },
)

if TYPE_CHECKING:
    from ._base import InceptionNet, TrainForward, TrainOutput
    from ._builder import create_model
    from ._features import FeatureExtractor
    from ._metadata import ModelCard, ModelMetadata, Preprocessing, WeightEntry
    from ._registry import register_model
    from ._zoo import ModelInfo, list_models, model_info, model_table
