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


# --- re-posting edits (written from the class descriptions, not from benchmarks/imageset.py) -----------
def caption(image: Image.Image, share: float, top: bool, text: str) -> Image.Image:
    """A meme-style caption: a white band of ``share`` of the height with black text, above or below."""
    image = image.convert("RGB")
    w, h = image.size
    band = max(12, round(h * share))
    out = Image.new("RGB", (w, h + band), (255, 255, 255))
    out.paste(image, (0, band if top else 0))
    ImageDraw.Draw(out).text((6, (0 if top else h) + band // 3), text, fill=(0, 0, 0))
    return out


def screenshot(image: Image.Image, share: float, dx: int) -> Image.Image:
    """``image`` shown at ``share`` of a viewer window: title bar, a side list of text, grey surround."""
    image = image.convert("RGB")
    w, h = image.size
    big_w, big_h = round(w / share), round(h / share) + 30
    out = Image.new("RGB", (big_w, big_h), (236, 236, 236))
    draw = ImageDraw.Draw(out)
    draw.rectangle((0, 0, big_w, 24), fill=(60, 60, 70))
    draw.text((8, 6), "Photos - viewer", fill=(255, 255, 255))
    for k in range(6):
        draw.text((8, 40 + 16 * k), f"item {k}", fill=(30, 30, 30))
    out.paste(image, (min(big_w - w, max(0, (big_w - w) // 2 + dx)), 40))
    return out


def fill_to(image: Image.Image, ratio: float, colour: tuple[int, int, int] | None) -> Image.Image:
    """``image`` centred in a frame of aspect ``ratio`` (width / height): bars of ``colour``, or, when
    None, a blurred enlarged copy of the picture itself (the "story" fill)."""
    from PIL import ImageFilter

    image = image.convert("RGB")
    w, h = image.size
    big_w, big_h = (round(h * ratio), h) if w / h < ratio else (w, round(w / ratio))
    if colour is None:
        out = image.resize((big_w, big_h)).filter(ImageFilter.GaussianBlur(12))
    else:
        out = Image.new("RGB", (big_w, big_h), colour)
    out.paste(image, ((big_w - w) // 2, (big_h - h) // 2))
    return out


def turned_onto_canvas(image: Image.Image, degrees: float, colour: tuple[int, int, int]) -> Image.Image:
    return image.convert("RGB").rotate(degrees, Image.Resampling.BICUBIC, expand=True, fillcolor=colour)


def turned_and_cut(image: Image.Image, degrees: float) -> Image.Image:
    """Turned by ``degrees`` and cut to the centred box of the same aspect holding no canvas corner."""
    import math

    image = image.convert("RGB")
    w, h = image.size
    a = math.radians(abs(degrees))
    share = 1 / (math.cos(a) + math.sin(a) * max(w, h) / min(w, h))
    out = image.rotate(degrees, Image.Resampling.BICUBIC)
    return out.crop((round(w * (1 - share) / 2), round(h * (1 - share) / 2),
                     round(w * (1 + share) / 2), round(h * (1 + share) / 2)))


def cut(image: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    w, h = image.size
    return image.crop((round(w * left), round(h * top), w - round(w * right), h - round(h * bottom)))
