"""A decoded frame as a viewer sees it: EXIF orientation applied, high bit depths scaled to 8 bits, and
transparency composited over a backdrop.

Pillow's own conversions hash something no viewer shows: ``convert("RGB")`` drops the alpha channel (a
picture drawn only in its alpha channel, black pixels of varying opacity, hashed as a black square), a
16-bit greyscale PNG (mode ``I;16``) is clipped at level 255 (almost all white), and the EXIF orientation tag
that every browser honours is ignored (the stored pixels of a phone photo are often turned by 90°).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

ORIENTATION_TAG = 0x0112
# EXIF orientation -> the transposition that shows the stored pixels upright (as ImageOps.exif_transpose)
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
WHITE, BLACK = (255, 255, 255), (0, 0, 0)
_OPAQUE = 250  # alpha at or above this everywhere: the backdrop cannot change what is seen


def orientation(image: Image.Image) -> Image.Transpose | None:
    """The transposition the picture's EXIF orientation asks for (None: upright or no tag). A broken EXIF
    block counts as upright: the pixels are still hashed as stored."""
    try:
        value = image.getexif().get(ORIENTATION_TAG)
    except Exception:  # Pillow raises several types on malformed EXIF; the pixels are still decodable
        return None
    return _ORIENTATION.get(value) if isinstance(value, int) else None


def eight_bit(frame: Image.Image) -> Image.Image:
    """``frame`` with 8 bits per channel. 16- and 32-bit integer greys are scaled (65535 -> 255), not
    clipped; float pictures are read as 0-1 when they stay within it, else as 0-255."""
    if frame.mode.startswith("I;16") or frame.mode == "I":
        pixels = np.asarray(frame, dtype=np.float64)
        top = 65535.0 if frame.mode.startswith("I;16") or float(pixels.max(initial=0)) > 255 else 255.0
        return Image.fromarray(np.clip(pixels * (255.0 / top), 0, 255).round().astype(np.uint8), "L")
    if frame.mode == "F":
        pixels = np.nan_to_num(np.asarray(frame, dtype=np.float64))
        scale = 255.0 if float(np.abs(pixels).max(initial=0)) <= 1.0 else 1.0
        return Image.fromarray(np.clip(pixels * scale, 0, 255).round().astype(np.uint8), "L")
    return frame


def has_alpha(frame: Image.Image) -> bool:
    return frame.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        frame.mode in ("P", "L", "RGB") and "transparency" in frame.info)


def composite(frame: Image.Image, backdrop: tuple[int, int, int]) -> Image.Image:
    """``frame`` (with transparency) over a plain ``backdrop``, as RGB."""
    rgba = frame.convert("RGBA")
    out = Image.new("RGBA", rgba.size, backdrop + (255,))
    out.alpha_composite(rgba)
    return out.convert("RGB")


def viewed(frame: Image.Image, turn: Image.Transpose | None = None) -> list[Image.Image]:
    """``frame`` as a viewer shows it, in mode RGB or L: the first picture over a white backdrop (a page's
    usual background); when some pixels are see-through, a second one over black (a dark page, or an image
    viewer), since the same pixels may show a different picture on each."""
    frame = eight_bit(frame)
    if turn is not None:
        frame = frame.transpose(turn)
    if not has_alpha(frame):
        return [frame if frame.mode in ("RGB", "L") else frame.convert("RGB")]
    alpha = np.asarray(frame.convert("RGBA").getchannel("A"))
    if int(alpha.min(initial=255)) >= _OPAQUE:
        return [frame.convert("RGB")]
    return [composite(frame, WHITE), composite(frame, BLACK)]
