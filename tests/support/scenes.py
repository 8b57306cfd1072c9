"""Generated pictures for the image false-match tests, written apart from tests/support/pictures.py and
benchmarks/imageset.py: hypothesis strategies drawing whole scenes from few parameters, of the kinds that
hash alike most easily (smooth gradients, blobs on a plain ground, noise fields, text-like bands) besides
busy ones. Each strategy yields an RGB PIL picture of thumbnail size."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFilter

SIZES = st.sampled_from([(320, 240), (240, 320), (300, 300), (360, 200), (200, 280)])
COLOURS = st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))


def gradient(size: tuple[int, int], a: tuple[int, int, int], b: tuple[int, int, int], angle: float,
             grain: float, seed: int) -> Image.Image:
    """A linear gradient from ``a`` to ``b`` across ``angle`` radians, with Gaussian grain."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    t = (np.cos(angle) * x / w + np.sin(angle) * y / h)
    t = (t - t.min()) / (np.ptp(t) + 1e-9)
    pixels = np.array(a)[None, None] * (1 - t[..., None]) + np.array(b)[None, None] * t[..., None]
    pixels += np.random.default_rng(seed).normal(0, grain, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def blobs(size: tuple[int, int], ground: tuple[int, int, int], seed: int, count: int) -> Image.Image:
    """Ellipses, rectangles and polygons of random colours on a plain ground."""
    rng = np.random.default_rng(seed)
    w, h = size
    image = Image.new("RGB", size, ground)
    draw = ImageDraw.Draw(image)
    for _ in range(count):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        x1, y1 = x0 + int(rng.integers(10, w // 2)), y0 + int(rng.integers(10, h // 2))
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        kind = int(rng.integers(3))
        if kind == 0:
            draw.ellipse((x0, y0, x1, y1), fill=fill)
        elif kind == 1:
            draw.rectangle((x0, y0, x1, y1), fill=fill)
        else:
            draw.polygon([(float(rng.integers(0, w)), float(rng.integers(0, h))) for _ in range(5)], fill=fill)
    return image


def noise(size: tuple[int, int], seed: int, blur: float, tint: tuple[int, int, int]) -> Image.Image:
    """White noise softened by ``blur`` px, tinted."""
    rng = np.random.default_rng(seed)
    w, h = size
    grey = Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8)).filter(ImageFilter.GaussianBlur(blur))
    pixels = np.asarray(grey, dtype=np.float64)[..., None] * (np.array(tint) / 255 * 0.7 + 0.3)[None, None]
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def text_bands(size: tuple[int, int], paper: tuple[int, int, int], ink: tuple[int, int, int], seed: int
               ) -> Image.Image:
    """Rows of letter-like marks on a plain paper colour (a page, a chat, a meme made of text)."""
    rng = np.random.default_rng(seed)
    w, h = size
    image = Image.new("RGB", size, paper)
    draw = ImageDraw.Draw(image)
    line = int(rng.integers(12, 30))
    for y in range(int(rng.integers(4, 20)), h - line, line):
        x = int(rng.integers(4, 20))
        while x < w - 20 and rng.random() > 0.03:
            word = int(rng.integers(2, 9)) * 6
            draw.rectangle((x, y, min(w - 4, x + word), y + line // 2), fill=ink)
            x += word + int(rng.integers(5, 12))
    return image


seeds = st.integers(0, 2**31 - 1)
scenes = st.one_of(
    st.builds(gradient, SIZES, COLOURS, COLOURS, st.floats(0, 6.3), st.floats(0, 12), seeds),
    st.builds(blobs, SIZES, COLOURS, seeds, st.integers(1, 12)),
    st.builds(noise, SIZES, seeds, st.floats(0, 8), COLOURS),
    st.builds(text_bands, SIZES, COLOURS, COLOURS, seeds),
)
