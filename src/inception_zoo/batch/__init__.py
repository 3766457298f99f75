"""Predictions and embeddings over many images: streaming, resumable, sharded under torchrun, on Ray Data.

A facade: names are imported on first use (see ``inception_zoo._lazy``).
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

__all__ = [
    "IMAGE_SUFFIXES",
    "Embedder",
    "Embedding",
    "Prediction",
    "Predictor",
    "RunOptions",
    "Summary",
    "embed",
    "embed_to_file",
    "predict",
    "predict_to_file",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "IMAGE_SUFFIXES": ".inputs",
        "Embedder": ".ray_data",
        "Predictor": ".ray_data",
        "Embedding": ".tasks",
        "Prediction": ".tasks",
        "RunOptions": ".job",
        "Summary": ".job",
        "embed": ".api",
        "embed_to_file": ".api",
        "predict": ".api",
        "predict_to_file": ".api",
    },
)

if TYPE_CHECKING:
    from .api import embed, embed_to_file, predict, predict_to_file
    from .inputs import IMAGE_SUFFIXES
    from .job import RunOptions, Summary
    from .ray_data import Embedder, Predictor
    from .tasks import Embedding, Prediction
