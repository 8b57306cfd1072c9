"""Regenerate (``--write``) or check filter_proxy/data/ordinary_words.txt from wordsegment and the current
``normalize`` (see filter_proxy/matchers/ordinary_words.py). Run from the repository root:
``python scripts/update_ordinary_words.py --write``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout, not an installed copy

from filter_proxy.matchers.ordinary_words import main  # noqa: E402 -- after the path set-up

if __name__ == "__main__":
    raise SystemExit(main())
