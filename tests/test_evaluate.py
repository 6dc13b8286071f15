import csv

import pytest

from segue.errors import UserError
from segue.evaluate import Labels, evaluate, load_labels
from segue.playlist.catalog import Catalog


@pytest.fixture(scope="module")
def clustered():
    return Catalog.synthetic(1500, 24, seed=0, n_genres=6, artists_per_genre=8)


@pytest.fixture(scope="module")
def random_vectors():
    return Catalog.synthetic(1500, 24, seed=0, n_genres=6, artists_per_genre=8, random=True)


def test_random_vectors_score_chance_and_clustered_score_high(clustered, random_vectors):
    good = evaluate(clustered, n_queries=200, n_journeys=10)
    bad = evaluate(random_vectors, n_queries=200, n_journeys=10)
    for r in (good, bad):
        assert 0.12 < r["genre_precision"]["chance"] < 0.22  # 6 genres
    # random vectors: no better than chance (the metric can fail)
    assert abs(bad["genre_precision"]["value"] - bad["genre_precision"]["chance"]) < 0.05
    assert bad["same_artist_share"] < 0.1
    # clustered: far above chance, even with the query's artist removed
    assert good["genre_precision"]["value"] > 0.8
    assert good["genre_precision_album_filtered"]["value"] > 0.8
    assert good["same_artist_share"] > 0.5 and good["same_album_share"] > 0.3
    # journeys follow the space: smoother than a shuffle and approaching the destination
    assert good["journeys"]["smoothness_ratio"] < 0.85
    assert good["journeys"]["monotonicity"] > 0.6
    h = good["hubness"]
    assert set(h) >= {"skewness", "antihub_share", "top1pct_share", "k", "n"} and h["k"] == 10


def test_deterministic_with_a_seed(clustered):
    a = evaluate(clustered, n_queries=50, n_journeys=3, seed=3)
    b = evaluate(clustered, n_queries=50, n_journeys=3, seed=3)
    assert a == b


def test_labels_from_csv_matched_by_path_or_suffix(tmp_path, clustered):
    csv_path = tmp_path / "labels.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Path", "artist", "album", "genre"])
        for i in range(len(clustered)):
            p = clustered.path[i]
            if i % 3 == 0:
                p = "/elsewhere/disk" + p  # matched by path suffix
            elif i % 3 == 1:
                p = p.lstrip("/")  # relative to the CSV: resolved, then matched by suffix
            w.writerow([p, clustered.artist[i], clustered.album[i], "G" + clustered.genre[i]])
    labels = load_labels(csv_path)
    assert len(labels.path) == len(clustered)
    rows = labels.match(clustered)
    assert (rows >= 0).all() and (rows == range(len(clustered))).all()
    r = evaluate(clustered, labels, n_queries=100, n_journeys=0)
    assert r["n_labelled"] == len(clustered) and r["genre_precision"]["value"] > 0.8


def test_ambiguous_or_missing_labels(tmp_path, clustered):
    labels = Labels(["/x/a/001.flac", "/y/b/001.flac"], ["", ""], ["", ""], ["g", "g"])
    cat = Catalog.synthetic(3, 8, seed=1)
    assert (labels.match(cat) == -1).all()  # same basename twice, nothing more in common
    with pytest.raises(UserError, match="no track of the library matches"):
        evaluate(clustered, labels, n_journeys=0)
    bad = tmp_path / "bad.csv"
    bad.write_text("file,genre\na.mp3,rock\n", encoding="utf-8")
    with pytest.raises(UserError, match="no 'path' column"):
        load_labels(bad)
    with pytest.raises(UserError, match="no such labels file"):
        load_labels(tmp_path / "none.csv")
