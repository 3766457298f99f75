"""What a foreign checkpoint layout is: how to recognise it, and how to rename its keys to ours and back."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

# (regex, replacement): a replacement string, or a function of the match where a number shifts.
Rule = tuple[str, str | Callable[[re.Match], str]]


@dataclass(frozen=True)
class Reader:
    """A library whose model of the network loads this layout: its name, its name for our classifier
    (``head.fc``), how its user builds the model (``{num_classes}`` filled in), and which of the
    layout's networks that model computes (``models``; empty: all of them)."""

    library: str
    classifier: str
    builds: str
    models: tuple[str, ...] = ()

    def computes(self, name: str) -> bool:
        return not self.models or name in self.models


@dataclass(frozen=True)
class Layout:
    """The key layout of one source's checkpoints of one network.

    ``signature`` keys are all present in such a checkpoint and identify it. ``rules`` are
    ``(regex, replacement)`` pairs applied in order, each to the result of the one before, and
    turn the source's keys into ours. ``numbered_features``: the source numbers the network's
    layers (``features.3.``, a Sequential) in the order of ours, so ``rename`` takes our layer
    names (``model_info(name).layers``) and puts each in for its number before the rules run.

    ``inverse`` rules turn our keys back into the source's (``unrename``), for the ``readers``,
    each of which may name the classifier its own way. ``one_layer_branches``: the source writes
    a branch of one layer as that layer (``branch0.conv``, where ours is ``branches.0.0.conv``).
    """

    source: str
    models: tuple[str, ...]  # the networks it loads into (sizes of one family share a layout)
    signature: tuple[str, ...]
    rules: tuple[Rule, ...]
    background_class: bool = False  # the head may carry TF-slim's extra class 0
    model_kwargs: tuple[tuple[str, object], ...] = ()  # constructor options such files need
    numbered_features: bool = False
    inverse: tuple[Rule, ...] = ()
    readers: tuple[Reader, ...] = ()
    one_layer_branches: bool = False

    def matches(self, keys: Iterable[str]) -> bool:
        keys = set(keys)
        return all(k in keys for k in self.signature)

    def rename(self, key: str, layers: Sequence[str] = ()) -> str:
        if self.numbered_features:
            key = re.sub(r"^features\.(\d+)\.", lambda m: f"features.{layers[int(m[1])]}.", key)
        for pattern, replacement in self.rules:
            key = re.sub(pattern, replacement, key)
        return key

    def reader(self, library: str) -> Reader | None:
        return next((r for r in self.readers if r.library == library), None)

    def unrename(self, keys: Iterable[str], library: str, layers: Sequence[str] = ()) -> dict[str, str]:
        """Our keys -> the keys of ``library``'s model (one of ``readers``): the inverse of ``rename``."""
        rules = ((r"^head\.fc\.", f"{self.reader(library).classifier}."), *self.inverse)
        theirs = {}
        for key in keys:
            new = key
            for pattern, replacement in rules:
                new = re.sub(pattern, replacement, new)
            if self.numbered_features:
                new = re.sub(r"^features\.(\w+)\.", lambda m: f"features.{layers.index(m[1])}.", new)
            theirs[key] = new
        if self.one_layer_branches:
            theirs = _bare_one_layer_branches(theirs)
        return theirs


def _bare_one_layer_branches(theirs: dict[str, str]) -> dict[str, str]:
    """``...branch0.0.conv.*`` -> ``...branch0.conv.*`` where the branch has no layer 1."""
    sequences = {m[1] for key in theirs.values() if (m := re.match(r"^(.*\.branch\d)\.[1-9]\d*\.", key))}
    return {
        ours: re.sub(r"^(.*\.branch\d)\.0\.(conv|bn)\.", r"\1.\2.", key)
        if (m := re.match(r"^(.*\.branch\d)\.0\.", key)) and m[1] not in sequences
        else key
        for ours, key in theirs.items()
    }


def branch_rules(layers: str, names: dict[str, str]) -> tuple[Rule, ...]:
    """Rules for blocks whose branches the source names one by one.

    ``layers`` is a regex of the blocks' layer names (already ours); ``names`` maps a source's
    module name inside such a block to our path below ``branches.``.
    """
    return tuple(
        (rf"^features\.({layers})\.{re.escape(old)}\.", rf"features.\1.branches.{new}.") for old, new in names.items()
    )


def inverse_branch_rules(layers: str, names: dict[str, str]) -> tuple[Rule, ...]:
    """``branch_rules`` the other way; the longest of our paths first (``1.1.branches.0.0`` before ``1.1``)."""
    return tuple(
        (rf"^features\.({layers})\.branches\.{re.escape(new)}\.", rf"features.\1.{old}.")
        for old, new in sorted(names.items(), key=lambda item: -len(item[1]))
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
# The way back, with ``one_layer_branches`` for the single convs (branch0.conv).
NUMBERED_BRANCHES_INVERSE: tuple[Rule, ...] = ((r"\.branches\.(\d)\.(\d+)\.", r".branch\1.\2."),)
