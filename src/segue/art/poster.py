"""The mixtape poster and cover, drawn with Pillow.

The layout is computed first, as plain data (:class:`PosterLayout`, :class:`CoverLayout`: every
text line with its position and size, every image cell, every colour bar), and only then drawn;
so tests and other front ends can check or reuse what the poster says without reading pixels.

Poster: A4 portrait at 150 dpi, 1240×1754 px (``POSTER_SIZE``). The left panel is the
tracklist chart: the title (wrapped, never cut), a subtitle, the length, then one row per track
(number, artist – title wrapped onto as many lines as it needs, duration) with a bar of that
track's image colours in proportion to their shares; the type size is the largest at which
every row fits. The right panel is the grid of images arranged by similarity (similar tracks'
pictures side by side; :func:`segue.art.layout.balanced_grid` leaves no orphan row), each
marked with the numbers of the tracks it stands for.

Cover: 1200×1200 px (``COVER_SIZE``), a mosaic of up to 3×3 distinct images and the title
beneath, the whole block centred with equal margins. Images are never enlarged more than
:data:`MAX_UPSCALE` times: a small source makes a smaller cell, not a blurred one.
"""

from __future__ import annotations

from collections.abc import Sequence
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
BOLD_FILES = ("DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
MAX_UPSCALE = 2.0  # Lanczos up to 2×: beyond it a picture looks blurred or blocky
MIN_TRACK_TEXT = 7


@lru_cache(maxsize=128)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans when the system has it (wide Unicode coverage), else Pillow's own font."""
    for name in BOLD_FILES + FONT_FILES if bold else FONT_FILES:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def wrap_text(text: str, size: int, width: float, bold: bool = False) -> list[tuple[str, bool]]:
    """``text`` broken into lines that fit ``width`` pixels at ``size``: at spaces, and inside
    a word only when the word alone is too wide. Each line comes with ``continued``: True when
    the break fell inside a word (so joining the lines gives back the text exactly)."""
    f = font(size, bold)
    lines: list[tuple[str, bool]] = []
    line = ""
    for word in text.split(" "):
        trial = f"{line} {word}" if line else word
        if f.getlength(trial) <= width:
            line = trial
            continue
        if line:
            lines.append((line, False))
        line = word
        while f.getlength(line) > width and len(line) > 1:  # a word wider than the line
            cut = len(line) - 1
            while cut > 1 and f.getlength(line[:cut]) > width:
                cut -= 1
            lines.append((line[:cut], True))
            line = line[cut:]
    lines.append((line, False))
    return lines


def join_wrapped(lines: Sequence[tuple[str, bool]]) -> str:
    """The text :func:`wrap_text` broke into ``lines``."""
    return "".join(t + ("" if cont or i == len(lines) - 1 else " ") for i, (t, cont) in enumerate(lines))


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
    role: str  # title, subtitle, meta, number, track, duration, badge
    row: int | None = None
    fill: tuple[int, int, int] = INK
    anchor: str = "la"  # Pillow anchors: left-ascender; "ra" right-aligned; "ma" centred
    continued: bool = False  # the text goes on in the next line of the same row mid-word
    bold: bool = False

    def box(self) -> tuple[int, int, int, int]:
        x0, y0, x1, y1 = font(self.size, self.bold).getbbox(self.text, anchor=self.anchor)
        return (self.xy[0] + int(x0), self.xy[1] + int(y0), self.xy[0] + int(x1), self.xy[1] + int(y1))


def _text_of(lines: list[TextLine], role: str) -> list[str]:
    rows: dict[int | None, list[tuple[str, bool]]] = {}
    for line in lines:
        if line.role == role:
            rows.setdefault(line.row, []).append((line.text, line.continued))
    return [join_wrapped(parts) for _, parts in sorted(rows.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))]


@dataclass
class PosterLayout:
    size: tuple[int, int]
    lines: list[TextLine] = field(default_factory=list)
    cells: list[tuple[int, int, int, int]] = field(default_factory=list)  # one per image (tile)
    cell_rows: list[list[int]] = field(default_factory=list)  # the tracks each image stands for
    bars: list[tuple[tuple[int, int, int, int], tuple[int, int, int]]] = field(default_factory=list)
    tracklist_box: tuple[int, int, int, int] = (0, 0, 0, 0)
    grid_box: tuple[int, int, int, int] = (0, 0, 0, 0)
    grid: object | None = None  # segue.art.layout.Grid

    def track_texts(self) -> list[str]:
        """Each track's label as printed (its wrapped lines joined)."""
        return _text_of(self.lines, "track")

    def title(self) -> str:
        return " ".join(line.text for line in self.lines if line.role == "title")


def _fit_block(text: str, width: float, start: int, smallest: int, max_lines: int,
               bold: bool = False) -> tuple[int, list[tuple[str, bool]]]:  # fmt: skip
    """The largest size from ``start`` down to ``smallest`` at which ``text`` wraps into at most
    ``max_lines`` lines without breaking a word; at ``smallest`` it takes what lines it needs."""
    for size in range(start, smallest - 1, -1):
        lines = wrap_text(text, size, width, bold)
        if len(lines) <= max_lines and not any(cont for _, cont in lines):
            return size, lines
    return smallest, wrap_text(text, smallest, width, bold)


def badge_text(rows: Sequence[int]) -> str:
    """The track numbers a picture stands for: ``7``, ``3 · 7 · 12``, ``3 · 7 · 12 +4``."""
    nums = [str(r + 1) for r in rows]
    return " · ".join(nums[:3]) + (f" +{len(nums) - 3}" if len(nums) > 3 else "")


def poster_layout(title: str, tracks: list[dict], palettes: list | None = None,
                  size: tuple[int, int] = POSTER_SIZE, *, subtitle: str | None = None,
                  tiles: Sequence[Sequence[int]] | None = None, tile_vectors: np.ndarray | None = None,
                  max_cell: float | None = None) -> PosterLayout:  # fmt: skip
    """Where everything goes.

    ``tracks``: dicts with artist, title, duration (seconds); ``palettes``: one
    :class:`~segue.art.colours.Palette` per track (its image's colours); ``tiles``: the
    playlist positions each image stands for (default: one image per track, in order);
    ``tile_vectors``: what each image stands for (its tracks' mean MusiCNN vector) to arrange
    the grid by similarity (:func:`segue.art.layout.arrange_by_similarity`), else reading order; ``max_cell``: the largest cell the images can fill (their native size
    times :data:`MAX_UPSCALE`).
    """
    from segue.art.layout import arrange_by_similarity, balanced_grid

    w, h = size
    m = round(w * 0.045)
    split = round(w * 0.52)
    right = split - m // 2
    lay = PosterLayout(size=size, tracklist_box=(m, m, right, h - m), grid_box=(split, m, w - m, h - m))
    # the header: title (up to two lines, never cut), subtitle, length
    text_w = right - m
    ts, title_lines = _fit_block(title, text_w, round(w * 0.036), round(w * 0.022), 2, bold=True)
    y = m
    for text, cont in title_lines:
        lay.lines.append(TextLine(text, (m, y), ts, "title", continued=cont, bold=True))
        y += round(ts * 1.18)
    if subtitle:
        ss = max(11, round(w * 0.0125))
        y += round(ss * 0.3)
        for text, cont in wrap_text(subtitle, ss, text_w):
            lay.lines.append(TextLine(text, (m, y), ss, "subtitle", continued=cont, fill=MUTED))
            y += round(ss * 1.35)
    total = sum(float(t.get("duration") or 0) for t in tracks)
    meta_size = max(11, round(w * 0.0125))
    y += round(meta_size * 0.3)
    lay.lines.append(TextLine(f"{len(tracks)} tracks · {clock(total)}", (m, y), meta_size, "meta", fill=MUTED))
    top = y + round(meta_size * 2.4)
    # the rows: the largest type at which every (wrapped) name fits the panel
    n = len(tracks)
    labels = [track_label(t) for t in tracks]
    avail = h - m - top
    for text_size in range(max(MIN_TRACK_TEXT, round(w * 0.015)), MIN_TRACK_TEXT - 1, -1):
        f = font(text_size)
        num_w = f.getlength("000 " if n >= 100 else "00 ")
        dur_w = f.getlength("  0:00:00" if total >= 3600 else "  00:00")
        wrapped = [wrap_text(label, text_size, right - m - num_w - dur_w) for label in labels]
        line_h, bar_h, gap = round(text_size * 1.25), max(2, round(text_size * 0.4)), round(text_size * 0.6)
        above = round(text_size * 0.2)  # between a name's descenders and its bar
        need = sum(len(wl) * line_h + above + bar_h + gap for wl in wrapped)
        if need <= avail:
            break
    spare = max(0, avail - need)
    gap += min(spare // max(n, 1), round(text_size * 1.2))  # breathe when there is room
    y = top
    for i, t in enumerate(tracks):
        lay.lines.append(TextLine(f"{i + 1:02d}", (m, y), text_size, "number", row=i, fill=MUTED))
        for j, (text, cont) in enumerate(wrapped[i]):
            lay.lines.append(TextLine(text, (round(m + num_w), y + j * line_h), text_size, "track", row=i, continued=cont))
        dur = clock(float(t.get("duration") or 0))
        lay.lines.append(TextLine(dur, (right, y), text_size, "duration", row=i, fill=MUTED, anchor="ra"))
        # the chart: this track's image colours as a stacked bar, widths by share
        bar_top = y + len(wrapped[i]) * line_h + above
        x = m + num_w
        pal = palettes[i] if palettes and i < len(palettes) else None
        if pal is not None:
            width = right - x
            for rgb, share in zip(pal.rgb, pal.shares, strict=True):
                x1 = x + width * share
                lay.bars.append(((round(x), bar_top, max(round(x) + 1, round(x1)), bar_top + bar_h), tuple(rgb)))
                x = x1
        y = bar_top + bar_h + gap
    # the images
    groups = [list(g) for g in tiles] if tiles is not None else [[i] for i in range(n)]
    gx0, gy0, gx1, gy1 = lay.grid_box
    gap_px = max(2, round(w * 0.005))
    grid = balanced_grid(len(groups), gx1 - gx0, gy1 - gy0, gap_px, max_cell)
    lay.grid = grid
    if groups:
        gw, _ = grid.size
        boxes = grid.boxes(gx0 + (gx1 - gx0 - gw) // 2, gy0)
        order = np.arange(len(groups))
        if tile_vectors is not None and len(groups) > 1:
            order = arrange_by_similarity(np.asarray(tile_vectors), grid)
        lay.cells = [boxes[int(c)] for c in order]
        lay.cell_rows = groups
        bsize = int(np.clip(grid.cell * 0.09, 9, 16))
        pad = max(2, bsize // 3)
        for box, rows in zip(lay.cells, groups, strict=True):
            if grid.cell >= 40:
                lay.lines.append(TextLine(badge_text(rows), (box[0] + pad * 2, box[3] - pad * 2), bsize, "badge",
                                          anchor="ld"))  # fmt: skip
    return lay


def _as_image(img) -> Image.Image:
    return img if isinstance(img, Image.Image) else Image.fromarray(np.asarray(img, dtype=np.uint8))


def _fit_image(img, side: int) -> Image.Image:
    im = _as_image(img).convert("RGB")
    if im.size != (side, side):
        im = im.resize((side, side), Image.Resampling.LANCZOS)
    return im


def _draw_badge(draw: ImageDraw.ImageDraw, line: TextLine) -> None:
    x0, y0, x1, y1 = line.box()
    pad = max(2, line.size // 3)
    draw.rounded_rectangle((x0 - pad, y0 - pad, x1 + pad, y1 + pad), radius=pad, fill=BACKGROUND)
    draw.text(line.xy, line.text, font=font(line.size), fill=INK, anchor=line.anchor)


def render_poster(layout: PosterLayout, images: list) -> Image.Image:
    """Draw a :class:`PosterLayout` with one image per cell (PIL images or uint8 arrays)."""
    canvas = Image.new("RGB", layout.size, BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    for box, rgb in layout.bars:
        draw.rectangle(box, fill=rgb)
    for box, img in zip(layout.cells, images, strict=False):
        canvas.paste(_fit_image(img, box[2] - box[0]), box[:2])
    for line in layout.lines:
        if line.role == "badge":
            _draw_badge(draw, line)
        else:
            draw.text(line.xy, line.text, font=font(line.size, line.bold), fill=line.fill, anchor=line.anchor)
    return canvas


@dataclass
class CoverLayout:
    size: int
    lines: list[TextLine] = field(default_factory=list)
    cells: list[tuple[int, int, int, int]] = field(default_factory=list)
    mosaic_box: tuple[int, int, int, int] = (0, 0, 0, 0)
    content_box: tuple[int, int, int, int] = (0, 0, 0, 0)  # mosaic and text together

    def title(self) -> str:
        return join_wrapped([(line.text, line.continued) for line in self.lines if line.role == "title"])


def cover_grid_side(n_images: int) -> int:
    """3×3 from nine distinct images, 2×2 from four, else one."""
    return 3 if n_images >= 9 else 2 if n_images >= 4 else 1 if n_images else 0


def cover_picks(n_images: int, seed_index: int = 0) -> list[int]:
    """Which images a cover shows: the seed's and the rest spread evenly along the playlist."""
    k = cover_grid_side(n_images) ** 2
    if k <= 1:
        return [seed_index][:k]
    others = [i for i in range(n_images) if i != seed_index]
    return [seed_index] + [others[int(j)] for j in np.linspace(0, len(others) - 1, k - 1).round()]


def cover_layout(title: str, n_images: int, subtitle: str | None = None, size: int = COVER_SIZE,
                 native: int | None = None, vectors: np.ndarray | None = None) -> CoverLayout:  # fmt: skip
    """The cover's composition for ``n_images`` distinct images (already picked, at most 9 used):
    equal margins left and right, the mosaic-and-title block centred top to bottom."""
    from segue.art.layout import Grid, arrange_by_similarity

    lay = CoverLayout(size)
    margin = round(size * 0.07)
    text_w = size - 2 * margin
    ts, title_lines = _fit_block(title, text_w, round(size * 0.06), round(size * 0.032), 2, bold=True)
    ss = max(12, round(size * 0.022))
    sub_lines = wrap_text(subtitle, ss, text_w) if subtitle else []
    text_h = len(title_lines) * round(ts * 1.18) + (round(ss * 0.5) + len(sub_lines) * round(ss * 1.35) if sub_lines else 0)
    k = cover_grid_side(n_images)
    gap = round(size * 0.008) if k > 1 else 0
    text_gap = round(margin * 0.6)
    side = min(text_w, size - 2 * margin - text_h - text_gap)
    cell = (side - (k - 1) * gap) // k if k else 0
    if native:
        cell = min(cell, int(native * MAX_UPSCALE))
    mosaic = k * cell + (k - 1) * gap if k else 0
    content_h = mosaic + (text_gap if mosaic else 0) + text_h
    top = (size - content_h) // 2
    left = (size - mosaic) // 2
    lay.mosaic_box = (left, top, left + mosaic, top + mosaic)
    lay.content_box = (min(left, margin), top, max(left + mosaic, size - margin), top + content_h)
    if k:
        order = np.arange(k * k)
        if vectors is not None and k > 1:
            order = arrange_by_similarity(np.asarray(vectors)[: k * k], Grid(k * k, k, k, cell, gap))
        for c in order:
            r, col = divmod(int(c), k)
            x, y = left + col * (cell + gap), top + r * (cell + gap)
            lay.cells.append((x, y, x + cell, y + cell))
    y = top + mosaic + (text_gap if mosaic else 0)
    for text, cont in title_lines:
        lay.lines.append(TextLine(text, (size // 2, y), ts, "title", anchor="ma", continued=cont, bold=True))
        y += round(ts * 1.18)
    if sub_lines:
        y += round(ss * 0.5)
        for text, cont in sub_lines:
            lay.lines.append(TextLine(text, (size // 2, y), ss, "subtitle", anchor="ma", continued=cont, fill=MUTED))
            y += round(ss * 1.35)
    return lay


def render_cover(title: str, images: list, size: int = COVER_SIZE, subtitle: str | None = None,
                 vectors: np.ndarray | None = None, layout: CoverLayout | None = None) -> Image.Image:  # fmt: skip
    """A square cover: a 3×3 (or 2×2, or 1) mosaic of distinct images, the title beneath."""
    if layout is None:
        picks = cover_picks(len(images))
        images = [images[i] for i in picks]
        vectors = None if vectors is None else np.asarray(vectors)[picks]
        native = min((_as_image(im).size[0] for im in images), default=None)
        layout = cover_layout(title, len(images), subtitle, size, native, vectors)
    canvas = Image.new("RGB", (size, size), BACKGROUND)
    for box, img in zip(layout.cells, images, strict=False):
        canvas.paste(_fit_image(img, box[2] - box[0]), box[:2])
    draw = ImageDraw.Draw(canvas)
    for line in layout.lines:
        draw.text(line.xy, line.text, font=font(line.size, line.bold), fill=line.fill, anchor=line.anchor)
    return canvas
