"""Pictures of a track's sound, for libraries without covers: every feature means something.

- **Hue** — where the track's MusiCNN tags lie in the library (the angle of its tag vector in
  the library's first two principal components): tracks that sound alike share a hue.
  **Chroma** — how far from the library's average it is: distinctive tracks are vivid.
- **Lightness** — brightness (spectral centroid): bright sounds, light backgrounds.
- **Accent colour** — the key on the Camelot wheel (30° a step, so harmonically close keys have
  close hues); minor keys a darker accent than major ones.
- **Rings** — tempo: one ring per 15 BPM; crisp edges for a steady beat, soft ones for a loose
  one (the tempo's confidence). Their contrast is loudness.
- **Centre** — the third principal component moves the rings' centre along the diagonal.

Rendered at any size directly (no upscaling), deterministic, and independent of the names.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from segue.art.colours import oklab_to_rgb
from segue.art.music import TAG_DIM, SoundFacts


class TagSpace:
    """The library's tag vectors z-scored and turned by PCA: where a track lies in its library."""

    def __init__(self, library_tags: np.ndarray) -> None:
        x = np.asarray(library_tags, np.float64).reshape(-1, TAG_DIM)
        if len(x) == 0:
            x = np.zeros((1, TAG_DIM))
        self.mean = x.mean(0)
        self.std = np.maximum(x.std(0), 1e-3)
        z = (x - self.mean) / self.std
        self.axes = np.zeros((TAG_DIM, 3))
        if len(z) > 1:
            _, _, vt = np.linalg.svd(z - z.mean(0), full_matrices=False)
            k = min(3, len(vt))
            self.axes[:, :k] = vt[:k].T
            # a sign convention, so adding a track does not flip the whole library's colours
            self.axes *= np.where(self.axes.sum(0) < 0, -1.0, 1.0)
        proj = z @ self.axes
        self.scale = np.maximum(np.median(np.linalg.norm(proj[:, :2], axis=1)), 1e-6)
        self.scale3 = np.maximum(np.median(np.abs(proj[:, 2])), 1e-6)

    def place(self, tags: np.ndarray | None) -> np.ndarray:
        """(x, y, z) of a tag vector: x, y in units of the library's median radius."""
        if tags is None:
            return np.zeros(3)
        p = ((np.asarray(tags, np.float64) - self.mean) / self.std) @ self.axes
        return np.array([p[0] / self.scale, p[1] / self.scale, p[2] / self.scale3])


def _lch(lightness: float, chroma: float, hue: float) -> np.ndarray:
    return np.array([lightness, chroma * np.cos(hue), chroma * np.sin(hue)])


def _camelot_angle(code: str | None) -> tuple[float, bool] | None:
    if not code or len(code) < 2 or code[-1].upper() not in "AB" or not code[:-1].isdigit():
        return None
    n = int(code[:-1])
    if not 1 <= n <= 12:
        return None
    return (n - 1) / 12 * 2 * np.pi, code[-1].upper() == "A"


def soundprint(facts: SoundFacts, space: TagSpace, size: int = 512) -> np.ndarray:
    """One track's picture, ``(size, size, 3)`` uint8."""
    x, y, z = space.place(facts.tags)
    hue = float(np.arctan2(y, x))
    radius = float(np.hypot(x, y))
    chroma = 0.04 + 0.11 * np.tanh(radius / 1.5) if facts.tags is not None else 0.015
    # brightness: 0.7 kHz (dark, bassy) .. 4.5 kHz (bright) -> OKLab lightness 0.32 .. 0.82
    c = facts.brightness if facts.brightness else 1.8
    light = 0.32 + 0.5 * float(np.clip(np.log2(max(c, 0.1) / 0.7) / np.log2(4.5 / 0.7), 0, 1))
    key = _camelot_angle(facts.camelot)
    if key is None:
        accent_hue, minor = hue + 2.6, True
    else:
        accent_hue, minor = key
    loud = facts.loudness if facts.loudness is not None else -18.0
    strength = float(np.clip((loud + 30.0) / 22.0, 0.2, 1.0))
    accent_l = light - 0.28 if light > 0.55 else light + 0.3
    accent_l += -0.05 if minor else 0.05
    accent = _lch(float(np.clip(accent_l, 0.15, 0.95)), 0.06 + 0.1 * strength, accent_hue)
    top = _lch(light + 0.05, chroma, hue)
    bottom = _lch(light - 0.08, chroma * 1.15, hue + 0.35)

    s = int(size)
    ramp = np.linspace(0.0, 1.0, s)[:, None, None]
    lab = top * (1 - ramp) + bottom * ramp  # (s, 1, 3) -> broadcast over columns
    lab = np.broadcast_to(lab, (s, s, 3)).copy()
    # the rings: one per 15 BPM over the picture's half-diagonal, centred on a diagonal point
    bpm = facts.bpm if facts.bpm else 100.0
    rings = float(np.clip(bpm / 15.0, 3.0, 14.0))
    t = float(np.tanh(z / 2.0)) * 0.22
    cx, cy = 0.5 + t, 0.5 - t
    yy, xx = (np.mgrid[0:s, 0:s] + 0.5) / s
    r = np.hypot(xx - cx, yy - cy) / np.sqrt(0.5)
    wave = 0.5 + 0.5 * np.cos(2 * np.pi * rings * r)
    # beat strength -> edge sharpness; the edge never narrower than ~1.5 px (anti-aliased)
    period_px = s * np.sqrt(0.5) / rings
    beat = facts.beat_strength if facts.beat_strength is not None else 0.5
    k = min(2.0 + 22.0 * float(np.clip(beat, 0, 1)), period_px / 1.5)
    band = 1.0 / (1.0 + np.exp(-k * (wave - 0.5)))
    fade = np.clip(1.25 - r, 0.0, 1.0)
    alpha = (strength * 0.85 * band * fade)[..., None]
    lab = lab * (1 - alpha) + accent * alpha
    return oklab_to_rgb(lab)


def soundprints(facts: Sequence[SoundFacts], library_tags: np.ndarray, size: int = 512) -> np.ndarray:
    """One picture per track, ``(n, size, size, 3)`` uint8; hues placed in ``library_tags``."""
    space = TagSpace(library_tags)
    out = np.empty((len(facts), size, size, 3), dtype=np.uint8)
    for i, f in enumerate(facts):
        out[i] = soundprint(f, space, size)
    return out
