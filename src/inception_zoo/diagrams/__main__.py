"""``python -m inception_zoo.diagrams [DOCS]``: draw the gallery into DOCS (default: docs), as ``make figures`` does."""

import sys

from .gallery import write_gallery

written = write_gallery(sys.argv[1] if len(sys.argv) > 1 else "docs")
print(f"{written[-1]}: {len(written) - 2} figures in {written[-2].parent}")
