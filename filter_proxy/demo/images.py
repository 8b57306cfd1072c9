"""The demo's thumbnails: deterministic generated pictures (Pillow), and the hash list of the listed ones.

Every picture is drawn from a seed, so it is the same on every machine. Ordinary thumbnails are gradients
with a few coloured shapes; the "listed" pictures are generated patterns too (never real imagery), and each
is planted once as drawn and once edited (resized, brightened) to show perceptual near-matching.

``python -m filter_proxy.demo.images --write-rules rules/`` recomputes rules/images/<category>.csv from
these pictures, so the example hash list always agrees with what the demo serves.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import random
import sys
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance

from filter_proxy.demo.corpus import LISTED_PICTURES

SIZE = (128, 96)
# Category of the listed demo pictures; it must be declared in rules/policy.toml.
LISTED_CATEGORY = "zqx-abuse"
RULE_ALGORITHMS = ("phash", "dhash", "sha256")


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def _gradient(rng: random.Random) -> Image.Image:
    a, b = _colour(rng), _colour(rng)
    w, h = SIZE
    horizontal = rng.random() < 0.5
    steps = w if horizontal else h
    strip = Image.new("RGB", (steps, 1))
    strip.putdata([tuple(a[c] + (b[c] - a[c]) * i // max(steps - 1, 1) for c in range(3)) for i in range(steps)])
    if horizontal:
        return strip.resize((w, h))
    return strip.resize((h, 1)).rotate(90, expand=True).resize((w, h))


def _ordinary(seed: int) -> Image.Image:
    rng = random.Random(seed)
    img = _gradient(rng)
    draw = ImageDraw.Draw(img)
    w, h = SIZE
    for _ in range(rng.randint(3, 7)):
        x0, y0 = rng.randrange(w), rng.randrange(h)
        x1, y1 = x0 + rng.randint(12, w // 2), y0 + rng.randint(12, h // 2)
        shape = rng.choice(("ellipse", "rectangle", "polygon"))
        if shape == "ellipse":
            draw.ellipse((x0, y0, x1, y1), fill=_colour(rng))
        elif shape == "rectangle":
            draw.rectangle((x0, y0, x1, y1), fill=_colour(rng))
        else:
            draw.polygon([(x0, y1), ((x0 + x1) // 2, y0), (x1, y1)], fill=_colour(rng))
    return img


def _listed(k: int) -> Image.Image:
    """A distinctive generated pattern: concentric rings over a checkerboard, in colours chosen by ``k``."""
    rng = random.Random(9000 + k)
    w, h = SIZE
    img = Image.new("RGB", SIZE, _colour(rng))
    draw = ImageDraw.Draw(img)
    cell, ink = 16, _colour(rng)
    for y in range(0, h, cell):
        for x in range((y // cell) % 2 * cell, w, 2 * cell):
            draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=ink)
    cx, cy = rng.randint(w // 3, 2 * w // 3), rng.randint(h // 3, 2 * h // 3)
    for r in range(44, 0, -11):
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=_colour(rng))
    return img


def _edited(img: Image.Image) -> Image.Image:
    """A common edit: scaled down and up again and brightened; different bytes, nearly the same picture."""
    small = img.resize((SIZE[0] * 3 // 4, SIZE[1] * 3 // 4), Image.Resampling.BILINEAR)
    return ImageEnhance.Brightness(small.resize(SIZE, Image.Resampling.BILINEAR)).enhance(1.12)


def draw_picture(key: str) -> Image.Image:
    """The picture for a corpus key: ``gen:<seed>``, ``listed:<k>`` or ``listed:<k>:edited``."""
    kind, _, rest = key.partition(":")
    if kind == "gen":
        return _ordinary(int(rest))
    if kind == "listed":
        number, _, edit = rest.partition(":")
        img = _listed(int(number))
        return _edited(img) if edit == "edited" else img
    raise ValueError(f"unknown picture key {key!r}")


@lru_cache(maxsize=1024)
def picture_png(key: str) -> bytes:
    """PNG bytes of a picture; cached, since the demo serves each one many times."""
    out = io.BytesIO()
    draw_picture(key).save(out, format="PNG", optimize=False)
    return out.getvalue()


def _hashes(data: bytes) -> dict[str, str]:
    """Hash the bytes the way the screener does (filter_proxy.matchers.images), so the list agrees with it."""
    try:
        from filter_proxy.matchers.images import compute_hashes
    except ImportError:  # matcher module not installed yet: imagehash directly, the same algorithms
        import imagehash

        img = Image.open(io.BytesIO(data))
        return {
            "phash": str(imagehash.phash(img)),
            "dhash": str(imagehash.dhash(img)),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    return compute_hashes(data, RULE_ALGORITHMS)


def rule_rows() -> list[tuple[str, str, str]]:
    """``(algorithm, hash, note)`` for every listed picture as drawn (the edited copies are found by
    near-matching the perceptual hashes; their exact hashes are deliberately not listed)."""
    rows = []
    for k in range(LISTED_PICTURES):
        hashes = _hashes(picture_png(f"listed:{k}"))
        rows += [(algo, hashes[algo], f"demo listed picture {k} (generated pattern)") for algo in RULE_ALGORITHMS]
    return rows


def rules_csv() -> str:
    header = (
        "# Example known-image hash list: hashes of the demo's generated 'listed' pictures (placeholders).\n"
        "# Generated by `python -m filter_proxy.demo.images --write-rules rules/`; do not edit by hand.\n"
    )
    return header + "".join(f"{a},{h},{n}\n" for a, h, n in rule_rows())


def rules_file(rules_dir: Path) -> Path:
    return rules_dir / "images" / f"{LISTED_CATEGORY}.csv"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m filter_proxy.demo.images", description=__doc__)
    parser.add_argument("--write-rules", metavar="RULES_DIR", type=Path, help="write the listed hashes there")
    parser.add_argument("--check", metavar="RULES_DIR", type=Path, help="exit 1 if the file is out of date")
    args = parser.parse_args(argv)
    if args.write_rules:
        path = rules_file(args.write_rules)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rules_csv(), encoding="utf-8")
        print(f"wrote {path}")
    elif args.check:
        path = rules_file(args.check)
        if not path.exists() or path.read_text(encoding="utf-8") != rules_csv():
            print(f"{path} is out of date: run python -m filter_proxy.demo.images --write-rules {args.check}")
            return 1
        print(f"{path} is up to date")
    else:
        sys.stdout.write(rules_csv())
    return 0


if __name__ == "__main__":
    sys.exit(main())
