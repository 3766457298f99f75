"""What a foreign checkpoint layout is: how to recognise it and how to rename its keys."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

# (regex, replacement): a replacement string, or a function of the match where a number shifts.
Rule = tuple[str, str | Callable[[re.Match], str]]


@dataclass(frozen=True)
class Layout:
    """The key layout of one source's checkpoints of one network.

    ``signature`` keys are all present in such a checkpoint and identify it. ``rules`` are
    ``(regex, replacement)`` pairs applied in order, each to the result of the one before, and
    turn the source's keys into ours. ``numbered_features``: the source numbers the network's
    layers (``features.3.``, a Sequential) in the order of ours, so ``rename`` takes our layer
    names (``model_info(name).layers``) and puts each in for its number before the rules run.
    """

    source: str
    models: tuple[str, ...]  # the networks it loads into (sizes of one family share a layout)
    signature: tuple[str, ...]
    rules: tuple[Rule, ...]
    background_class: bool = False  # the head may carry TF-slim's extra class 0
    model_kwargs: tuple[tuple[str, object], ...] = ()  # constructor options such files need
    numbered_features: bool = False

    def matches(self, keys: Iterable[str]) -> bool:
        keys = set(keys)
        return all(k in keys for k in self.signature)

    def rename(self, key: str, layers: Sequence[str] = ()) -> str:
        if self.numbered_features:
            key = re.sub(r"^features\.(\d+)\.", lambda m: f"features.{layers[int(m[1])]}.", key)
        for pattern, replacement in self.rules:
            key = re.sub(pattern, replacement, key)
        return key


def branch_rules(layers: str, names: dict[str, str]) -> tuple[Rule, ...]:
    """Rules for blocks whose branches the source names one by one.

    ``layers`` is a regex of the blocks' layer names (already ours); ``names`` maps a source's
    module name inside such a block to our path below ``branches.``.
    """
    return tuple(
        (rf"^features\.({layers})\.{re.escape(old)}\.", rf"features.\1.branches.{new}.") for old, new in names.items()
    )


# Sources that number their branches (branch0, branch1.2, branch1_1a, ...): timm and Cadene
# ports of TF-slim's v4 and Inception-ResNet-v2.
NUMBERED_BRANCHES: tuple[Rule, ...] = (
    (r"\.branch(\d)_(\d)a\.", r".branches.\1.\2.branches.0.0."),
    (r"\.branch(\d)_(\d)b\.", r".branches.\1.\2.branches.1.0."),
    (r"\.branch(\d)_(\d)\.", r".branches.\1.\2."),
    (r"\.branch(\d)\.(\d+)\.", r".branches.\1.\2."),
    (r"\.branch(\d)\.(conv|bn)\.", r".branches.\1.0.\2."),
)
