"""A mix from a list of files: options checked, tracks gathered with what the library knows,
rendered. The one place ``segue mix``, ``journey --mix``, ``mixtape --mix`` and the web app's
mix jobs meet, through :meth:`segue.api.Library.mix`.

Tracks in the library bring their stored descriptors (beats, loudness, intro/outro energy) and
cover; files outside it are analysed on the fly by the renderer, their tags and cover read here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from segue.audio.encode import output_format
from segue.errors import UserError
from segue.files import writable_output
from segue.library.store import Store
from segue.library.tags import find_cover, open_tags, read_tags
from segue.mix.plan import MixOptions
from segue.mix.render import MixResult, MixTrack, render_mix


def mix_options(target_lufs: float = -14.0, true_peak: float = -1.0, fade: float = 8.0,
                beatmatch: bool = True, tempo_tolerance: float = 4.0,
                max_stretch: float | None = None, bass_swap: bool = True) -> MixOptions:  # fmt: skip
    """Checked :class:`MixOptions` (a one-line UserError names the first value out of range).

    ``max_stretch`` (percent of speed change allowed to match tempos) defaults to the tempo
    tolerance; 0 never changes speed.
    """
    if not -70 < target_lufs < 0:
        raise UserError(f"target loudness must be between -70 and 0 LUFS, got {target_lufs}")
    if not -20 <= true_peak <= 0:
        raise UserError(f"the true-peak ceiling must be between -20 and 0 dBTP, got {true_peak}")
    if not 0 <= fade <= 60:
        raise UserError(f"the crossfade must be between 0 and 60 seconds, got {fade}")
    if not 0 <= tempo_tolerance <= 20:
        raise UserError(f"the tempo tolerance must be between 0 and 20 percent, got {tempo_tolerance}")
    stretch = tempo_tolerance if max_stretch is None else max_stretch
    if not 0 <= stretch <= 20:
        raise UserError(f"the speed change must be between 0 and 20 percent, got {stretch}")
    return MixOptions(target_lufs=target_lufs, true_peak_db=true_peak, fade=fade,
                      beatmatch=beatmatch, tempo_tolerance=tempo_tolerance, max_stretch=stretch,
                      bass_swap=bass_swap)  # fmt: skip


def mix_tracks(store: Store, paths: Sequence[str]) -> tuple[list[MixTrack], bytes | None]:
    """MixTracks for ``paths`` (stored descriptors and tags where the library knows the file)
    and the first cover among them."""
    descriptors: dict[str, dict[str, Any]] | None = None
    out: list[MixTrack] = []
    cover: bytes | None = None
    for path in paths:
        row = store.track_by_path(path)
        if row is not None:
            if descriptors is None:
                descriptors = store.descriptors()
            out.append(MixTrack(path, row.title, row.artist, descriptors.get(row.audio_hash)))
            if cover is None and row.cover_hash:
                found = store.cover(row.cover_hash)
                cover = found[1] if found else None
            continue
        title = artist = None
        if os.path.isfile(path):
            audio, _warning = open_tags(Path(path))
            tags = read_tags(Path(path), audio)
            title, artist = tags.title, tags.artist
            if cover is None:
                found_cover = find_cover(Path(path), audio)
                cover = found_cover.data if found_cover else None
        out.append(MixTrack(path, title, artist, None))
    return out, cover


def check_mix_output(output: str | os.PathLike[str]) -> Path:
    """The mix's path, checked before any decoding: a known audio extension, a writable place."""
    target = writable_output(output)
    output_format(target)  # a bad extension fails here, not after the render
    return target


def mix_files(store: Store, paths: Sequence[str], output: str | os.PathLike[str], *,
              title: str | None = None, cover: bytes | None = None, progress: bool = True,
              on_progress: Callable[[float], None] | None = None,
              options: MixOptions | None = None) -> MixResult:  # fmt: skip
    """Render the files at ``paths`` as one mix at ``output``; ``cover`` defaults to the first
    track's."""
    if not paths:
        raise UserError("nothing to mix: the playlist is empty")
    target = check_mix_output(output)
    tracks, first_cover = mix_tracks(store, paths)
    return render_mix(tracks, target, options or MixOptions(), title=title,
                      cover=cover or first_cover, progress=progress, on_progress=on_progress)  # fmt: skip
