"""``python -m inception_zoo.diagrams [DOCS]``: draw the gallery into DOCS (default: docs), as ``make figures`` does."""

import argparse

from .gallery import write_gallery

parser = argparse.ArgumentParser(
    prog="python -m inception_zoo.diagrams",
    description="Draw DOCS/gallery.md and DOCS/figures/: every registered network and every distinct module.",
)
parser.add_argument("docs", nargs="?", default="docs", help="the docs folder (default: docs)")
written = write_gallery(parser.parse_args().docs)
print(f"{written[-1]}: {len(written) - 2} figures in {written[-2].parent}")
