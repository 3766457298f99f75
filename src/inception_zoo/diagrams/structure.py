"""What a network is made of, read from the built model: the description its figures are drawn from.

One walker for the whole family. It knows the shared blocks of ``layers`` (``Branches``,
``SplitBranches``, ``InceptionResidual``, ``Residual``, and the sequences such as
``ConvNormAct``) and torch's own layers, never a model file: a new network made of the shared
blocks is described without a change here. Any other module with children is read as a sequence
of them, after checking that they ran in that order; a module it does not know is drawn as one
box named after its class, with its output shape. Shapes come from one forward pass on the
``meta`` device (no memory, no arithmetic) at the network's default input size, with a hook on
every module.

Everything here is plain frozen data, equal when two modules would be drawn the same: that is
how the gallery finds the modules that share one figure.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
from dataclasses import dataclass

import torch
from torch import nn
from torchvision.ops import StochasticDepth

from ..errors import ArgumentError
from ..layers import AvgPoolClipped, Branches, InceptionResidual, LayerScale, Residual, SplitBranches
from ..models._registry import Registration
from ..models._zoo import registered

__all__ = [
    "Chain",
    "Layer",
    "ModuleDiagram",
    "NetworkDiagram",
    "Parallel",
    "Stage",
    "Sum",
    "describe_module",
    "describe_network",
    "format_shape",
]

Shape = tuple[int, ...]  # one sample's: (channels, height, width), or (features,)


def format_shape(shape: Shape) -> str:
    """``(768, 17, 17)`` -> ``"768x17x17"``."""
    return "x".join(map(str, shape))


@dataclass(frozen=True)
class Layer:
    """One box. ``kind`` picks its style: conv, pool, norm, act, fc, scale, identity, other, join or split.

    ``title`` names the operation with its kernel and output channels ("1x7 conv, 128"); ``details``
    are its geometry ("stride 2 · valid"); ``extras`` what the conv carries and what follows it in the
    same box (bias, BN, ReLU).
    """

    kind: str
    title: str
    details: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()


@dataclass(frozen=True)
class Chain:
    """Steps run one after the other."""

    steps: tuple[Node, ...]


@dataclass(frozen=True)
class Parallel:
    """Branches over one input, joined by ``join`` (a concatenation); ``outputs`` is each branch's output
    shape. With ``split``, each branch reads one group of the input's channels instead of all of them."""

    branches: tuple[Node, ...]
    outputs: tuple[Shape, ...]
    join: Layer
    split: Layer | None = None


@dataclass(frozen=True)
class Sum:
    """``body(x) + shortcut(x)``; no ``shortcut`` is the identity."""

    body: Node
    shortcut: Node | None
    join: Layer


Node = Layer | Chain | Parallel | Sum


@dataclass(frozen=True)
class ModuleDiagram:
    """One layer of a network, drawn alone: its class's name, the shapes in and out, and what it computes."""

    title: str
    input: Shape
    output: Shape
    body: Node

    @property
    def is_composite(self) -> bool:
        """Branches or a residual somewhere inside: what earns a module figure of its own."""
        return _composite(self.body)


@dataclass(frozen=True)
class Stage:
    """A row of a network figure: consecutive layers that would be drawn the same (``module``)."""

    layers: tuple[str, ...]
    module: ModuleDiagram
    stem: bool
    side_classifier: bool = False  # a side classifier reads the last layer's output (aux_logits=True)


@dataclass(frozen=True)
class NetworkDiagram:
    """A network figure: the input, the stem's layers and the modules in order (``stages``), then the head."""

    name: str
    paper: str
    arxiv: str
    input: Shape
    stages: tuple[Stage, ...]
    head: Node
    output: Shape

    @property
    def layers(self) -> tuple[str, ...]:
        """The layers of the rows, in order: the names ``describe_module`` takes."""
        return tuple(layer for stage in self.stages for layer in stage.layers)


def describe_network(name: str) -> NetworkDiagram:
    """The network figure of a registered network, at its default input size and default build
    (no side classifiers; the rows they would read are marked).

    Example:
        >>> [(s.module.title, len(s.layers)) for s in describe_network("inception_v4").stages][-2:]
        [('Reduction-B', 1), ('Inception-C', 3)]
    """
    return _walked(name).network


def describe_module(name: str, layer: str) -> ModuleDiagram:
    """The module figure of ``layer`` of network ``name``: a row of its network figure (see
    ``describe_network(name).layers``), or any module inside one by its dotted name.

    Example:
        >>> describe_module("inception_v3", "Mixed_6b").output
        (768, 17, 17)
    """
    walked = _walked(name)
    units = dict(walked.units)
    if layer in units:
        return units[layer]
    module = dict(walked.model.features.named_modules()).get(layer) if layer else None
    if module is None:
        names = list(units)
        close = difflib.get_close_matches(layer, names, n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise ArgumentError(
            f"block {layer!r} is not a layer of {name}: {hint}its layers are {', '.join(names)}", option="block"
        )
    return walked.walker.module_diagram(module, layer)


# -- walking a built network -----------------------------------------------------------------------


@dataclass
class _Walked:
    model: nn.Module
    walker: _Walker
    units: list[tuple[str, ModuleDiagram]]
    network: NetworkDiagram


@functools.cache
def _walked(name: str) -> _Walked:
    registration = registered(name)
    with torch.device("meta"):
        model = registration.build().eval()
    walker = _Walker(model, registration.card.input_size)
    units = [(layer, walker.module_diagram(module, layer)) for layer, module in _units(model)]
    side = set(_side_classifier_layers(registration))
    stem = set(model.stem_layers)
    stages: list[Stage] = []
    for layer, module in units:
        in_stem = layer.split(".")[0] in stem
        last = stages[-1] if stages else None
        if last and last.module == module and last.stem == in_stem and not last.side_classifier:
            stages[-1] = dataclasses.replace(last, layers=last.layers + (layer,), side_classifier=layer in side)
        else:
            stages.append(Stage((layer,), module, in_stem, side_classifier=layer in side))
    card = registration.card
    network = NetworkDiagram(
        name=name,
        paper=card.paper.title,
        arxiv=card.paper.arxiv,
        input=tuple(card.input_size),
        stages=tuple(stages),
        head=walker.head(model.head),
        output=walker.output_of(model.head),
    )
    return _Walked(model, walker, units, network)


def _side_classifier_layers(registration: Registration) -> tuple[str, ...]:
    """The layers whose output the side classifiers read, in the build with them (none if it has none)."""
    if registration.card.aux_loss_weight is None:
        return ()
    with torch.device("meta"):
        return tuple(registration.build(aux_logits=True).aux_heads)


def _units(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The rows of the network figure: the layers of ``features``, a plain ``nn.Sequential`` of modules
    (InceptionNeXt's stages) opened into its own layers, by dotted name."""

    def expand(prefix: str, module: nn.Module):
        if type(module) is nn.Sequential and any(_holds_modules(child) for child in module.children()):
            for name, child in module.named_children():
                yield from expand(f"{prefix}.{name}", child)
        else:
            yield prefix, module

    return [unit for name, layer in model.features.named_children() for unit in expand(name, layer)]


def _holds_modules(module: nn.Module) -> bool:
    if isinstance(module, Branches | Residual):
        return True
    return type(module) is nn.Sequential and any(_holds_modules(child) for child in module.children())


def _composite(node: Node) -> bool:
    if isinstance(node, Parallel | Sum):
        return True
    return isinstance(node, Chain) and any(_composite(step) for step in node.steps)


def display_name(cls: type) -> str:
    """A class's name as a figure says it: ``InceptionB`` -> "Inception-B", ``ReductionA`` -> "Reduction-A"."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z]$)", "-", cls.__name__)


class _Walker:
    """Describes the modules of one built network, with the shapes and call order of one forward pass."""

    def __init__(self, model: nn.Module, input_size: tuple[int, int, int]) -> None:
        self.shapes: dict[int, tuple[Shape, Shape]] = {}
        self.order: dict[int, int] = {}

        def record(module: nn.Module, args: tuple, output) -> None:
            if id(module) not in self.order:
                self.order[id(module)] = len(self.order)
                inputs = args[0].shape[1:] if args and isinstance(args[0], torch.Tensor) else ()
                outputs = output.shape[1:] if isinstance(output, torch.Tensor) else ()
                self.shapes[id(module)] = (tuple(inputs), tuple(outputs))

        hooks = [module.register_forward_hook(record) for module in model.modules()]
        try:
            with torch.no_grad():
                model(torch.empty(1, *input_size, device="meta"))
        finally:
            for hook in hooks:
                hook.remove()

    def input_of(self, module: nn.Module) -> Shape:
        return self.shapes[id(module)][0]

    def output_of(self, module: nn.Module) -> Shape:
        return self.shapes[id(module)][1]

    def module_diagram(self, module: nn.Module, layer: str) -> ModuleDiagram:
        title = layer.rsplit(".", 1)[-1] if type(module) is nn.Sequential else display_name(type(module))
        body = self.node(module) or Layer("identity", "identity")
        return ModuleDiagram(title, self.input_of(module), self.output_of(module), body)

    def head(self, head: nn.Module) -> Node:
        """The classifier head: its global pool (a function of its forward, named by ``head.pool``), then its layers."""
        pool = getattr(head, "pool", "")
        steps = [Layer("pool", f"global {pool} pool")] if isinstance(pool, str) and pool else []
        return self.chain([*steps, *self.children_in_order(head)]) or Layer("identity", "identity")

    # -- nodes ------------------------------------------------------------------------------------

    def node(self, module: nn.Module) -> Node | None:
        """What ``module`` computes; None for what computes nothing (an identity, a dropout of 0)."""
        if isinstance(module, SplitBranches):
            sizes = " | ".join(map(str, module.split_sizes))
            return self.parallel(module, split=Layer("split", "split channels", (sizes,)))
        if isinstance(module, InceptionResidual):
            residual = self.chain([self.parallel(module), module.project, Layer("scale", f"scale ×{module.scale:g}")])
            return self.chain([Sum(residual, None, Layer("join", "add")), module.act])
        if isinstance(module, Branches):
            return self.parallel(module)
        if isinstance(module, Residual):
            shortcut = None if module.shortcut is None else self.node(module.shortcut)
            return Sum(self.node(module.body) or Layer("identity", "identity"), shortcut, Layer("join", "add"))
        if isinstance(module, nn.Sequential):
            return self.chain(list(module.children()))
        leaf = self.leaf(module)
        if leaf is not False:
            return leaf
        children = self.children_in_order(module)
        if children:
            return self.chain(children)
        shape = format_shape(self.output_of(module)) if id(module) in self.shapes else "?"
        return Layer("other", display_name(type(module)), (f"output {shape}",))

    def children_in_order(self, module: nn.Module) -> list[nn.Module]:
        """The children that ran, if they ran in the order they were registered (a sequence); else none."""
        ran = [child for child in module.children() if id(child) in self.order]
        calls = [self.order[id(child)] for child in ran]
        return ran if calls == sorted(calls) else []

    def parallel(self, module: Branches, split: Layer | None = None) -> Parallel:
        branches = tuple(self.node(branch) or Layer("identity", "identity") for branch in module.branches)
        outputs = tuple(self.output_of(branch) for branch in module.branches)
        return Parallel(branches, outputs, Layer("join", "concat"), split)

    def chain(self, items: list[nn.Module | Node | None]) -> Node | None:
        """The steps of ``items`` (modules or nodes), nested chains flattened, each norm and activation
        that follows a conv or a linear layer drawn in its box."""
        steps: list[Node] = []
        for item in items:
            node = self.node(item) if isinstance(item, nn.Module) else item
            for step in node.steps if isinstance(node, Chain) else (node,) if node is not None else ():
                previous = steps[-1] if steps else None
                if (
                    isinstance(step, Layer)
                    and step.kind in ("norm", "act")
                    and isinstance(previous, Layer)
                    and previous.kind in ("conv", "fc")
                ):
                    steps[-1] = dataclasses.replace(previous, extras=previous.extras + (step.title,))
                else:
                    steps.append(step)
        if not steps:
            return None
        return steps[0] if len(steps) == 1 else Chain(tuple(steps))

    def leaf(self, module: nn.Module) -> Layer | None | bool:
        """A layer torch or ``layers`` defines, as a box (None: it computes nothing); False if not one of those."""
        if isinstance(module, nn.Conv2d):
            return _conv(module)
        if isinstance(module, nn.MaxPool2d | nn.AvgPool2d | AvgPoolClipped):
            return _pool(module)
        if isinstance(module, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d):
            kind = "max" if isinstance(module, nn.AdaptiveMaxPool2d) else "avg"
            size = module.output_size if isinstance(module.output_size, tuple) else (module.output_size,) * 2
            return Layer("pool", f"adaptive {kind} pool", (f"to {size[0]}x{size[1]}",))
        if isinstance(module, nn.Linear):
            return Layer("fc", f"fc, {module.out_features}")
        if isinstance(module, nn.BatchNorm2d | nn.BatchNorm1d):
            return Layer("norm", "BN")
        if isinstance(module, nn.LayerNorm):
            return Layer("norm", "LayerNorm")
        if isinstance(module, nn.LocalResponseNorm):
            return Layer("norm", "LRN", (f"size {module.size}",))
        if isinstance(module, nn.ReLU | nn.GELU | nn.SiLU | nn.Sigmoid | nn.Tanh):
            return Layer("act", type(module).__name__)
        if isinstance(module, nn.Dropout):
            return Layer("other", f"dropout {module.p:g}") if module.p else None
        if isinstance(module, StochasticDepth):
            return Layer("other", f"drop path {module.p:g}") if module.p else None
        if isinstance(module, LayerScale):
            return Layer("scale", "layer scale", ("learnt, per channel",))
        if isinstance(module, nn.Identity):
            return None
        return False


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def _size(value) -> str:
    a, b = _pair(value)
    return f"{a}" if a == b else f"{a}x{b}"


def _padding(padding, kernel: tuple[int, int], stride: tuple[int, int]) -> str:
    if isinstance(padding, str):
        return padding
    padding = _pair(padding)
    if padding == (0, 0):
        return "valid"
    if stride == (1, 1) and padding == (kernel[0] // 2, kernel[1] // 2) and kernel[0] % 2 and kernel[1] % 2:
        return "same"
    return f"pad {_size(padding)}"


def _conv(conv: nn.Conv2d) -> Layer:
    kernel, stride = _pair(conv.kernel_size), _pair(conv.stride)
    if conv.groups > 1 and conv.groups == conv.in_channels:
        what = "depthwise conv"
    elif conv.groups > 1:
        what = f"conv ({conv.groups} groups)"
    else:
        what = "conv"
    details = [f"stride {_size(stride)}", _padding(conv.padding, kernel, stride)]
    if _pair(conv.dilation) != (1, 1):
        details.append(f"dilation {_size(conv.dilation)}")
    extras = ("bias",) if conv.bias is not None else ()
    return Layer("conv", f"{kernel[0]}x{kernel[1]} {what}, {conv.out_channels}", (" · ".join(details),), extras)


def _pool(pool: nn.Module) -> Layer:
    kind = "max" if isinstance(pool, nn.MaxPool2d) else "avg"
    kernel = _pair(pool.kernel_size)
    stride = _pair(pool.stride if pool.stride is not None else pool.kernel_size)
    details = [f"stride {_size(stride)}", _padding(getattr(pool, "padding", 0), kernel, stride)]
    if pool.ceil_mode:
        details.append("ceil")
    notes = []
    if isinstance(pool, nn.AvgPool2d) and not pool.count_include_pad and _pair(pool.padding) != (0, 0):
        notes.append("padding not counted")
    if isinstance(pool, AvgPoolClipped):
        notes.append("window clipped to the map")
    return Layer("pool", f"{kernel[0]}x{kernel[1]} {kind} pool", (" · ".join(details), *notes))
