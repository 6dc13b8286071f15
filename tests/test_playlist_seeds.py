import numpy as np
import pytest

from playlist_helpers import make_catalog
from segue.errors import UserError
from segue.playlist.catalog import Catalog
from segue.playlist.search import fuzzy_matches
from segue.playlist.seeds import resolve_seed, resolve_seeds


@pytest.fixture(scope="module")
def cat():
    artists = ["Beyoncé", "The Beatles", "Miles Davis", "Miles Davis", "Prince", "Björk", ""]
    titles = ["Halo", "Let It Be", "So What", "Blue in Green", "1999", "Jóga", ""]
    albums = ["I Am", "Let It Be", "Kind of Blue", "Kind of Blue", "1999", "Homogenic", ""]
    n = len(artists)
    rng = np.random.default_rng(0)
    return make_catalog(
        rng.standard_normal((n, 8)),
        ids=[10, 20, 30, 40, 50, 60, 70],
        artist=artists,
        title=titles,
        album=albums,
        path=[f"/music/{a or 'x'}/{t or 'untitled track'}.flac" for a, t in zip(artists, titles, strict=True)],
    )


def test_track_id_and_path(cat):
    assert resolve_seed(cat, "30") == 2
    assert resolve_seed(cat, " 30 ") == 2
    assert resolve_seed(cat, "/music/Prince/1999.flac") == 4
    assert resolve_seed(cat, "/music/Prince/../Prince/1999.flac") == 4


def test_fuzzy_artist_title(cat):
    assert resolve_seed(cat, "Miles Davis - So What") == 2
    assert resolve_seed(cat, "miles davis - blue in gren") == 3  # typo
    assert resolve_seed(cat, "beyonce halo") == 0  # accents folded
    assert resolve_seed(cat, "bjork - joga") == 5
    assert resolve_seed(cat, "beatles let it be") == 1
    assert resolve_seed(cat, "1999") == 4  # digits that are not an id: a title
    assert resolve_seed(cat, "untitled track") == 6  # no tags: the file name
    assert resolve_seeds(cat, ["10", "Prince - 1999"]) == [0, 4]
    top = fuzzy_matches(cat, "kind of blue", limit=2)
    assert {i for i, _ in top} == {2, 3}


def test_unknown_seed_names_the_closest(cat):
    with pytest.raises(UserError) as err:
        resolve_seed(cat, "Milez Daviss - Freddie Freeloader")
    msg = str(err.value)
    assert msg.startswith("no track matches 'Milez Daviss - Freddie Freeloader'; closest: ")
    assert "(id 30)" in msg or "(id 40)" in msg
    assert "\n" not in msg
    with pytest.raises(UserError, match="no track matches 'zzzz'"):
        resolve_seed(cat, "zzzz")
    with pytest.raises(UserError, match="empty seed"):
        resolve_seed(cat, "  ")


def test_a_shared_word_or_a_right_artist_alone_is_not_a_match(cat):
    # the repros of issue 13: a number matching a title's token, and a right artist with a
    # title the library does not have, were quietly taken as seeds
    for text in ("-5", "9", "Miles Davis - Freddie Freeloader", "Prince - Purple Rain"):
        with pytest.raises(UserError, match=f"no track matches {text!r}; closest: "):
            resolve_seed(cat, text)
    assert resolve_seed(cat, "prince") == 4  # an artist alone still finds their track


def test_path_outside_library(tmp_path, cat):
    f = tmp_path / "song.mp3"
    f.write_bytes(b"")
    with pytest.raises(UserError, match="not in the library"):
        resolve_seed(cat, str(f))


def test_fast_enough_on_a_large_library():
    import time

    big = Catalog.synthetic(50000, 4, seed=1, transitions=False)
    i = 31337
    text = f"{big.artist[i]} - {big.title[i]}"
    assert resolve_seed(big, text) == i  # first call builds the token index
    t = time.perf_counter()
    assert resolve_seed(big, text.lower()) == i
    assert time.perf_counter() - t < 0.5
