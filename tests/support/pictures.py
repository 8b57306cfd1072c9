"""Pictures for the image red-team tests, generated apart from benchmarks/imageset.py and the generator
in tests/test_images_verify.py (neither was used to write these): layered landscapes (sky gradient,
ridges, sun, trees, grain) and coloured 1/f noise, whose spectrum is that of ordinary photographs."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw


def landscape(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = size
    y = np.linspace(0, 1, h)[:, None, None]
    top, bottom = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    image = Image.fromarray(((top * (1 - y) + bottom * y) * np.ones((1, w, 1))).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for layer in range(int(rng.integers(2, 5))):
        ridge, points = h * (0.35 + 0.15 * layer), [(0.0, float(h))]
        for x in range(0, w + 16, 16):
            ridge += rng.normal(0, 10)
            points.append((float(x), ridge))
        points.append((float(w), float(h)))
        draw.polygon(points, fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    cx, cy, r = int(rng.integers(0, w)), int(rng.integers(0, h // 2)), int(rng.integers(8, 40))
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=tuple(int(v) for v in rng.integers(150, 256, 3)))
    for _ in range(int(rng.integers(3, 15))):
        x, base, tall = int(rng.integers(0, w)), int(rng.integers(h // 2, h)), int(rng.integers(10, 60))
        draw.rectangle((x - 2, base - tall, x + 2, base), fill=(60, 40, 20))
        draw.ellipse((x - tall // 3, base - tall - tall // 3, x + tall // 3, base - tall + tall // 4),
                     fill=tuple(int(v) for v in rng.integers(0, 180, 3)))
    pixels = np.asarray(image, dtype=np.float64) + rng.normal(0, 4, (h, w, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def pink_noise(seed: int, size: tuple[int, int] = (300, 220)) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = size
    freq = np.sqrt(np.fft.fftfreq(w)[None, :] ** 2 + np.fft.fftfreq(h)[:, None] ** 2)
    freq[0, 0] = 1.0
    channels = []
    for _ in range(3):
        spectrum = (rng.normal(size=(h, w)) + 1j * rng.normal(size=(h, w))) / freq ** 1.1
        x = np.real(np.fft.ifft2(spectrum))
        channels.append((x - x.min()) / (np.ptp(x) + 1e-9))
    return Image.fromarray((np.stack(channels, -1) * 255).astype(np.uint8))


def picture(seed: int) -> Image.Image:
    """One of the two kinds, by seed."""
    return landscape(seed) if seed % 2 else pink_noise(seed)


def encode(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def photo(name: str, box: tuple[int, int] = (320, 320)) -> Image.Image:
    """A scikit-image sample photograph (an ordinary picture) as RGB, shrunk to fit ``box`` as a thumbnail."""
    from skimage import data

    array = getattr(data, name)()
    array = array[0] if isinstance(array, tuple) else array
    image = Image.fromarray(np.asarray(array)).convert("RGB")
    image.thumbnail(box)
    return image
