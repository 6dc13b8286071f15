"""The mixtape poster and cover, drawn with Pillow.

The layout is computed first, as plain data (:class:`PosterLayout`: every text line with its
position and size, every image cell, every colour bar), and only then drawn; so tests and other
front ends can check or reuse what the poster says without reading pixels back.

Poster: A4 portrait at 150 dpi, 1240×1754 px (``POSTER_SIZE``). The left panel is the
tracklist chart: title, length, then one row per track (number, artist – title, duration) with a
bar of that track's image colours in proportion to their shares. The right panel is a grid of
the generated images in playlist order (reading order), so their colours follow the music.
Cover: 1200×1200 px (``COVER_SIZE``), a mosaic of the first images with the title beneath.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

POSTER_SIZE = (1240, 1754)
COVER_SIZE = 1200
BACKGROUND = (250, 248, 243)
INK = (24, 24, 28)
MUTED = (110, 110, 118)
FONT_FILES = ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@lru_cache(maxsize=64)
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans when the system has it (wide Unicode coverage), else Pillow's own font."""
    for name in FONT_FILES:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def fit_text(text: str, size: int, width: float) -> str:
    """``text`` cut with an ellipsis so it fits ``width`` pixels at ``size``."""
    f = font(size)
    if f.getlength(text) <= width:
        return text
    while text and f.getlength(text + "…") > width:
        text = text[:-1]
    return text.rstrip() + "…"


def clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def track_label(track: dict) -> str:
    """How a track is named on the poster: ``Artist – Title`` (unknowns shown as ``?``)."""
    return f"{track.get('artist') or '?'} – {track.get('title') or '?'}"


@dataclass
class TextLine:
    text: str
    xy: tuple[int, int]
    size: int
    role: str  # title, meta, number, track, duration
    row: int | None = None
    fill: tuple[int, int, int] = INK
    anchor: str = "la"  # Pillow anchors: left-ascender; "ra" for right-aligned durations

    def box(self) -> tuple[int, int, int, int]:
        x0, y0, x1, y1 = font(self.size).getbbox(self.text, anchor=self.anchor)
        return (self.xy[0] + int(x0), self.xy[1] + int(y0), self.xy[0] + int(x1), self.xy[1] + int(y1))


@dataclass
class PosterLayout:
    size: tuple[int, int]
    lines: list[TextLine] = field(default_factory=list)
    cells: list[tuple[int, int, int, int]] = field(default_factory=list)  # one per image, in order
    bars: list[tuple[tuple[int, int, int, int], tuple[int, int, int]]] = field(default_factory=list)
    tracklist_box: tuple[int, int, int, int] = (0, 0, 0, 0)
    grid_box: tuple[int, int, int, int] = (0, 0, 0, 0)

    def track_texts(self) -> list[str]:
        return [line.text for line in self.lines if line.role == "track"]


def poster_layout(title: str, tracks: list[dict], palettes: list | None = None,
                  size: tuple[int, int] = POSTER_SIZE) -> PosterLayout:  # fmt: skip
    """Where everything goes. ``tracks``: dicts with artist, title, duration (seconds);
    ``palettes``: one :class:`~segue.art.colours.Palette` per track (its image's colours)."""
    from segue.art.layout import grid_shape

    w, h = size
    m = round(w * 0.045)
    split = round(w * 0.52)
    lay = PosterLayout(size=size, tracklist_box=(m, m, split - m // 2, h - m), grid_box=(split, m, w - m, h - m))
    title_size = max(16, round(w * 0.036))
    lay.lines.append(TextLine(fit_text(title, title_size, split - 2 * m), (m, m), title_size, "title"))
    total = sum(float(t.get("duration") or 0) for t in tracks)
    meta_size = max(11, round(title_size * 0.45))
    meta = f"{len(tracks)} tracks · {clock(total)}"
    y = m + round(title_size * 1.4)
    lay.lines.append(TextLine(meta, (m, y), meta_size, "meta", fill=MUTED))
    top = y + round(meta_size * 2.2)
    n = max(1, len(tracks))
    row_h = min((h - m - top) / n, w * 0.06)
    text_size = max(8, min(round(row_h * 0.42), round(w * 0.018)))
    num_w = font(text_size).getlength("00 ") if len(tracks) < 100 else font(text_size).getlength("000 ")
    dur_w = font(text_size).getlength(" 00:00")
    right = split - m // 2
    for i, t in enumerate(tracks):
        y0 = round(top + i * row_h)
        lay.lines.append(TextLine(f"{i + 1:02d}", (m, y0), text_size, "number", row=i, fill=MUTED))
        label = fit_text(track_label(t), text_size, right - m - num_w - dur_w)
        lay.lines.append(TextLine(label, (round(m + num_w), y0), text_size, "track", row=i))
        dur = clock(float(t.get("duration") or 0))
        lay.lines.append(TextLine(dur, (right, y0), text_size, "duration", row=i, fill=MUTED, anchor="ra"))
        # the chart: this track's image colours as a stacked bar, widths by share
        bar_top = round(y0 + text_size * 1.3)
        bar_bottom = max(bar_top + 2, round(y0 + row_h * 0.85))
        x = m + num_w
        width = right - x
        pal = palettes[i] if palettes and i < len(palettes) else None
        if pal is not None:
            for rgb, share in zip(pal.rgb, pal.shares, strict=True):
                x1 = x + width * share
                lay.bars.append(((round(x), bar_top, max(round(x) + 1, round(x1)), bar_bottom), tuple(rgb)))
                x = x1
    gx0, gy0, gx1, gy1 = lay.grid_box
    rows, cols = grid_shape(len(tracks), aspect=(gx1 - gx0) / (gy1 - gy0))
    if tracks:
        gap = max(2, round(w * 0.004))
        cell = math.floor(min((gx1 - gx0 + gap) / cols, (gy1 - gy0 + gap) / rows)) - gap
        for i in range(len(tracks)):
            r, c = divmod(i, cols)
            x0, y0 = gx0 + c * (cell + gap), gy0 + r * (cell + gap)
            lay.cells.append((x0, y0, x0 + cell, y0 + cell))
    return lay


def _as_image(img) -> Image.Image:
    return img if isinstance(img, Image.Image) else Image.fromarray(np.asarray(img, dtype=np.uint8))


def render_poster(layout: PosterLayout, images: list) -> Image.Image:
    """Draw a :class:`PosterLayout` with one image per cell (PIL images or uint8 arrays)."""
    canvas = Image.new("RGB", layout.size, BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    for box, rgb in layout.bars:
        draw.rectangle(box, fill=rgb)
    for line in layout.lines:
        draw.text(line.xy, line.text, font=font(line.size), fill=line.fill, anchor=line.anchor)
    for box, img in zip(layout.cells, images, strict=False):
        side = box[2] - box[0]
        resample = Image.Resampling.LANCZOS if side < 256 else Image.Resampling.BICUBIC
        canvas.paste(_as_image(img).convert("RGB").resize((side, side), resample), box[:2])
    return canvas


def render_cover(title: str, images: list, size: int = COVER_SIZE) -> Image.Image:
    """A square cover: a 3×3 (or 2×2, or 1) mosaic of the first images, the title beneath."""
    canvas = Image.new("RGB", (size, size), BACKGROUND)
    band = round(size * 0.14)
    k = 3 if len(images) >= 9 else 2 if len(images) >= 4 else 1
    area = size - band
    if images:
        side = area // k
        x_off = (size - side * k) // 2
        for i in range(k * k):
            img = _as_image(images[i % len(images)]).convert("RGB").resize((side, side), Image.Resampling.BICUBIC)
            r, c = divmod(i, k)
            canvas.paste(img, (x_off + c * side, r * side))
    draw = ImageDraw.Draw(canvas)
    ts = round(band * 0.42)
    draw.text((size // 2, area + band // 2), fit_text(title, ts, size * 0.92), font=font(ts), fill=INK, anchor="mm")
    return canvas
