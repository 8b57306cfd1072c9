"""Pictures for the image benchmarks: scikit-image sample photos and generated pictures, and the edits
(resize, recompression, crops, brightness, ...) a re-uploaded copy typically goes through."""

from __future__ import annotations

import io
import random
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageOps

SKIMAGE_SAMPLES = ("astronaut", "camera", "coffee", "chelsea", "rocket", "coins", "moon", "page", "text", "horse",
                   "hubble_deep_field", "immunohistochemistry", "retina", "brick", "grass", "gravel", "colorwheel",
                   "logo", "clock", "microaneurysms")


def sample_photos() -> list[tuple[str, Image.Image]]:
    """The scikit-image samples that ship with the package (no download), as RGB/L PIL images."""
    import skimage.data

    out = []
    for name in SKIMAGE_SAMPLES:
        try:
            array = getattr(skimage.data, name)()
        except Exception:  # a sample that would need a download: skip it
            continue
        image = Image.fromarray(np.asarray(array))
        image.thumbnail((512, 512))  # thumbnail-sized, as screened in practice (and faster to hash)
        out.append((name, image.convert("RGB") if image.mode not in ("RGB", "L") else image))
    return out


def generated_picture(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A varied synthetic picture: a smooth colour field, random shapes and a little grain."""
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    w, h = size
    field = nrng.integers(0, 256, size=(rng.randint(3, 8), rng.randint(3, 8), 3), dtype=np.uint8)
    image = Image.fromarray(field).resize((w, h), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(4, 12)):
        x0, y0 = rng.randrange(w), rng.randrange(h)
        x1, y1 = x0 + rng.randint(10, w // 2), y0 + rng.randint(10, h // 2)
        colour = tuple(rng.randrange(256) for _ in range(3))
        shape = rng.randrange(3)
        if shape == 0:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif shape == 1:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            draw.line((x0, y0, x1, y1), fill=colour, width=rng.randint(2, 12))
    grain = nrng.normal(0, 6, size=(h, w, 3))
    return Image.fromarray(np.clip(np.asarray(image, dtype=np.float64) + grain, 0, 255).astype(np.uint8))


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue()))


def _crop(image: Image.Image, share: float) -> Image.Image:
    w, h = image.size
    dx, dy = round(w * share), round(h * share)
    return image.crop((dx, dy, w - dx, h - dy))


def _watermark(image: Image.Image) -> Image.Image:
    out = image.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    w, h = out.size
    for i in range(3):
        draw.text((w * 0.05, h * (0.2 + 0.3 * i)), "SAMPLE WATERMARK example.invalid", fill=(255, 255, 255))
    return out


EDITS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "resize 50%": lambda im: im.resize((max(8, im.width // 2), max(8, im.height // 2)), Image.Resampling.LANCZOS),
    "jpeg q50": lambda im: _jpeg(im, 50),
    "crop 2%": lambda im: _crop(im, 0.02),
    "crop 5%": lambda im: _crop(im, 0.05),
    "brightness +20%": lambda im: ImageEnhance.Brightness(im).enhance(1.2),
    "grayscale": lambda im: ImageOps.grayscale(im),
    "watermark text": _watermark,
    "flip": lambda im: ImageOps.mirror(im),
    "rotate 90": lambda im: im.transpose(Image.Transpose.ROTATE_90),
    "rotate 5": lambda im: im.rotate(5, resample=Image.Resampling.BICUBIC, expand=False),
}
