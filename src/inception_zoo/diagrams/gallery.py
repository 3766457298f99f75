"""docs/gallery.md and docs/figures/: a network figure of every registered network and a module figure
of every distinct module, with a manifest that says which figures are current.

Modules drawn the same (same class, widths, kernels and shapes: Inception-v4's four Inception-A)
share one figure, drawn under the network with the shortest name that uses it and listed with
every layer that uses it. ``figures/manifest.json`` holds, per figure, a digest of what is drawn
(the drawing and the painter's code) and the SHA-256 of the file written: a changed model, a
changed style, an edited or a missing file each show as a difference (``stale_figures``), which
the tests check without painting anything.

Run as ``python -m inception_zoo.diagrams [DOCS]`` (``make figures``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import needs_extra
from ..models._zoo import list_models
from . import render
from .layout import Drawing, drawn_alone, layout_module, layout_network
from .render import draw, save_figure
from .structure import ModuleDiagram, NetworkDiagram, describe_network, format_shape

with needs_extra("diagram", "figures of networks and modules"):
    import matplotlib

__all__ = ["Gallery", "GalleryFigure", "gallery", "stale_figures", "write_gallery"]

FIGURES = "figures"  # under the docs folder
MANIFEST = "manifest.json"
PAGE = "gallery.md"


@dataclass
class GalleryFigure:
    """One figure of the gallery: its file (under ``figures/``), what it draws, and where it is used."""

    file: str
    drawing: Drawing
    title: str
    owner: str  # the network it is drawn under
    module: ModuleDiagram | None = None
    used_by: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # (network, consecutive layers)

    @property
    def digest(self) -> str:
        """Of what is drawn and of the code that paints it: equal digests, equal files."""
        painter = Path(render.__file__).read_bytes()
        return hashlib.sha256(repr(self.drawing).encode() + b"\0" + painter).hexdigest()

    @property
    def anchor(self) -> str:
        return _slug(self.title)


@dataclass
class Gallery:
    networks: list[tuple[NetworkDiagram, GalleryFigure]]
    modules: dict[ModuleDiagram, GalleryFigure]

    @property
    def figures(self) -> list[GalleryFigure]:
        return [figure for _, figure in self.networks] + list(self.modules.values())


def _order(name: str) -> tuple:
    """Networks by paper (arXiv ids run in time: GoogLeNet first, InceptionNeXt last), then by name."""
    return (describe_network(name).arxiv, name)


def _owner(users: list[tuple[str, tuple[str, ...]]]) -> tuple[str, str]:
    """Where a shared module figure is drawn: under its network with the shortest name (the paper's network
    before its variants), at its first layer there."""
    network, layers = min(users, key=lambda user: (len(user[0]), user[0]))
    return network, layers[0]


@functools.cache
def gallery() -> Gallery:
    """Every figure of the gallery, laid out but not painted (once per process: the models do not change)."""
    names = sorted(list_models(), key=_order)
    networks = [describe_network(name) for name in names]
    users: dict[ModuleDiagram, list[tuple[str, tuple[str, ...]]]] = {}
    for network in networks:
        for stage in network.stages:
            if drawn_alone(stage.module):
                users.setdefault(stage.module, []).append((network.name, stage.layers))
    modules = {}
    for module, used_by in users.items():
        network, layer = _owner(used_by)
        title = f"{network} {layer}: {module.title}"
        modules[module] = GalleryFigure(
            f"{network}.{layer}.svg", layout_module(module), title, network, module, used_by
        )
    drawn = [(n, GalleryFigure(f"{n.name}.svg", layout_network(n), n.name, n.name)) for n in networks]
    return Gallery(drawn, dict(sorted(modules.items(), key=lambda item: item[1].file)))


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^a-z0-9 _-]", "", heading.lower()).replace(" ", "-")


def _layers(layers: tuple[str, ...]) -> str:
    """Consecutive layers, a long run by its ends."""
    if len(layers) > 3:
        return f"`{layers[0]}` … `{layers[-1]}` ({len(layers)} layers)"
    return ", ".join(f"`{layer}`" for layer in layers)


def _used_by(module: GalleryFigure) -> str:
    networks = dict.fromkeys(network for network, _ in module.used_by)
    runs = {network: [_layers(ls) for n, ls in module.used_by if n == network] for network in networks}
    return "; ".join(f"{network} {', '.join(layers)}" for network, layers in runs.items())


def page(figures: Gallery) -> str:
    """The text of gallery.md."""
    lines = [
        "# Gallery: every network and module, drawn from the code",
        "",
        "Generated by `make figures` (`python -m inception_zoo.diagrams docs`); `tests/test_diagram.py` fails when",
        "a figure is out of date. Each figure is read from the built network by one walker for the whole family,",
        "with the shapes of one image at the network's default input size, in the default build (no side",
        "classifiers: a dashed box marks each layer one reads when built with `aux_logits=True`). Draw any of",
        "them, or any layer, with `inception-zoo diagram NAME [--block LAYER] [-o FILE.svg|.png|.pdf]`.",
        "",
        "How to read a module figure: the input on top, one column per branch, then the join. A box gives the",
        'operation with its kernel and output channels ("1x7 conv, 128"), its stride and padding ("same" keeps',
        'the size, "valid" pads nothing), and what the layer carries (a bias) and what follows it inside the same',
        "layer (BN, ReLU); a box without that line has neither. Each branch's output shape is written where it",
        "enters the join. A residual module adds its input (the identity line, or a projection drawn beside it)",
        'after the branches\' scale. In a network figure, "×7" is seven consecutive layers of the same class and',
        "configuration; the shape after each row is written on its right. Modules drawn the same share one figure,",
        "listed with every layer that uses it.",
        "",
        "Networks: " + " · ".join(f"[{network.name}](#{_slug(network.name)})" for network, _ in figures.networks),
        "",
    ]
    for network, figure in figures.networks:
        lines += [
            f"## {network.name}",
            "",
            f"{network.paper} ([arXiv {network.arxiv}](https://arxiv.org/abs/{network.arxiv})), "
            f"at {format_shape(network.input)}.",
            "",
            f"![{network.name}]({FIGURES}/{figure.file})",
            "",
        ]
        elsewhere = []
        for stage in network.stages:
            module = figures.modules.get(stage.module)
            if module is None or stage.layers[0] not in _layers_of(module, network.name)[:1]:
                continue
            if module.owner == network.name:
                lines += [f"### {module.title}", "", f"![{module.title}]({FIGURES}/{module.file})", ""]
                if sum(len(layers) for _, layers in module.used_by) > 1:
                    lines += [f"Used by: {_used_by(module)}.", ""]
            else:
                here = ", ".join(_layers(ls) for n, ls in module.used_by if n == network.name)
                elsewhere.append(f"{here}: [{module.title}](#{module.anchor})")
        if elsewhere:
            lines += ["Drawn under another network (the same figure): " + "; ".join(elsewhere) + ".", ""]
    return "\n".join(lines).rstrip() + "\n"


def _layers_of(module: GalleryFigure, network: str) -> tuple[str, ...]:
    return tuple(layer for name, layers in module.used_by if name == network for layer in layers)


def manifest(figures: Gallery, files: dict[str, str]) -> dict:
    return {
        "about": "written by `make figures`; tests/test_diagram.py compares it with the code and the files",
        "matplotlib": matplotlib.__version__,
        "figures": {f.file: {"drawing": f.digest, "sha256": files[f.file]} for f in figures.figures},
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_gallery(docs: str | Path = "docs") -> list[Path]:
    """Draw every figure into ``docs/figures/`` (removing figures no longer drawn), then its manifest and
    ``docs/gallery.md``. Returns the files written."""
    docs = Path(docs)
    folder = docs / FIGURES
    folder.mkdir(parents=True, exist_ok=True)
    figures = gallery()
    written, files = [], {}
    for figure in figures.figures:
        path = folder / figure.file
        save_figure(draw(figure.drawing), path)
        files[figure.file] = _sha256(path)
        written.append(path)
    for old in folder.glob("*.svg"):
        if old.name not in files:
            old.unlink()
    (folder / MANIFEST).write_text(json.dumps(manifest(figures, files), indent=1, sort_keys=True) + "\n")
    (docs / PAGE).write_text(page(figures))
    return [*written, folder / MANIFEST, docs / PAGE]


def stale_figures(docs: str | Path = "docs") -> list[str]:
    """What ``write_gallery(docs)`` would change, in words (empty when the gallery is current): figures whose
    drawing changed, files edited, missing or left over, and the page."""
    docs = Path(docs)
    folder = docs / FIGURES
    try:
        recorded = json.loads((folder / MANIFEST).read_text())["figures"]
    except (OSError, ValueError, KeyError):
        return [f"{folder / MANIFEST} is missing or unreadable"]
    figures = gallery()
    problems = []
    for figure in figures.figures:
        entry = recorded.get(figure.file)
        path = folder / figure.file
        if entry is None or entry["drawing"] != figure.digest:
            problems.append(f"{figure.file}: the code draws it differently now")
        elif not path.is_file():
            problems.append(f"{figure.file}: missing")
        elif _sha256(path) != entry["sha256"]:
            problems.append(f"{figure.file}: edited since it was drawn")
    expected = {figure.file for figure in figures.figures}
    problems += [f"{path.name}: no longer drawn" for path in sorted(folder.glob("*.svg")) if path.name not in expected]
    problems += [f"{name}: in the manifest, no longer drawn" for name in sorted(set(recorded) - expected)]
    page_path = docs / PAGE
    if not page_path.is_file() or page_path.read_text() != page(figures):
        problems.append(f"{PAGE}: out of date")
    return problems
