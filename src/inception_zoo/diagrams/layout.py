"""Where every box, line and word of a figure goes: a description (``structure``) laid out as a
``Drawing``, plain data in points (y grows downwards) that ``render`` paints.

One style for the whole family: a module figure is the input on top, one column per branch
(a branch that splits again splits into columns), the join, and the output, each box saying
its operation, kernel and output channels, its stride and padding, and what it carries (bias,
BN, ReLU); each branch's output shape is written where it enters the join. A network figure
is one column of rows, the stem's layers in a band, then the modules with their repeat counts,
the shape after each row, and the head. Text is measured with the DejaVu Sans that matplotlib
ships (not a system font), so the same description gives the same drawing on every machine.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import needs_extra
from .structure import Chain, Layer, ModuleDiagram, NetworkDiagram, Node, Parallel, Stage, Sum, format_shape

with needs_extra("diagram", "figures of networks and modules"):
    import matplotlib
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

__all__ = ["Box", "Drawing", "Line", "Text", "layout_module", "layout_network"]

TITLE_PT, DETAIL_PT, LABEL_PT, HEADING_PT = 8.5, 7.0, 6.5, 11.0
LINE = 1.3  # line height, in font sizes
PAD_X, PAD_Y = 6.0, 4.0  # inside a box
ARROW = 12.0  # between boxes one above the other
COLUMN_GAP = 10.0  # between branches
FORK = 14.0  # from a fork to the boxes below it
LABEL_ROW = 10.0  # for the branches' output shapes, above the join
LANE = 20.0  # an identity shortcut, beside the body
MARGIN = 12.0
ROW_GAP = 10.0  # between the rows of a network figure
SPACE = 6.0  # between a row's title and its details


@dataclass(frozen=True)
class Box:
    """A rounded rectangle; ``kind`` picks its fill (a ``Layer.kind``, or io, module, side, stem)."""

    x: float
    y: float
    w: float
    h: float
    kind: str


@dataclass(frozen=True)
class Text:
    """One line of text at ``(x, y)``: ``ha`` left, center or right of it; vertically centred on it."""

    x: float
    y: float
    text: str
    size: float
    bold: bool = False
    grey: bool = False
    ha: str = "center"
    rotation: int = 0


@dataclass(frozen=True)
class Line:
    """A polyline; ``arrow``: a head at its last point; ``dashed`` for what the default build leaves out."""

    points: tuple[tuple[float, float], ...]
    arrow: bool = False
    dashed: bool = False


@dataclass(frozen=True)
class Drawing:
    width: float
    height: float
    items: tuple[Box | Text | Line, ...]

    @property
    def texts(self) -> list[str]:
        return [item.text for item in self.items if isinstance(item, Text)]


def _font_file(bold: bool) -> str:
    return str(
        Path(matplotlib.get_data_path()) / "fonts" / "ttf" / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    )


@functools.cache
def font(size: float, bold: bool = False) -> FontProperties:
    """DejaVu Sans as matplotlib ships it, by file (never a system font of the same name), for measuring
    and for pixels; an SVG names its family and weight, and viewers without it use the next sans-serif."""
    return FontProperties(family="sans-serif", weight="bold" if bold else "normal", fname=_font_file(bold), size=size)


@functools.cache
def text_width(text: str, size: float, bold: bool = False) -> float:
    return text_to_path.get_text_width_height_descent(text, font(size, bold), ismath=False)[0]


def _r(value: float) -> float:
    return round(value, 2)


class _Out:
    """The items of a drawing as they are placed, coordinates rounded (the same layout, the same numbers)."""

    def __init__(self) -> None:
        self.items: list[Box | Text | Line] = []

    def box(self, x: float, y: float, w: float, h: float, kind: str) -> None:
        self.items.append(Box(_r(x), _r(y), _r(w), _r(h), kind))

    def text(self, x: float, y: float, text: str, size: float, **style) -> None:
        self.items.append(Text(_r(x), _r(y), text, size, **style))

    def line(self, *points: tuple[float, float], arrow: bool = False, dashed: bool = False) -> None:
        kept = [points[0]]
        for point in points[1:]:  # drop repeated points: an elbow between aligned ends is a straight line
            if point != kept[-1]:
                kept.append(point)
        if len(kept) > 1:
            self.items.append(Line(tuple((_r(x), _r(y)) for x, y in kept), arrow, dashed))


# -- the blocks of a module figure -----------------------------------------------------------------
# Each knows its size and its axis (how far from its left edge lines come in at the top and leave at
# the bottom). ``place(out, axis, y, half)`` draws it with its axis at x = ``axis`` from y = ``y``
# down; a box that stretches is ``2 * half`` wide. It returns where lines come in and leave.


@dataclass
class _Lines:
    """The lines of a box: (text, size, bold)."""

    lines: list[tuple[str, float, bool]]

    @property
    def width(self) -> float:
        return max(text_width(text, size, bold) for text, size, bold in self.lines) + 2 * PAD_X

    @property
    def height(self) -> float:
        return sum(size * LINE for _, size, _ in self.lines) + 2 * PAD_Y

    def draw(self, out: _Out, x: float, y: float, w: float, h: float) -> None:
        cursor = y + (h - (self.height - 2 * PAD_Y)) / 2
        for text, size, bold in self.lines:
            out.text(x + w / 2, cursor + size * LINE / 2, text, size, bold=bold)
            cursor += size * LINE


def layer_lines(layer: Layer) -> _Lines:
    lines = [(layer.title, TITLE_PT, True)] + [(detail, DETAIL_PT, False) for detail in layer.details]
    if layer.extras:
        lines.append((" · ".join(layer.extras), DETAIL_PT, False))
    return _Lines(lines)


@dataclass
class _Leaf:
    lines: _Lines
    kind: str
    min_height: float = 0.0
    stretch: bool = True  # as wide as the column it is in
    width: float = field(init=False)
    height: float = field(init=False)
    takes_arrow = True  # the line into it ends in an arrow head

    def __post_init__(self) -> None:
        self.width = self.lines.width
        self.height = max(self.lines.height, self.min_height)
        self.axis = self.width / 2

    def place(self, out: _Out, axis: float, y: float, half: float):
        w = max(2 * half, self.width) if self.stretch else self.width
        out.box(axis - w / 2, y, w, self.height, self.kind)
        self.lines.draw(out, axis - w / 2, y, w, self.height)
        return (axis, y), (axis, y + self.height)


@dataclass
class _Chain:
    steps: list
    width: float = field(init=False)
    height: float = field(init=False)

    def __post_init__(self) -> None:
        self.axis = max(step.axis for step in self.steps)
        self.width = self.axis + max(step.width - step.axis for step in self.steps)
        self.height = sum(step.height for step in self.steps) + ARROW * (len(self.steps) - 1)
        self.half = min(self.axis, self.width - self.axis)  # what its boxes stretch to: symmetric about the axis

    @property
    def takes_arrow(self) -> bool:
        return self.steps[0].takes_arrow

    def place(self, out: _Out, axis: float, y: float, half: float):
        entry = previous = None
        for step in self.steps:
            top, bottom = step.place(out, axis, y, max(self.half, half))
            if previous is not None:
                out.line(previous, top, arrow=step.takes_arrow)
            entry = entry or top
            previous = bottom
            y += step.height + ARROW
        return entry, previous


@dataclass
class _Parallel:
    branches: list
    outputs: list[str]
    join: _Leaf
    split: _Leaf | None
    width: float = field(init=False)
    height: float = field(init=False)

    def __post_init__(self) -> None:
        # Each branch's column holds its output shape, written right of its line.
        self.columns = [
            max(branch.width, 2 * (text_width(shape, LABEL_PT) + 4))
            for branch, shape in zip(self.branches, self.outputs, strict=True)
        ]
        self.row = sum(self.columns) + COLUMN_GAP * (len(self.branches) - 1)
        self.width = max(self.row, self.join.width, self.split.width if self.split else 0)
        self.axis = self.width / 2
        top = self.split.height + FORK / 2 if self.split else 0
        self.height = top + FORK + max(branch.height for branch in self.branches) + LABEL_ROW + FORK + self.join.height

    @property
    def takes_arrow(self) -> bool:
        return self.split is not None

    def place(self, out: _Out, axis: float, y: float, half: float):
        entry = (axis, y)
        if self.split:
            entry, (_, y) = self.split.place(out, axis, y, 0)
            out.line((axis, y), (axis, y + FORK / 2))
            y += FORK / 2
        bus, top = y + FORK / 2, y + FORK
        tallest = max(branch.height for branch in self.branches)
        join_y = top + tallest + LABEL_ROW + FORK
        bus_in = join_y - FORK / 2
        out.line((axis, y), (axis, bus))
        left = axis - self.row / 2
        for branch, shape, column in zip(self.branches, self.outputs, self.columns, strict=True):
            branch_half = min(branch.axis, branch.width - branch.axis)
            branch_axis = left + (column - branch.width) / 2 + branch.axis
            (bx, by), (ex, ey) = branch.place(out, branch_axis, top, branch_half)
            out.line((axis, bus), (bx, bus), (bx, by), arrow=branch.takes_arrow)
            out.line((ex, ey), (ex, bus_in), (axis, bus_in))
            out.text(ex + 2, top + tallest + LABEL_ROW / 2, shape, LABEL_PT, grey=True, ha="left")
            left += column + COLUMN_GAP
        out.line((axis, bus_in), (axis, join_y), arrow=True)
        _, bottom = self.join.place(out, axis, join_y, 0)
        return entry, bottom


@dataclass
class _Sum:
    body: object
    shortcut: object | None  # None: the identity
    join: _Leaf
    width: float = field(init=False)
    height: float = field(init=False)
    takes_arrow = False  # the line into it ends at a fork

    def __post_init__(self) -> None:
        self.axis = self.body.axis
        side = self.shortcut.width + COLUMN_GAP if self.shortcut else LANE
        self.width = self.body.width + side
        self.height = FORK + self.tallest + ARROW + self.join.height

    @property
    def tallest(self) -> float:
        return max(self.body.height, self.shortcut.height if self.shortcut else 0)

    def place(self, out: _Out, axis: float, y: float, half: float):
        body_right = axis - self.body.axis + self.body.width
        fork = (axis, y + FORK / 2)
        (bx, by), (ex, ey) = self.body.place(out, axis, y + FORK, min(self.body.axis, self.body.width - self.body.axis))
        out.line((axis, y), (bx, by), arrow=self.body.takes_arrow)
        join_y = y + FORK + self.tallest + ARROW
        _, bottom = self.join.place(out, axis, join_y, 0)
        out.line((ex, ey), (axis, join_y), arrow=True)
        join_side = (axis + self.join.width / 2, join_y + self.join.height / 2)
        if self.shortcut is None:
            lane = body_right + LANE / 2
            out.line(fork, (lane, fork[1]), (lane, join_side[1]), join_side, arrow=True)
            out.text(lane + LABEL_PT * 0.9, (fork[1] + join_side[1]) / 2, "identity", LABEL_PT, grey=True, rotation=90)
        else:
            shortcut = self.shortcut
            shortcut_axis = body_right + COLUMN_GAP + shortcut.axis
            half_width = min(shortcut.axis, shortcut.width - shortcut.axis)
            (tx, ty), (sx, sy) = shortcut.place(out, shortcut_axis, y + FORK, half_width)
            out.line(fork, (tx, fork[1]), (tx, ty), arrow=shortcut.takes_arrow)
            out.line((sx, sy), (sx, join_side[1]), join_side, arrow=True)
        return (axis, y), bottom


class _Builder:
    """Blocks for the nodes of one figure; every layer box as tall as the tallest, so that rows line up."""

    def __init__(self, root: Node) -> None:
        heights = [layer_lines(layer).height for layer in _layers(root) if layer.kind in _ALIGNED]
        self.box_height = max(heights, default=0.0)

    def block(self, node: Node):
        if isinstance(node, Layer):
            aligned = self.box_height if node.kind in _ALIGNED else 0.0
            return _Leaf(layer_lines(node), node.kind, aligned, stretch=node.kind not in _SMALL)
        if isinstance(node, Chain):
            return _Chain([self.block(step) for step in node.steps])
        if isinstance(node, Parallel):
            return _Parallel(
                [self.block(branch) for branch in node.branches],
                [format_shape(shape) for shape in node.outputs],
                self.block(node.join),
                self.block(node.split) if node.split else None,
            )
        if isinstance(node, Sum):
            return _Sum(
                self.block(node.body), self.block(node.shortcut) if node.shortcut else None, self.block(node.join)
            )
        raise TypeError(f"not a node of a figure: {node!r}")


_SMALL = ("join", "split", "io")  # boxes as small as their text
_ALIGNED = ("conv", "pool", "fc")  # boxes all as tall as the tallest of them, so that branches line up


def _layers(node: Node):
    if isinstance(node, Layer):
        yield node
    elif isinstance(node, Chain):
        for step in node.steps:
            yield from _layers(step)
    elif isinstance(node, Parallel):
        for branch in node.branches:
            yield from _layers(branch)
        yield node.join
        if node.split:
            yield node.split
    elif isinstance(node, Sum):
        yield from _layers(node.body)
        if node.shortcut:
            yield from _layers(node.shortcut)
        yield node.join


def _heading(out: _Out, lines: list[tuple[str, float, bool, bool]]) -> tuple[float, float]:
    """Lines of (text, size, bold, grey) at the top left; returns their width and where they end."""
    y = MARGIN
    for text, size, bold, grey in lines:
        out.text(MARGIN, y + size * LINE / 2, text, size, bold=bold, grey=grey, ha="left")
        y += size * LINE
    return max(text_width(text, size, bold) for text, size, bold, _ in lines), y


def layout_module(module: ModuleDiagram) -> Drawing:
    """The module figure: its name, the input, what it computes, the output."""
    out = _Out()
    heading_width, y = _heading(out, [(module.title, HEADING_PT, True, False)])
    builder = _Builder(module.body)
    io = [
        Layer("io", "input", (format_shape(module.input),)),
        module.body,
        Layer("io", "output", (format_shape(module.output),)),
    ]
    figure = _Chain([builder.block(node) for node in io])
    width = max(heading_width, figure.width) + 2 * MARGIN
    figure.place(out, (width - figure.width) / 2 + figure.axis, y + ARROW, 0)
    return Drawing(_r(width), _r(y + ARROW + figure.height + MARGIN), tuple(out.items))


# -- network figures --------------------------------------------------------------------------------


def drawn_alone(module: ModuleDiagram) -> bool:
    """Whether a layer gets a module figure of its own (branches, a residual, or more than three layers);
    else the network figure shows what it computes in its row."""
    return module.is_composite or len(list(_layers(module.body))) > 3


def summary(node: Node) -> str:
    """What a module figure shows, in a few words, for its row in the network figure."""
    if isinstance(node, Parallel):
        return f"{len(node.branches)} {'channel groups' if node.split else 'branches'}, concat"
    if isinstance(node, Sum):
        inner = next((n for n in _nodes(node.body) if isinstance(n, Parallel)), None)
        words = ["residual" + (f" over {summary(inner)}" if inner else "")]
        words += [layer.title for layer in _layers(node.body) if layer.kind == "scale"]
        if node.shortcut is not None:
            words.append("projection shortcut")
        return ", ".join(words)
    if isinstance(node, Chain):
        parts = [summary(step) for step in node.steps if isinstance(step, Parallel | Sum)]
        parts += [step.title for step in node.steps[1:] if isinstance(step, Layer) and step.kind == "act" and parts]
        return ", then ".join(parts) if parts else f"{len(node.steps)} layers"
    return node.title


def _nodes(node: Node):
    """``node`` and every node inside it, shortcuts left out."""
    yield node
    inner = node.steps if isinstance(node, Chain) else node.branches if isinstance(node, Parallel) else ()
    for child in (node.body,) if isinstance(node, Sum) else inner:
        yield from _nodes(child)


@dataclass
class _RowLines:
    """The lines of a row's box, one per layer: its title in bold, then its details, on one line."""

    lines: list[tuple[str, str]]

    def _width(self, title: str, detail: str) -> float:
        return text_width(title, TITLE_PT, True) + (SPACE + text_width(detail, DETAIL_PT) if detail else 0)

    @property
    def width(self) -> float:
        return max(self._width(title, detail) for title, detail in self.lines) + 2 * PAD_X

    @property
    def height(self) -> float:
        return len(self.lines) * TITLE_PT * LINE + 2 * PAD_Y

    def draw(self, out: _Out, x: float, y: float, w: float) -> None:
        for i, (title, detail) in enumerate(self.lines):
            left = x + (w - self._width(title, detail)) / 2
            middle = y + PAD_Y + (i + 0.5) * TITLE_PT * LINE
            out.text(left, middle, title, TITLE_PT, bold=True, ha="left")
            if detail:
                out.text(left + text_width(title, TITLE_PT, True) + SPACE, middle, detail, DETAIL_PT, ha="left")


@dataclass
class _Row:
    """A row of a network figure: the layers' names on its left, its box, and the shape after it on its right."""

    names: str
    lines: _RowLines
    kind: str
    shape: str | None = None
    stem: bool = False
    side_classifier: bool = False


def _row(stage: Stage) -> _Row:
    module = stage.module
    if drawn_alone(module):
        count = f" ×{len(stage.layers)}" if len(stage.layers) > 1 else ""
        lines, kind = [(module.title + count, summary(module.body))], "module"
    else:
        lines, kind = _chain_lines(module.body), next(_layers(module.body)).kind
    names = ", ".join(stage.layers) if len(stage.layers) <= 2 else f"{stage.layers[0]} … {stage.layers[-1]}"
    return _Row(names, _RowLines(lines), kind, format_shape(module.output), stage.stem, stage.side_classifier)


def _chain_lines(node: Node) -> list[tuple[str, str]]:
    """Each layer's title, and its details and extras."""
    return [(layer.title, " · ".join((*layer.details, *layer.extras))) for layer in _layers(node)]


def layout_network(network: NetworkDiagram) -> Drawing:
    """The network figure: input, the stem's rows (in a band), the modules' rows with repeat counts, the head,
    the output, and the shape after each row; a side classifier's box beside the row it reads. One line a
    layer, so that the deepest network fits a page."""
    out = _Out()
    heading_width, y = _heading(
        out,
        [
            (network.name, HEADING_PT, True, False),
            (f"{network.paper} (arXiv {network.arxiv})", DETAIL_PT, False, True),
            (f"default build at {format_shape(network.input)}; shapes of one image", DETAIL_PT, False, True),
        ],
    )
    rows = [_row(stage) for stage in network.stages] + [_Row("head", _RowLines(_chain_lines(network.head)), "fc")]
    io_in = _RowLines([("input", format_shape(network.input))])
    io_out = _RowLines([("output", format_shape(network.output))])
    side = _RowLines([("side classifier", "aux_logits=True")])
    row_width = max(150.0, *(row.lines.width for row in rows))
    band = LABEL_PT * 2  # the stem's label, turned on its side
    left = MARGIN + band + max(text_width(row.names, LABEL_PT) for row in rows) + 8
    shapes = max(text_width(row.shape or "", LABEL_PT) for row in rows) + 8
    after = shapes + (side.width + 16 if any(row.side_classifier for row in rows) else 0)
    width = max(left + row_width + after + MARGIN, heading_width + 2 * MARGIN)
    centre = left + row_width / 2

    y += ARROW
    out.box(centre - io_in.width / 2, y, io_in.width, io_in.height, "io")
    io_in.draw(out, centre - io_in.width / 2, y, io_in.width)
    previous = (centre, y + io_in.height)
    y += io_in.height + ROW_GAP
    stem = []
    for row in rows:
        h = row.lines.height
        if row.stem:
            stem += [y - ROW_GAP / 2, y + h + ROW_GAP / 2]
        out.line(previous, (centre, y), arrow=True)
        out.box(left, y, row_width, h, row.kind)
        row.lines.draw(out, left, y, row_width)
        out.text(left - 8, y + h / 2, row.names, LABEL_PT, grey=True, ha="right")
        if row.shape:
            out.text(left + row_width + 6, y + h / 2, row.shape, LABEL_PT, grey=True, ha="left")
        if row.side_classifier:
            sx, sy = left + row_width + shapes + 16, y + h / 2 - side.height / 2
            out.line((left + row_width + shapes, y + h / 2), (sx, y + h / 2), dashed=True)
            out.box(sx, sy, side.width, side.height, "side")
            side.draw(out, sx, sy, side.width)
        previous = (centre, y + h)
        y += h + ROW_GAP
    if stem:  # behind the stem's rows: drawn first
        top, bottom = min(stem), max(stem)
        right = left + row_width + shapes
        out.items.insert(0, Box(_r(MARGIN), _r(top), _r(right - MARGIN), _r(bottom - top), "stem"))
        out.text(MARGIN + band / 2, (top + bottom) / 2, "stem", LABEL_PT, grey=True, rotation=90)
    out.line(previous, (centre, y), arrow=True)
    out.box(centre - io_out.width / 2, y, io_out.width, io_out.height, "io")
    io_out.draw(out, centre - io_out.width / 2, y, io_out.width)
    return Drawing(_r(width), _r(y + io_out.height + MARGIN), tuple(out.items))
