"""Dominant colours (OKLab k-means) and cover normalisation / de-duplication on a real store."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segue.api import Library
from segue.art.colours import dominant_colours, oklab_to_rgb, rgb_to_oklab
from segue.art.covers import dhash, load_images, prepare_covers, unique_covers

from audio_factory import png_bytes, tag_file, write_audio


def stripes(colours: list[tuple[int, int, int]], shares: list[float], size: int = 100) -> np.ndarray:
    """Horizontal bands whose heights are the shares (of ``size`` rows)."""
    img = np.zeros((size, size, 3), dtype=np.uint8)
    top = 0
    for c, s in zip(colours, shares, strict=True):
        rows = int(round(s * size))
        img[top : top + rows] = c
        top += rows
    assert top == size
    return img


def test_oklab_round_trip_and_reference_values():
    rgb = np.random.default_rng(0).integers(0, 256, (500, 3))
    assert np.abs(oklab_to_rgb(rgb_to_oklab(rgb)).astype(int) - rgb).max() <= 1
    # Ottosson's reference: white is L=1, a=b=0; black is L=0
    assert np.allclose(rgb_to_oklab(np.array([255, 255, 255])), [1, 0, 0], atol=1e-3)
    assert np.allclose(rgb_to_oklab(np.array([0, 0, 0])), [0, 0, 0], atol=1e-6)


def test_three_flat_colours_give_exact_shares_sorted():
    img = stripes([(30, 30, 200), (220, 20, 20), (20, 180, 40)], [0.2, 0.5, 0.3])
    pal = dominant_colours(Image.fromarray(img))
    assert pal.shares == pytest.approx([0.5, 0.3, 0.2])
    assert pal.rgb == [(220, 20, 20), (20, 180, 40), (30, 30, 200)]


def test_seven_noisy_colours_recovered_by_kmeans():
    colours = [(240, 240, 240), (20, 20, 20), (200, 30, 30), (30, 160, 60), (40, 60, 200),
               (240, 200, 40), (150, 60, 170)]  # fmt: skip
    shares = [0.30, 0.20, 0.15, 0.12, 0.10, 0.08, 0.05]
    img = stripes(colours, shares).astype(int)
    img = np.clip(img + np.random.default_rng(1).integers(-4, 5, img.shape), 0, 255).astype(np.uint8)
    pal = dominant_colours(img)
    assert len(pal.rgb) == 7
    assert pal.shares == pytest.approx(shares, abs=0.005)
    assert sum(pal.shares) == pytest.approx(1.0)
    for got, want in zip(pal.rgb, colours, strict=True):
        assert np.abs(np.array(got) - want).max() <= 4, (got, want)
    assert pal.feature().shape == (28,)


def _png(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", **kw)
    return buf.getvalue()


def _pattern(seed: int, size: int = 200) -> Image.Image:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC)


def test_covers_normalised_deduplicated_and_coloured(tmp_path: Path):
    art = _pattern(3)
    buf = io.BytesIO()
    art.convert("RGB").save(buf, format="JPEG", quality=80)
    wide = Image.new("RGB", (300, 200), (0, 0, 0))
    wide.paste(art, (50, 0))  # the same art letterboxed: the centre crop finds it again
    covers = {
        "original.mp3": _png(art),
        "same_pixels.mp3": _png(art, optimize=True, compress_level=1),  # other bytes, same pixels
        "jpeg.mp3": buf.getvalue(),  # same art, lossy
        "letterboxed.mp3": _png(wide),
        "other_art.mp3": _png(_pattern(4)),
        "flat_red.mp3": png_bytes((200, 20, 20), 64),
        "flat_blue.mp3": png_bytes((20, 20, 200), 64),  # same (zero) dHash as red: colour decides
    }
    music = tmp_path / "music"
    for i, (name, data) in enumerate(covers.items()):
        write_audio(music / name, seconds=1.0, seed=i)
        tag_file(music / name, cover=data, title=name, artist="A", album=name)
    with Library.open(tmp_path / "lib.db") as lib:
        lib.scan([music], analyse=False, progress=False, workers=1)
        cache = tmp_path / "art"
        got = prepare_covers(lib.store, cache, progress=False)
        by_track = {Path(t.path).name: t.cover_hash for t in lib.store.tracks()}
    assert len(got) == 7
    for c in got:
        for size in (128, 64):
            with Image.open(c.path(size, cache)) as img:
                assert img.size == (size, size) and img.mode == "RGB"
        assert len(c.palette.rgb) >= 1 and abs(sum(c.palette.shares) - 1) < 1e-4
    dup = {c.digest: c.duplicate_of for c in got}
    canon = {name: dup[by_track[name]] or by_track[name] for name in covers}
    assert canon["same_pixels.mp3"] == canon["jpeg.mp3"] == canon["letterboxed.mp3"] == canon["original.mp3"]
    assert len({canon["original.mp3"], canon["other_art.mp3"], canon["flat_red.mp3"], canon["flat_blue.mp3"]}) == 4
    assert len(unique_covers(got)) == 4
    red = next(c for c in got if c.digest == by_track["flat_red.mp3"])
    assert red.palette.rgb == [(200, 20, 20)] and red.palette.shares == [1.0]
    assert load_images(unique_covers(got), 64, cache).shape == (4, 64, 64, 3)
    # a second call reuses the files: nothing is re-decoded, same answer
    with Library.open(tmp_path / "lib.db") as lib:
        again = prepare_covers(lib.store, cache, progress=False)
    assert [(c.digest, c.duplicate_of) for c in again] == [(c.digest, c.duplicate_of) for c in got]


def test_dhash_is_stable_under_resizing_and_differs_across_art():
    a, b = _pattern(5), _pattern(6)
    ha = dhash(a)
    assert bin(ha ^ dhash(a.resize((97, 97)))).count("1") <= 4
    assert bin(ha ^ dhash(b)).count("1") > 12
