"""Turning what a person types into a track: id, path, or fuzzy "artist - title".

Resolution order for :func:`resolve_seed`:

1. all digits and a known track id -> that track;
2. a path (``~`` expanded, made absolute, normalised) equal to a track's path -> that track;
3. fuzzy text (:func:`segue.playlist.search.fuzzy_matches`): the best match if its score is at
   least :data:`~segue.playlist.search.MIN_SCORE`.

Unknown text raises ``UserError("no track matches 'x'; closest: A - T (id 3), ...")``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from segue.errors import UserError
from segue.playlist.catalog import Catalog
from segue.playlist.search import MIN_SCORE, fuzzy_matches


def _norm_path(p: str) -> str:
    return os.path.normcase(os.path.normpath(os.path.abspath(os.path.expanduser(p))))


def _path_lookup(catalog: Catalog) -> dict[str, int]:
    def build() -> dict[str, int]:
        table: dict[str, int] = {}
        for i, p in enumerate(catalog.path):
            if p:
                table.setdefault(_norm_path(p), i)
        return table

    return catalog.cached("seed_paths", build)


def resolve_seed(catalog: Catalog, text: str) -> int:
    """Row index of the track ``text`` names; see the module docstring."""
    if text is None or not str(text).strip():
        raise UserError("empty seed: give a track id, a path or 'artist - title'")
    text = str(text).strip()
    if text.isdigit():
        try:
            return catalog.index_of(int(text))
        except KeyError:
            pass
    looks_like_path = os.sep in text or text.startswith("~") or (os.altsep and os.altsep in text)
    if looks_like_path or os.path.exists(text):
        hit = _path_lookup(catalog).get(_norm_path(text))
        if hit is not None:
            return hit
    matches = fuzzy_matches(catalog, text, limit=3)
    if matches and matches[0][1] >= MIN_SCORE:
        return matches[0][0]
    if looks_like_path and os.path.exists(os.path.expanduser(text)):
        raise UserError(f"{text} is not in the library; scan its folder first")
    closest = ", ".join(f"{catalog.label(i)} (id {int(catalog.ids[i])})" for i, _ in matches)
    msg = f"no track matches {text!r}"
    if closest:
        msg += f"; closest: {closest}"
    raise UserError(msg)


def resolve_seeds(catalog: Catalog, texts: Sequence[str]) -> list[int]:
    """:func:`resolve_seed` for each text, in order."""
    return [resolve_seed(catalog, t) for t in texts]
