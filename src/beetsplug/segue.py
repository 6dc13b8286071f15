"""segue for beets: listen to the music beets manages, then radio and journeys from a query.

Enable it with ``plugins: segue`` in beets' config (segue ships this module in beets' plugin
namespace). Commands:

- ``beet segue-scan [QUERY] [--write-back]``: analyse the matched items into the segue library
  (keyed by path; beets' files and database untouched). With ``--write-back`` (or
  ``segue: {write_back: yes}``), what segue heard is stored as flexible attributes of the items
  in beets' database (never in the files): ``segue_bpm``, ``segue_key`` (e.g. ``A minor``),
  ``segue_camelot`` (``8A``), ``segue_loudness`` (LUFS) and ``segue_tags`` (MusiCNN's
  strongest tags), so ``beet ls segue_bpm:120..130`` works.
- ``beet segue-radio QUERY [-n N] [-o FILE]``: a keep-on radio from the matched items.
- ``beet segue-journey QUERY_A QUERY_B [--steps N] [-o FILE]``: from the first item matched
  by one query to the first matched by the other.

Config (``segue:`` in beets' config.yaml): ``db`` (the segue library; default ``$SEGUE_DB`` or
segue's own), ``write_back`` (no).

A face: it uses only :mod:`segue.api` (and beets).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

from beets import ui
from beets.dbcore import types
from beets.dbcore.query import PathQuery
from beets.plugins import BeetsPlugin

from segue.api import Library, NotReady, TrackNotFound, UserError

#: Flexible attributes written back, with their beets types (so range queries work).
ATTRIBUTES: dict[str, Any] = {
    "segue_bpm": types.Float(1),
    "segue_key": types.STRING,
    "segue_camelot": types.STRING,
    "segue_loudness": types.Float(1),
    "segue_tags": types.STRING,
}


def _path(item: Any) -> str:
    return os.fsdecode(item.path)


class SeguePlugin(BeetsPlugin):
    """``segue-scan``, ``segue-radio`` and ``segue-journey``."""

    item_types: ClassVar[dict[str, Any]] = ATTRIBUTES

    def __init__(self) -> None:
        super().__init__()
        self.config.add({"db": None, "write_back": False})

    # -- plumbing -----------------------------------------------------------------------------
    @contextmanager
    def _library(self) -> Iterator[Library]:
        """The segue library, with segue's one-line errors as beets' user errors."""
        db = self.config["db"].get()
        try:
            with Library.open(os.path.expanduser(str(db)) if db else None) as lib:
                yield lib
        except (UserError, NotReady, TrackNotFound) as exc:
            raise ui.UserError(f"segue: {exc}") from None

    def commands(self) -> list[ui.Subcommand]:
        scan = ui.Subcommand("segue-scan", help="analyse the matched items into the segue library")
        scan.parser.add_option("-w", "--write-back", action="store_true", default=None,
                               help="store segue_bpm, segue_key, ... as flexible attributes")  # fmt: skip
        scan.parser.add_option("--workers", type="int", help="analysis processes (default: one per core)")
        scan.func = self.scan
        radio = ui.Subcommand("segue-radio", help="a segue radio from the matched items")
        radio.parser.add_option("-n", "--number", type="int", default=20, help="how many tracks (default 20)")
        radio.parser.add_option("--lookback", type="int", default=3, help="'keep on': recent tracks that steer")
        radio.parser.add_option("--noise", type="float", default=0.0, help="'drunk': 0 exact .. 1 nearly random")
        radio.parser.add_option("-o", "--output", help="write .m3u/.m3u8/.xspf/.pls (from the extension)")
        radio.func = self.radio
        journey = ui.Subcommand("segue-journey", help="a segue journey from one query's item to another's")
        journey.parser.usage += " QUERY_A QUERY_B  (quote each query)"
        journey.parser.add_option("--steps", type="int", default=5, help="tracks between (default 5)")
        journey.parser.add_option("-o", "--output", help="write .m3u/.m3u8/.xspf/.pls (from the extension)")
        journey.func = self.journey
        return [scan, radio, journey]

    def _items(self, beets_lib: Any, query: Sequence[str] | str) -> list[Any]:
        items = list(beets_lib.items(query))
        if not items:
            raise ui.UserError(f"no beets item matches {query if isinstance(query, str) else ' '.join(query)!r}")
        return items

    def _rows(self, lib: Library, items: Sequence[Any]) -> list[int]:
        """Catalogue rows of the items segue has analysed; the others are said."""
        rows, missing = [], []
        for item in items:
            track_id = lib.track_id_at(_path(item))
            try:
                rows.append(lib.row(track_id) if track_id is not None else None)
            except TrackNotFound:
                rows.append(None)
            if rows[-1] is None:
                missing.append(item)
        for item in missing:
            self._log.warning("not analysed by segue yet (run beet segue-scan): {}", item)
        return [r for r in rows if r is not None]

    def _print(self, beets_lib: Any, lib: Library, rows: Sequence[int], output: str | None) -> None:
        for track in lib.rows_json(rows):
            found = list(beets_lib.items(PathQuery("path", os.fsencode(track["path"]))))
            if found:
                ui.print_(format(found[0]))
            else:  # in segue's library, not in beets'
                ui.print_(f"{track['artist'] or '?'} - {track['album'] or '?'} - {track['title'] or '?'}")
        if output:
            written = lib.write_playlist(rows, output)
            ui.print_(f"wrote {written} ({len(rows)} tracks)")

    # -- the commands -------------------------------------------------------------------------
    def scan(self, beets_lib: Any, opts: Any, args: list[str]) -> None:
        items = self._items(beets_lib, args)
        write_back = opts.write_back if opts.write_back is not None else self.config["write_back"].get(bool)
        with self._library() as lib:
            report = lib.scan([], files=[_path(i) for i in items], workers=opts.workers)
            ui.print_(f"segue: {len(items)} items: {report.added} added, {report.updated} updated, "
                      f"{report.unchanged} unchanged, {report.analysed} analysed, {report.failed} failed")  # fmt: skip
            for path, reason in report.errors:
                self._log.warning("segue could not read {}: {}", path, reason)
            if write_back:
                written = sum(self._write_back(lib, item) for item in items)
                ui.print_(f"segue: wrote segue_* attributes of {written} items")

    def _write_back(self, lib: Library, item: Any) -> bool:
        track_id = lib.track_id_at(_path(item))
        if track_id is None:
            return False
        facts = lib.track_facts(track_id)
        if not facts["analysed"]:
            return False
        values = {
            "segue_bpm": facts["bpm"],
            "segue_key": facts["key"],
            "segue_camelot": facts["camelot"],
            "segue_loudness": facts["loudness_lufs"],
            "segue_tags": ", ".join(facts["tags"]) or None,
        }
        for name, value in values.items():
            if value is None:
                if name in item:
                    del item[name]
            else:
                item[name] = round(value, 1) if isinstance(value, float) else value
        item.store()  # beets' database only: the file is not written
        return True

    def radio(self, beets_lib: Any, opts: Any, args: list[str]) -> None:
        items = self._items(beets_lib, args)
        if opts.number < 1:
            raise ui.UserError("-n must be at least 1")
        with self._library() as lib:
            seeds = self._rows(lib, items)[:20]
            if not seeds:
                raise ui.UserError("segue has analysed none of the matched items: run beet segue-scan")
            if opts.output:
                lib.check_output(opts.output)
            made = lib.playlist_from_rows(seeds, opts.number, lookback=opts.lookback, noise=opts.noise)
            if made.note:
                self._log.warning("{}", made.note)
            self._print(beets_lib, lib, made.rows, opts.output)

    def journey(self, beets_lib: Any, opts: Any, args: list[str]) -> None:
        if len(args) != 2:
            raise ui.UserError("segue-journey needs two queries, each quoted: "
                               "beet segue-journey 'artist:A title:x' 'artist:B'")  # fmt: skip
        if opts.steps < 0:
            raise ui.UserError("--steps must be 0 or more")
        with self._library() as lib:
            waypoints = []
            for query in args:
                items = self._items(beets_lib, shlex.split(query))
                rows = self._rows(lib, items[:1])
                if not rows:
                    raise ui.UserError(f"segue has not analysed {items[0]}: run beet segue-scan")
                waypoints.append(rows[0])
            if opts.output:
                lib.check_output(opts.output)
            made = lib.journey_from_rows(waypoints, opts.steps)
            self._print(beets_lib, lib, made.rows, opts.output)
