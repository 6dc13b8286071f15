"""Synthetic libraries with a planted structure, written straight into a store (tests, benchmarks).

Each album belongs to a hidden *style*; the stored "MusiCNN" vectors carry the style only
weakly: a track's vector is its style centre (small), plus its album's own offset, plus a strong
per-track nuisance in a few directions (think energy or production that varies from song to
song, not from style to style), plus noise. Cosine similarity of the raw vectors is ruled by
the nuisance, so its neighbours rarely share the style; the albums, which share a style inside
and vary the nuisance inside, are the signal a learned space can use. Tags are a fixed
nonlinear function of the vector (as MusiCNN's are of its penultimate layer).

Optional extras: playlist files (each joins tracks of several albums of one style), listening
sessions (tracks of one style played through) and skips (a track of another style skipped
within seconds of starting). The style is never written into a tag: ``genre`` stays empty unless
``genre_tags`` asks for arbitrary, style-unrelated genres (the leakage test changes them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segue.library.store import Store

DIM = 200
TAGS = 50
VERSION = "synthetic-1"


@dataclass
class SyntheticTruth:
    """What was planted: per track (in store id order), its style, album and artist."""

    hashes: list[str]
    paths: list[str]
    style: np.ndarray
    album: np.ndarray
    artist: np.ndarray


def synthetic_library(
    store: Store,
    n_tracks: int,
    *,
    seed: int = 0,
    styles: int = 6,
    album_size: int = 10,
    albums_per_artist: int = 2,
    style_strength: float = 0.6,
    album_spread: float = 1.0,
    nuisance: float = 3.0,
    nuisance_dims: int = 8,
    noise: float = 0.6,
    album_tags: bool = True,
    folders: str = "album",
    playlists: int = 0,
    playlist_size: int = 12,
    sessions: int = 0,
    session_size: int = 8,
    skips: int = 0,
    genre_tags: bool = False,
    edges: bool = True,
) -> SyntheticTruth:
    """Write ``n_tracks`` tracks with analyses into ``store`` (see the module docstring).

    ``folders``: ``album`` (artist/album/NN.flac), ``flat`` (everything in one folder),
    ``track`` (a folder per track).
    ``album_tags`` False leaves the album tag empty (no album contexts).
    """
    rng = np.random.default_rng(seed)
    n_albums = max(1, -(-n_tracks // album_size))
    album = np.minimum(np.arange(n_tracks) // album_size, n_albums - 1)
    album_style = rng.integers(0, styles, n_albums)
    style = album_style[album]
    artist = album // albums_per_artist

    def unit_rows(m: int) -> np.ndarray:
        x = rng.standard_normal((m, DIM))
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    centres = unit_rows(styles) * style_strength
    offsets = rng.standard_normal((n_albums, DIM)) * (album_spread / np.sqrt(DIM))
    nuisance_basis = unit_rows(nuisance_dims)
    base = rng.standard_normal(DIM) * 0.5  # all vectors share a mean, as MusiCNN's do
    track = (
        base
        + centres[style]
        + offsets[album]
        + (rng.standard_normal((n_tracks, nuisance_dims)) * (nuisance / np.sqrt(nuisance_dims)))
        @ nuisance_basis
        + rng.standard_normal((n_tracks, DIM)) * (noise / np.sqrt(DIM))
    ).astype(np.float32)
    tag_map = rng.standard_normal((DIM, 2 * TAGS)) / np.sqrt(DIM) * 2.0
    tags = (1 / (1 + np.exp(-(track @ tag_map - 1.0)))).astype(np.float32)

    hashes = [f"{seed:04x}{i:012x}" for i in range(n_tracks)]
    paths = []
    genres = ["Rock", "Jazz", "Pop", "Folk", "Noise"]
    with store.transaction():
        for i in range(n_tracks):
            no = int(i - album[i] * album_size) + 1
            if folders == "flat":
                path = f"/synthetic/{seed}/all/{i:07d}.flac"
            elif folders == "track":
                path = f"/synthetic/{seed}/{i:07d}/{no:02d}.flac"
            else:
                path = f"/synthetic/{seed}/artist{artist[i]:05d}/album{album[i]:06d}/{no:02d}.flac"
            paths.append(path)
            store.insert_track({
                "path": path, "size": 1, "mtime_ns": 0, "audio_hash": hashes[i], "format": "flac",
                "duration": 200.0, "title": f"Track {i}", "artist": f"Artist {artist[i]}",
                "album": f"Album {album[i]}" if album_tags else None, "track_no": no,
                "genre": genres[int(rng.integers(0, len(genres)))] if genre_tags else None,
            })  # fmt: skip
            arrays = {
                "track": track[i],
                "tags_msd": tags[i, :TAGS],
                "tags_mtt": tags[i, TAGS:],
            }
            if edges:
                arrays["intro"] = track[i] + rng.standard_normal(DIM).astype(np.float32) * 0.05
                arrays["outro"] = track[i] + rng.standard_normal(DIM).astype(np.float32) * 0.05
            store.record_analysis(hashes[i], "musicnn", VERSION, arrays)
        by_style = [np.flatnonzero(style == s) for s in range(styles)]
        for p in range(playlists):
            members = rng.choice(by_style[int(rng.integers(0, styles))], playlist_size, replace=False)
            entries = [(paths[m], paths[m]) for m in members]
            store.put_playlist_file(f"/synthetic/{seed}/lists/{p:05d}.m3u8", "m3u8", 1, 0, entries)
        at = 1_000_000.0
        for _ in range(sessions):
            pool = by_style[int(rng.integers(0, styles))]
            for m in rng.choice(pool, min(session_size, len(pool)), replace=False):
                store.record_play(int(m) + 1, hashes[m], "start", 0.0, 200.0, at=at)
                store.record_play(int(m) + 1, hashes[m], "complete", 200.0, 200.0, at=at + 200)
                at += 201
            at += 7200  # the next sitting
        for _ in range(skips):
            s = int(rng.integers(0, styles))
            a = int(rng.choice(by_style[s]))
            b = int(rng.choice(by_style[(s + 1 + int(rng.integers(0, styles - 1))) % styles]))
            store.record_play(a + 1, hashes[a], "start", 0.0, 200.0, at=at)
            store.record_play(a + 1, hashes[a], "complete", 200.0, 200.0, at=at + 200)
            store.record_play(b + 1, hashes[b], "start", 0.0, 200.0, at=at + 201)
            store.record_play(b + 1, hashes[b], "skip", 5.0, 200.0, at=at + 206)
            at += 7200
    return SyntheticTruth(hashes, paths, style, album, artist)
