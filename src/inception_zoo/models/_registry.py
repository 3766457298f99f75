"""The registry: every network's name, class, card, and the arguments that make it that variant.

A model file registers each variant with ``register_model(name, ModelClass, card, **fixed)``:
``fixed`` are the constructor arguments that make the variant (depths, widths, a variant
table) and that a caller may not change; ``defaults`` are the variant's own defaults for
options a caller may change (10 classes for the 32x32 profiles). Everything else the class's
keyword-only arguments accept is the caller's to choose, and anything else is refused.

The registry is complete once every model file is imported: ``models._zoo`` does that.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ArgumentError
from ._metadata import ModelCard

__all__ = ["Registration", "register_model", "registered", "registered_names"]


@dataclass(frozen=True)
class Registration:
    """One registered network: ``build(**options)`` is ``model_class(**fixed, **defaults | options)``."""

    name: str
    model_class: type
    card: ModelCard
    fixed: Mapping[str, Any] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)

    @property
    def options(self) -> list[str]:
        """The options a caller may pass: the class's keyword-only arguments, less the fixed ones."""
        parameters = inspect.signature(self.model_class.__init__).parameters
        keyword_only = [p for p, v in parameters.items() if v.kind is inspect.Parameter.KEYWORD_ONLY]
        return sorted(set(keyword_only) - set(self.fixed))

    def build(self, **options: Any):
        """The network with ``options`` (a misspelt or fixed one is refused, naming the ones it takes)."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise ArgumentError(
                f"{self.name} does not take {', '.join(unknown)}; it takes {', '.join(self.options)} "
                f"(see inception_zoo.model_info({self.name!r}))"
            )
        return self.model_class(**self.fixed, **(dict(self.defaults) | options))


_REGISTRY: dict[str, Registration] = {}


def register_model(
    name: str, model_class: type, card: ModelCard, *, defaults: Mapping[str, Any] | None = None, **fixed: Any
) -> Registration:
    """Register a variant under ``name`` (once: a second registration of a name raises)."""
    if name in _REGISTRY:
        raise ArgumentError(f"model {name!r} is registered twice")
    registration = Registration(name, model_class, card, dict(fixed), dict(defaults or {}))
    _REGISTRY[name] = registration
    return registration


def registered_names() -> list[str]:
    return sorted(_REGISTRY)


def registered(name: str) -> Registration:
    """The registration of ``name``; an unknown name gets the closest known ones."""
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known models: {', '.join(sorted(_REGISTRY))}"
        raise ArgumentError(f"unknown model {name!r}{hint}")
    return _REGISTRY[name]
