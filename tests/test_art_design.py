"""The mixtape's poster and cover as a designer would check them, and pictures made from sound.

Renders are kept in test-output/art/ (git-ignored) for people to look at: poster-*.png,
cover-*.png, soundprints.png.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from art_helpers import keep
from segue.art.gan import image_grid
from segue.art.layout import balanced_grid
from segue.art.music import SoundFacts, mixtape_title, tag_names
from segue.art.poster import (
    BACKGROUND,
    COVER_SIZE,
    MAX_UPSCALE,
    cover_layout,
    poster_layout,
    render_cover,
    render_poster,
    track_label,
    wrap_text,
)
from segue.art.soundprint import TagSpace, soundprint, soundprints

LONG = [
    {"artist": "Maxstack (Max McCracken)", "title": "Endgame: Singularity — The Very Long Extended Director's Cut Edition",
     "duration": 421},
    {"artist": "A" * 70, "title": "Supercalifragilisticexpialidocious" * 2, "duration": 3725},
    {"artist": "elysis (Gerd Raudenbusch)", "title": "Thru the mirror", "duration": 90},
]  # fmt: skip


def flat(rgb, side: int = 64) -> np.ndarray:
    return np.broadcast_to(np.array(rgb, np.uint8), (side, side, 3)).copy()


def playlist(n: int) -> list[dict]:
    out = []
    for i in range(n):
        base = LONG[i % len(LONG)] if i % 7 == 0 else {"artist": f"Artist {i}", "title": f"Song number {i}",
                                                       "duration": 60 + i}  # fmt: skip
        out.append(dict(base))
    return out


def overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("n", [3, 22, 42, 60])
def test_track_names_wrap_and_are_never_cut(n: int, tmp_path):
    tracks = playlist(n)
    title = "segue mixtape: Kenta Cho – Torus Trooper - Tt3, a title far too long for one line"
    lay = poster_layout(title, tracks, subtitle="from Kenta Cho – Torus Trooper - Tt3 · with elysis and 9 more")
    assert lay.track_texts() == [track_label(t) for t in tracks]  # whole, in order
    assert lay.title() == title and not any("…" in line.text for line in lay.lines)
    x0, y0, x1, y1 = lay.tracklist_box
    for line in lay.lines:
        if line.role != "badge":
            bx0, by0, bx1, by1 = line.box()
            assert x0 <= bx0 and bx1 <= x1 and y0 <= by0 and by1 <= y1, line
    # a wrapped name never runs into its row's duration, and rows never run into each other
    by_row: dict[int, list] = {}
    for line in lay.lines:
        if line.row is not None and line.role in ("track", "duration"):
            by_row.setdefault(line.row, []).append(line)
    spans = []
    for row, lines in sorted(by_row.items()):
        dur = next(line.box() for line in lines if line.role == "duration")
        for line in lines:
            if line.role == "track":
                assert not overlaps(line.box(), dur), (row, line.text)
        spans.append((min(line.box()[1] for line in lines), max(line.box()[3] for line in lines)))
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert len([line for line in lay.lines if line.role == "track"]) > n  # something did wrap
    if n in (22, 60):
        images = [flat(np.random.default_rng(i).integers(0, 255, 3)) for i in range(n)]
        keep(render_poster(lay, images), tmp_path, f"poster-long-names-{n}.png")


def test_wrap_text_breaks_inside_a_word_only_when_it_must():
    lines = wrap_text("a " + "x" * 200 + " end", 14, 200)
    assert len(lines) > 2 and all(cont for _, cont in lines[1:-2])
    assert "".join(t + ("" if c else " ") for t, c in lines).strip() == "a " + "x" * 200 + " end"


@pytest.mark.parametrize("box", [(540, 1600), (1000, 1000), (1600, 540)])
def test_grids_leave_no_orphan_row(box):
    w, h = box
    for n in range(1, 81):
        g = balanced_grid(n, w, h, gap=4)
        assert g.rows * g.cols >= n and (g.rows == 1 or 2 * g.last_row >= g.cols), (n, g)
        boxes = g.boxes()
        assert len(boxes) == n and all(b[2] <= w and b[3] <= h for b in boxes)
        assert not any(overlaps(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
        # the last row is centred
        last = boxes[(g.rows - 1) * g.cols :]
        assert abs(last[0][0] - (g.size[0] - last[-1][2])) <= 1


def test_the_grid_puts_similar_pictures_side_by_side(tmp_path):
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(4, 32)) * 5
    cluster = np.arange(24) % 4  # playlist order interleaves the four kinds of music
    vectors = centres[cluster] + rng.normal(size=(24, 32))
    colours = [(200, 40, 40), (40, 160, 60), (40, 60, 200), (220, 200, 40)]
    lay = poster_layout("Clusters", playlist(24), tile_vectors=vectors)
    g = lay.grid
    cell_of = {(box[0], box[1]): i for i, box in enumerate(lay.cells)}
    step = g.cell + g.gap
    same = pairs = 0
    for (x, y), i in cell_of.items():
        for nb in ((x + step, y), (x, y + step)):
            j = cell_of.get(nb)
            if j is not None:
                pairs += 1
                same += cluster[i] == cluster[j]
    assert pairs >= 20 and same / pairs >= 0.7, (same, pairs)  # reading order would give 0
    keep(render_poster(lay, [flat(colours[c]) for c in cluster]), tmp_path, "poster-grid-by-similarity.png")


@pytest.mark.parametrize("native,count", [(600, 9), (128, 9), (64, 4), (300, 1)])
def test_cover_has_balanced_margins_and_never_blows_images_up(native: int, count: int, tmp_path):
    title = "segue mixtape: Kenta Cho – Torus Trooper - Tt3 and friends from the dev corpus"
    lay = cover_layout(title, count, "from Kenta Cho – Torus Trooper - Tt3 · with elysis and 12 more", native=native)
    assert lay.title() == title
    size = COVER_SIZE
    mx0, my0, mx1, my1 = lay.mosaic_box
    assert abs(mx0 - (size - mx1)) <= 1  # centred left to right
    cx0, cy0, cx1, cy1 = lay.content_box
    assert cy0 >= 0.05 * size and abs(cy0 - (size - cy1)) <= 2  # top margin = bottom margin
    side = lay.cells[0][2] - lay.cells[0][0]
    assert side <= native * MAX_UPSCALE
    for line in lay.lines:
        b = line.box()
        assert b[0] >= 0.04 * size and b[2] <= 0.96 * size and b[3] <= size, line
    images = [flat(np.random.default_rng(i).integers(0, 200, 3), native) for i in range(count)]
    img = render_cover(title, images, layout=lay)
    px = np.asarray(img)
    assert (px[: int(0.05 * size)] == BACKGROUND).all()  # nothing touches the top edge
    keep(img, tmp_path, f"cover-{native}px-{count}.png")


def test_cover_images_are_all_different():
    images = [flat((i * 20, 40, 90)) for i in range(12)]
    img = np.asarray(render_cover("Twelve", images))
    lay = cover_layout("Twelve", 9, native=64)
    seen = {tuple(img[(b[1] + b[3]) // 2, (b[0] + b[2]) // 2]) for b in lay.cells}
    assert len(seen) == 9


def tags_like(*strong: str, seed: int = 0) -> np.ndarray:
    names = tag_names()
    v = np.random.default_rng(seed).uniform(0.0, 0.05, len(names))
    for i, name in enumerate(strong):
        v[names.index(name)] = 0.8 - 0.1 * i
    return v.astype(np.float32)


def test_title_comes_from_the_seed_and_the_music():
    tracks = [{"artist": "Seed Artist", "title": "First"}] + [{"artist": f"A{i % 4}", "title": "x"} for i in range(9)]
    facts = [SoundFacts(tags_like("jazz", "blues", seed=i), bpm=150 + i) for i in range(10)]
    reference = np.stack([tags_like("rock", "pop", seed=i) for i in range(50)] + [f.tags for f in facts])
    title, sub = mixtape_title(tracks, facts, reference)
    assert title == "Fast Jazz & Blues"
    assert sub.startswith("from Seed Artist – First · with A") and "and 1 more" in sub
    # the library's commonest tag is not what makes a playlist of it distinctive
    rocky = [SoundFacts(tags_like("rock", "punk", seed=i)) for i in range(10)]
    title, _ = mixtape_title(tracks, rocky, np.stack([tags_like("rock", seed=i) for i in range(50)]))
    assert title.startswith("Punk")
    # nothing analysed: the seed's own title
    assert mixtape_title(tracks, [SoundFacts(None)] * 10)[0] == "First"


# -- soundprints ----------------------------------------------------------------------------------
def _lab_mean(img: np.ndarray) -> np.ndarray:
    from segue.art.colours import rgb_to_oklab

    return rgb_to_oklab(img[::4, ::4]).reshape(-1, 3).mean(0)


def test_soundprints_show_the_music_not_the_name(tmp_path):
    kinds = [("electronic", "dance"), ("folk", "acoustic"), ("metal", "hard rock")]
    facts = []
    for k, strong in enumerate(kinds):
        for i in range(6):
            facts.append(SoundFacts(tags_like(*strong, seed=10 * k + i), bpm=[90, 120, 170][k] + i,
                                    beat_strength=0.8, camelot=f"{4 * k + 1}A", loudness=-12 - k,
                                    brightness=[2.5, 1.2, 3.5][k]))  # fmt: skip
    library = np.stack([f.tags for f in facts])
    images = soundprints(facts, library, size=96)
    assert images.shape == (18, 96, 96, 3)
    again = soundprints(facts, library, size=96)
    assert np.array_equal(images, again)  # from the facts alone: deterministic
    labs = np.stack([_lab_mean(im) for im in images])
    kind = np.repeat(np.arange(3), 6)
    d = np.linalg.norm(labs[:, None] - labs[None], axis=-1) + np.eye(18) * 1e9
    assert (kind[d.argmin(1)] == kind).mean() >= 0.9  # the nearest picture is the same music
    keep(Image.fromarray(image_grid(images, cols=6)), tmp_path, "soundprints.png")


def test_soundprint_features_each_change_the_picture():
    space = TagSpace(np.stack([tags_like("rock", seed=i) for i in range(5)] + [tags_like("jazz", seed=9)]))
    base = SoundFacts(tags_like("rock", seed=1), bpm=100, beat_strength=0.9, camelot="8A", loudness=-12, brightness=2.0)

    def with_(**kw):
        return soundprint(SoundFacts(**{**base.__dict__, **kw}), space, 128).astype(float)

    ref = with_()

    def detail(img):  # how busy the picture is: mean absolute gradient
        return np.abs(np.diff(img, axis=0)).mean() + np.abs(np.diff(img, axis=1)).mean()

    assert detail(with_(bpm=60)) < detail(ref) < detail(with_(bpm=170))  # tempo: ring count
    assert _lab_mean(with_(brightness=4.0))[0] > _lab_mean(with_(brightness=0.8))[0]  # brightness
    near = np.abs(with_(camelot="9A") - ref).mean()
    far = np.abs(with_(camelot="2A") - ref).mean()
    assert near < far  # neighbouring keys, neighbouring accent colours
    assert np.abs(with_(tags=tags_like("jazz", seed=9)) - ref).mean() > near
    big = soundprint(base, space, 600)
    assert big.shape == (600, 600, 3)  # drawn at the size it is shown, never enlarged


# -- a real library with covers --------------------------------------------------------------------
@pytest.fixture(scope="module")
def covered(tmp_path_factory) -> dict:
    """Nine encoded tracks: two albums of three sharing their cover (300-px PNG, 400-px JPEG),
    one single with a 100-px cover, two singles without; scanned with analysis."""
    from art_helpers import pattern_cover
    from segue.api import Library

    from audio_factory import tag_file, write_audio

    root = tmp_path_factory.mktemp("covered")
    blue, red, small = pattern_cover(1, 300), pattern_cover(2, 400, "JPEG"), pattern_cover(3, 100)
    files = [(f"Blue/{i}.mp3", "Blue Band", "Blue", blue) for i in range(3)]
    files += [(f"Red/{i}.flac", "Red Band", "Red", red) for i in range(3)]
    files += [("Single/s.ogg", "Single Artist", "Single", small), ("Bare/a.ogg", "Bare One", "", None),
              ("Bare/b.ogg", "Bare Two", "", None)]  # fmt: skip
    for i, (rel, artist, album, cover) in enumerate(files):
        path = root / "music" / rel
        write_audio(path, seconds=3.0, seed=i)
        tag_file(path, cover=cover, title=f"Song {i}", artist=artist, **({"album": album} if album else {}))
    db = root / "library.db"
    with Library.open(db) as lib:
        lib.scan([root / "music"], progress=False)
    return {"root": root, "db": db}


def test_mixtape_from_covers_shows_each_picture_once_at_a_size_it_bears(covered, tmp_path, monkeypatch):
    from segue.api import Library
    from segue.art.mixtape import make_mixtape

    monkeypatch.setenv("SEGUE_ART_CACHE", str(tmp_path / "art"))
    with Library.open(covered["db"]) as lib:
        rows = lib.rows_json(list(range(len(lib.catalog()))))  # the whole library as the playlist
        summary = make_mixtape(lib.store, rows, tmp_path / "p.m3u8", tmp_path / "tape", compare=False, progress=False)
    tracks = summary["tracks"]
    assert len(tracks) == 9 and summary["images"] == "covers+soundprints"
    tiles = summary["grid"]["tiles"]
    # each album's cover is one picture for its three tracks; the bare singles get soundprints
    groups: dict[str, set[int]] = {}
    for t in tracks:
        groups.setdefault(t["album"] if t["cover"] else f"bare {t['id']}", set()).add(t["id"])
    assert sorted(sorted(g) for g in groups.values()) == sorted(sorted(tile["tracks"]) for tile in tiles)
    assert sorted(tile["source"] for tile in tiles) == ["cover"] * 3 + ["soundprint"] * 2
    # never blown up: the smallest source (the 100-px cover) sets the cell, at most 2x
    assert summary["grid"]["cell"] <= 200
    # no picture twice: every cell shows something else
    poster = np.asarray(Image.open(tmp_path / "tape" / "poster.png").convert("RGB")).astype(int)
    crops = [poster[b[1] : b[3], b[0] : b[2]] for b in (tile["box"] for tile in tiles)]
    for i in range(len(crops)):
        for j in range(i + 1, len(crops)):
            assert np.abs(crops[i] - crops[j]).mean() > 10
    # a title made from the music, whole on poster and cover
    assert summary["title"] and "…" not in summary["title"] and not summary["title"].startswith("segue mixtape")
    keep(tmp_path / "tape" / "poster.png", tmp_path, "poster-covers-library.png")
    keep(tmp_path / "tape" / "cover.png", tmp_path, "cover-covers-library.png")
