"""Search as you type (the web's box) and fuzzy seed matching share one table per catalogue."""

import threading
import time

from segue.playlist.catalog import Catalog
from segue.playlist.search import folded_fields, fuzzy_matches, type_ahead


def test_type_ahead_ranks_word_starts_and_titles_first() -> None:
    cat = Catalog.synthetic(50, 4, seed=2, transitions=False)
    cat.title[3], cat.artist[3] = "Blue Monday", "New Order"
    cat.title[7], cat.album[7] = "Monday Blues", "Blue Monday Remixes"
    cat.title[9] = "Somebluething"
    assert set(type_ahead(cat, "blue mon", 10)) == {3, 7}  # every word must occur
    got = type_ahead(cat, "blue", 10)
    assert set(got[:2]) == {3, 7} and got[2] == 9  # a word inside a word ranks after word starts
    assert type_ahead(cat, "BLÜE monday", 10)[0] == 3  # case and accents folded
    assert len(type_ahead(cat, "", 20)) == 20  # the empty box lists the library


def test_both_searches_read_one_table() -> None:
    cat = Catalog.synthetic(30, 4, seed=3, transitions=False)
    cat.title[5] = "Halo"
    assert type_ahead(cat, "halo", 3)[0] == 5
    assert fuzzy_matches(cat, "halo", 1)[0][0] == 5
    assert folded_fields(cat) is folded_fields(cat)  # built once, then shared


def test_search_right_after_a_rebuild_from_many_threads() -> None:
    """Searches arriving while a fresh catalogue's search cache is being built all answer, and
    answer the same as a lone search (the cache is stored whole, never seen half built)."""
    def fresh() -> Catalog:
        return Catalog.synthetic(5000, 4, seed=1, transitions=False)

    cat = fresh()
    queries = ["", "a", "01", "x y"]
    expected = {q: type_ahead(cat, q, 20) for q in queries}
    assert expected[""] and expected["01"]
    errors: list[str] = []
    got: dict[int, list[int]] = {}
    for _ in range(3):
        cat = fresh()  # a rebuilt catalogue starts with no search cache

        def go(n: int, cat: Catalog = cat) -> None:
            time.sleep(n * 0.004)  # arrivals spread over the build, not all at once
            try:
                got[n] = type_ahead(cat, queries[n % len(queries)], 20)
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(repr(exc))

        threads = [threading.Thread(target=go, args=(n,)) for n in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert all(got[n] == expected[queries[n % len(queries)]] for n in range(40))


