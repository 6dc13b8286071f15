"""Dominant colours of an image: k-means in OKLab (a perceptual space), shares sorted high to low.

OKLab (Björn Ottosson, 2020) makes Euclidean distance roughly match perceived difference, so
clusters are colours a person would name apart, and the cluster mean is a colour a person would
call the average. Pixels are clustered, not unique colours, so shares are pixel fractions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_COLOURS = 7

_M1 = np.array(
    [[0.4122214708, 0.5363325363, 0.0514459929],
     [0.2119034982, 0.6806995451, 0.1073969566],
     [0.0883024619, 0.2817188376, 0.6299787005]]
)  # fmt: skip
_M2 = np.array(
    [[0.2104542553, 0.7936177850, -0.0040720468],
     [1.9779984951, -2.4285922050, 0.4505937099],
     [0.0259040371, 0.7827717662, -0.8086757660]]
)  # fmt: skip


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c: np.ndarray) -> np.ndarray:
    c = np.clip(c, 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * np.power(c, 1 / 2.4) - 0.055)


def rgb_to_oklab(rgb: np.ndarray) -> np.ndarray:
    """``(..., 3)`` sRGB in 0..255 -> OKLab (L in 0..1)."""
    lin = srgb_to_linear(np.asarray(rgb, dtype=np.float64) / 255.0)
    lms = np.cbrt(lin @ _M1.T)
    return lms @ _M2.T


def oklab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """OKLab -> ``(..., 3)`` sRGB uint8 (out-of-gamut values clipped)."""
    lms = np.asarray(lab, dtype=np.float64) @ np.linalg.inv(_M2).T
    lin = (lms**3) @ np.linalg.inv(_M1).T
    return np.round(linear_to_srgb(lin) * 255).astype(np.uint8)


@dataclass
class Palette:
    """Dominant colours (sRGB 0..255 and OKLab) with their pixel shares, largest share first."""

    rgb: list[tuple[int, int, int]]
    lab: list[tuple[float, float, float]]
    shares: list[float]

    def to_json(self) -> dict[str, list]:
        return {
            "rgb": [list(c) for c in self.rgb],
            "hex": ["#{:02x}{:02x}{:02x}".format(*c) for c in self.rgb],
            "lab": [[round(v, 5) for v in c] for c in self.lab],
            "shares": [round(s, 5) for s in self.shares],
        }

    @classmethod
    def from_json(cls, data: dict) -> Palette:
        return cls(
            rgb=[tuple(int(v) for v in c) for c in data["rgb"]],  # type: ignore[misc]
            lab=[tuple(float(v) for v in c) for c in data["lab"]],  # type: ignore[misc]
            shares=[float(s) for s in data["shares"]],
        )

    def feature(self, k: int = N_COLOURS) -> np.ndarray:
        """A fixed-length vector (L, a, b, share per colour, zero-padded) for projections."""
        out = np.zeros((k, 4), dtype=np.float32)
        for i, (lab, share) in enumerate(zip(self.lab[:k], self.shares[:k], strict=True)):
            out[i, :3] = lab
            out[i, 3] = share
        return out.ravel()


def dominant_colours(image, k: int = N_COLOURS, max_pixels: int = 4096, seed: int = 0) -> Palette:
    """The ``k`` dominant colours of an image (PIL image or ``(H, W, 3)`` uint8 array).

    k-means (k-means++ seeded by ``seed``, so deterministic) runs on at most ``max_pixels``
    sampled pixels; then every pixel is assigned to its nearest centre, so the shares are exact
    pixel fractions of the whole image. Fewer than ``k`` colours come back when the image has
    fewer distinct colours.
    """
    from sklearn.cluster import KMeans

    pixels = np.asarray(image.convert("RGB") if hasattr(image, "convert") else image).reshape(-1, 3)
    unique, inverse, counts = np.unique(pixels, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    lab_unique = rgb_to_oklab(unique)
    k = min(k, len(unique))
    if k == len(unique):  # exact: every distinct colour is its own cluster
        labels = np.arange(k)
    else:
        rng = np.random.default_rng(seed)
        sample = pixels if len(pixels) <= max_pixels else pixels[rng.choice(len(pixels), max_pixels, replace=False)]
        s_unique, s_counts = np.unique(sample, axis=0, return_counts=True)
        # clustering the distinct colours weighted by their counts equals clustering the pixels
        km = KMeans(n_clusters=min(k, len(s_unique)), n_init=2, random_state=seed)
        km.fit(rgb_to_oklab(s_unique), sample_weight=s_counts)
        d = ((lab_unique[:, None, :] - km.cluster_centers_[None, :, :]) ** 2).sum(-1)
        labels = d.argmin(1)
        k = km.n_clusters
    weights = np.bincount(labels, weights=counts, minlength=k)
    centres = np.zeros((k, 3))
    np.add.at(centres, labels, lab_unique * counts[:, None])
    centres /= np.maximum(weights, 1)[:, None]
    order = [j for j in np.argsort(-weights, kind="stable") if weights[j] > 0]
    shares = weights[order] / weights.sum()
    rgb = oklab_to_rgb(centres[order])
    return Palette(
        rgb=[tuple(int(v) for v in c) for c in rgb],  # type: ignore[misc]
        lab=[tuple(float(v) for v in c) for c in centres[order]],  # type: ignore[misc]
        shares=[float(s) for s in shares],
    )
