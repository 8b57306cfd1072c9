"""Framed re-posts of a picture, written from the class descriptions (a caption band above or below, a
screenshot of a viewer, pillar/letterbox bars filled flat or with a blurred copy, a turn onto a canvas, a
corner sticker), each with its parameters as arguments so that hypothesis draws them and fixed grids can
sweep them. Used by tests/test_images_frames.py and scripts/measure_frames.py."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFilter

Colour = tuple[int, int, int]


def caption(image: Image.Image, share: float, where: str, colour: Colour, ink: Colour, text: str) -> Image.Image:
    """A caption band of ``share`` of the picture's height, flat ``colour`` with ``text`` in ``ink``, placed
    ``where`` = "top", "bottom" or "both"."""
    image = image.convert("RGB")
    w, h = image.size
    band = max(10, round(h * share))
    tops = {"top": (band, 0), "bottom": (0, band), "both": (band, band)}[where]
    out = Image.new("RGB", (w, h + tops[0] + tops[1]), colour)
    out.paste(image, (0, tops[0]))
    draw = ImageDraw.Draw(out)
    if tops[0]:
        draw.text((max(2, w // 12), band // 3), text, fill=ink)
    if tops[1]:
        draw.text((max(2, w // 12), tops[0] + h + band // 3), text[::-1], fill=ink)
    return out


def screenshot(image: Image.Image, share: float, left: float, background: Colour, text: str) -> Image.Image:
    """``image`` at ``share`` of a viewer window's width: a dark title bar, a text column on one side,
    ``left`` (0-1) placing the picture across the free width."""
    image = image.convert("RGB")
    w, h = image.size
    big_w = round(w / share)
    big_h = round(h / share * 0.8) + 36
    big_h = max(big_h, h + 60)
    out = Image.new("RGB", (big_w, big_h), background)
    draw = ImageDraw.Draw(out)
    draw.rectangle((0, 0, big_w, 24), fill=(40, 44, 52))
    draw.text((8, 6), "viewer - " + text, fill=(230, 230, 230))
    x = round((big_w - w) * left)
    y = 24 + (big_h - 24 - h) // 2
    out.paste(image, (x, y))
    column = 4 if x > big_w - x - w else x + w + 8
    for k in range(0, big_h - 40, 18):
        draw.text((column, 34 + k), text[: 3 + k % 11], fill=(90, 90, 90))
    return out


def bars(image: Image.Image, aspect: float, fill: str, colour: Colour) -> Image.Image:
    """``image`` centred in a frame of width/height ``aspect`` (pillarbox or letterbox); ``fill`` "flat"
    (``colour``) or "blur" (the picture stretched over the frame and blurred)."""
    image = image.convert("RGB")
    w, h = image.size
    if w / h > aspect:
        big_w, big_h = w, round(w / aspect)
    else:
        big_w, big_h = round(h * aspect), h
    if fill == "blur":
        out = image.resize((big_w, big_h)).filter(ImageFilter.GaussianBlur(max(4, big_w // 25)))
    else:
        out = Image.new("RGB", (big_w, big_h), colour)
    out.paste(image, ((big_w - w) // 2, (big_h - h) // 2))
    return out


def turned(image: Image.Image, angle: float, colour: Colour) -> Image.Image:
    """``image`` turned by ``angle`` degrees onto a canvas of ``colour`` large enough to hold it."""
    return image.convert("RGB").rotate(angle, Image.Resampling.BICUBIC, expand=True, fillcolor=colour)


def sticker(image: Image.Image, share: float, corner: int, colour: Colour, text: str) -> Image.Image:
    """A sticker (a box of ``share`` of the width, ``colour``, with ``text``) in corner 0-3."""
    out = image.convert("RGB").copy()
    w, h = out.size
    sw, sh = max(8, round(w * share)), max(6, round(h * share * 0.6))
    x = 4 if corner in (0, 2) else w - sw - 4
    y = 4 if corner in (0, 1) else h - sh - 4
    draw = ImageDraw.Draw(out)
    draw.rectangle((x, y, x + sw, y + sh), fill=colour)
    draw.text((x + 3, y + 2), text, fill=(255 - colour[0], 255 - colour[1], 255 - colour[2]))
    return out
