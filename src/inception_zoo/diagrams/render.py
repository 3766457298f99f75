"""Figures of networks and modules, drawn from the code: ``diagram(name)``, ``diagram(name, block=layer)``.

A ``Drawing`` (``layout``) painted on a matplotlib ``Figure`` without pyplot: no screen needed, and
no global state of a program that uses matplotlib itself is changed. Saved files are the same bytes
for the same figure (fixed fonts, no dates, a fixed salt for the SVG's ids).
"""

from __future__ import annotations

import os
from pathlib import Path

from .._files import atomic_output
from ..errors import ArgumentError, needs_extra
from .layout import Box, Drawing, Line, Text, font, layout_module, layout_network
from .structure import describe_module, describe_network

with needs_extra("diagram", "figures of networks and modules"):
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyBboxPatch, Polygon

__all__ = ["FORMATS", "diagram", "draw", "save_figure"]

FORMATS = (".svg", ".png", ".pdf")

# Light fills that stay apart in grey on paper; dark edges and text.
FILLS = {
    "conv": "#d6e6f5",
    "pool": "#fbe0c3",
    "fc": "#f5dce5",
    "norm": "#ececec",
    "act": "#ececec",
    "other": "#ececec",
    "scale": "#fff1a8",
    "identity": "#ffffff",
    "join": "#d3ebcb",
    "split": "#d3ebcb",
    "io": "#ffffff",
    "module": "#e4dcf1",
    "side": "#ffffff",
    "stem": "#f4f4f4",
}
INK, GREY, EDGE = "#111111", "#555555", "#333333"
ARROW_HEAD = (4.5, 2.2)  # length and half-width, in points
DASHED = ("identity", "side")

# What makes a saved file the same bytes every time (matplotlib's defaults write the date and random ids).
# SVGs keep their text as text (a third of the size, searchable), in DejaVu Sans or the nearest sans-serif;
# PDFs embed the font.
SAVE_RC = {
    "svg.hashsalt": "inception-zoo",
    "svg.fonttype": "none",
    "font.sans-serif": ["DejaVu Sans", "Verdana", "Arial", "Helvetica"],
    "pdf.fonttype": 42,
    "path.simplify": False,
}
METADATA = {
    ".svg": {"Date": None, "Creator": None},
    ".pdf": {"CreationDate": None, "Creator": None, "Producer": None},
    ".png": {"Software": None},
}


def diagram(name: str, *, block: str | None = None, output: str | os.PathLike | None = None) -> Figure:
    """The figure of network ``name``: its stem, then its modules in order with repeat counts and the shape
    after each, at the network's default input size; with ``block``, the module figure of that layer (a
    name from ``describe_network(name).layers``): its branches, a box per layer with kernel, stride,
    padding and output channels, the join, and the shapes in and out. ``output`` also writes it
    (.svg, .png or .pdf).

    Example:
        >>> figure = diagram("inception_v3", block="Mixed_6b", output="mixed_6b.svg")
        >>> "768x17x17" in [t.get_text() for t in figure.axes[0].texts]
        True
    """
    if output is not None:
        _check_suffix(output)
    description = describe_network(name) if block is None else describe_module(name, block)
    drawing = layout_network(description) if block is None else layout_module(description)
    figure = draw(drawing)
    if output is not None:
        save_figure(figure, output)
    return figure


def _check_suffix(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ArgumentError(
            f"output must end in .svg, .png or .pdf (the figure's format), got {os.fspath(path)!r}", option="output"
        )
    return suffix


def draw(drawing: Drawing) -> Figure:
    """``drawing`` on a new figure, one point of the drawing to a point of the page."""
    figure = Figure(figsize=(drawing.width / 72, drawing.height / 72))
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, drawing.width)
    axes.set_ylim(drawing.height, 0)
    axes.set_axis_off()
    for item in drawing.items:
        if isinstance(item, Box):
            axes.add_patch(
                FancyBboxPatch(
                    (item.x, item.y), item.w, item.h, boxstyle="round,pad=0,rounding_size=3",
                    facecolor=FILLS[item.kind], edgecolor="none" if item.kind == "stem" else EDGE, linewidth=0.7,
                    linestyle="--" if item.kind in DASHED else "-",
                )
            )  # fmt: skip
        elif isinstance(item, Text):
            axes.text(
                item.x, item.y, item.text, fontproperties=font(item.size, item.bold), color=GREY if item.grey else INK,
                ha=item.ha, va="center", rotation=item.rotation, rotation_mode="anchor",
            )  # fmt: skip
        elif isinstance(item, Line):
            _line(axes, item)
    return figure


def _line(axes, line: Line) -> None:
    points = list(line.points)
    if line.arrow:
        (x1, y1), (x2, y2) = points[-2], points[-1]
        length, half = ARROW_HEAD
        dx, dy = x2 - x1, y2 - y1
        norm = max((dx * dx + dy * dy) ** 0.5, 1e-9)
        ux, uy = dx / norm, dy / norm
        base = (x2 - ux * length, y2 - uy * length)
        points[-1] = base  # the line stops where the head begins
        head = [(x2, y2), (base[0] - uy * half, base[1] + ux * half), (base[0] + uy * half, base[1] - ux * half)]
        axes.add_patch(Polygon(head, closed=True, facecolor=EDGE, edgecolor="none"))
    xs, ys = zip(*points, strict=True)
    axes.add_line(Line2D(xs, ys, color=EDGE, linewidth=0.7, linestyle="--" if line.dashed else "-"))


def save_figure(figure: Figure, path: str | os.PathLike) -> Path:
    """Write ``figure`` as .svg, .png (200 dpi) or .pdf, by the path's suffix; the same figure, the same bytes."""
    suffix = _check_suffix(path)
    with matplotlib.rc_context(SAVE_RC), atomic_output(path) as tmp:
        figure.savefig(tmp, format=suffix[1:], dpi=200, metadata=METADATA[suffix])
    return Path(path)
