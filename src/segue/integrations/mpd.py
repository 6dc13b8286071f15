"""MPD radio: segue keeps an MPD queue going, and one-shot playlists and journeys into it.

``segue mpd`` is a long-running client (python-mpd2) that waits on MPD's ``idle`` (no polling):
whenever fewer than ``queue_length`` songs follow the current one, it appends the next picks
of segue's radio from the current song (keep-on ``lookback``, drunk ``noise``, the filters and
artist gap of ``segue playlist``; nothing already played or queued comes again). It learns
from what happens: a song left for another before 90 % of it played is a ``skip`` (recorded in
the library's ``plays`` with how far in, like the web player's), a song heard to the end a
``complete``; after a skip the songs segue queued are re-picked to steer away from it. It
survives MPD restarting (reconnects with backoff), speaks to a password-protected MPD
(``MPD_HOST=password@host``) and over Unix sockets, and stops cleanly on Ctrl-C or SIGTERM.

MPD names songs by URIs relative to its ``music_directory``: given (``--music-dir``), else
asked with ``config`` (MPD answers that over a local socket only), else read from MPD's config
file. A song segue has not scanned is analysed on the fly when it is the seed (nothing stored),
or skipped with a note when its file cannot be read here.

``segue mpd playlist`` and ``segue mpd journey TO`` are one-shots in blissify's spirit: the
picks from the current song (or a journey from it to TO) go into the queue, or are only printed
with ``dry_run``.

A face: it uses only :mod:`segue.api`.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segue.api import Library, NotReady, Rules, TrackNotFound, UnsupportedAudio, UserError

#: A song left for another before this share of its length was skipped.
SKIP_SHARE = 0.9
#: Reconnect backoff (seconds): first wait, and the longest.
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 30.0
DEFAULT_PORT = 6600
CONFIG_FILES = ("$XDG_CONFIG_HOME/mpd/mpd.conf", "~/.config/mpd/mpd.conf", "~/.mpdconf",
                "~/.mpd/mpd.conf", "/etc/mpd.conf")  # fmt: skip


def _mpd() -> Any:
    try:
        import mpd
    except ImportError:  # pragma: no cover - a dependency
        raise UserError("segue mpd needs python-mpd2: pip install python-mpd2") from None
    return mpd


def say(text: str) -> None:
    print(f"segue mpd: {text}", file=sys.stderr, flush=True)


@dataclass
class Target:
    """Where MPD listens: a host and port, or a Unix socket path (``host`` starting with / or
    @), and its password."""

    host: str = "localhost"
    port: int = DEFAULT_PORT
    password: str | None = None

    @property
    def local_socket(self) -> bool:
        return self.host.startswith(("/", "@"))

    def __str__(self) -> str:
        return self.host if self.local_socket else f"{self.host}:{self.port}"


def target(host: str | None = None, port: int | None = None, password: str | None = None,
           env: dict[str, str] | None = None) -> Target:  # fmt: skip
    """Options first, then ``MPD_HOST`` (``[password@]host`` or a socket path) and
    ``MPD_PORT``, as MPD's own clients read them."""
    env = dict(os.environ) if env is None else env
    text = host or env.get("MPD_HOST") or "localhost"
    if "@" in text[1:] and not text.startswith("@"):
        secret, text = text.split("@", 1)
        password = password or secret
    if port is None:
        raw = env.get("MPD_PORT", str(DEFAULT_PORT))
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise UserError(f"MPD_PORT must be a port number, got {raw!r}")
        port = int(raw)
    if not 0 < port < 65536:
        raise UserError(f"the MPD port must be between 1 and 65535, got {port}")
    return Target(text, port, password)


def connect(where: Target, timeout: float = 10.0) -> Any:
    """A connected (and authenticated) MPDClient; ConnectionError/OSError if MPD is not there,
    UserError for a wrong password."""
    mpd = _mpd()
    client = mpd.MPDClient()
    client.timeout = timeout
    client.idletimeout = None  # idle waits as long as nothing happens
    if where.local_socket:
        client.connect(where.host)
    else:
        client.connect(where.host, where.port)
    if where.password:
        try:
            client.password(where.password)
        except mpd.CommandError as exc:
            client.disconnect()
            raise UserError(f"MPD at {where} refused the password: {exc}") from None
    return client


def connect_once(where: Target) -> Any:
    """:func:`connect` for one-shot commands: a one-line UserError when MPD is not there."""
    try:
        return connect(where)
    except (ConnectionError, OSError) as exc:
        raise UserError(f"cannot reach MPD at {where}: {exc}") from None


def read_music_dir(config_text: str) -> str | None:
    """``music_directory`` from the text of an mpd.conf."""
    match = re.search(r'^\s*music_directory\s+"((?:[^"\\]|\\.)*)"', config_text, re.MULTILINE)
    return os.path.expanduser(match.group(1).replace('\\"', '"')) if match else None


def music_directory(client: Any, given: str | None) -> str:
    """MPD's music folder: ``given``, else MPD's answer to ``config`` (local sockets only), else
    its config file. UserError when none tells."""
    if given:
        path = os.path.abspath(os.path.expanduser(given))
        if not os.path.isdir(path):
            raise UserError(f"the music folder {given} is not a folder")
        return path
    try:
        found = client.config()
        if isinstance(found, dict):
            found = found.get("music_directory")
        if found:
            return str(found)
    except Exception:  # noqa: BLE001 - MPD refuses `config` over TCP: try the files
        pass
    for candidate in CONFIG_FILES:
        path = Path(os.path.expandvars(os.path.expanduser(candidate)))
        try:
            found = read_music_dir(path.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
        if found:
            return found
    raise UserError("cannot tell MPD's music folder: give it with --music-dir "
                    "(or connect over MPD's local socket)")  # fmt: skip


class Mapper:
    """MPD URIs <-> library tracks.

    A library folder may reach MPD through a symlink in its music folder (``music/lib`` ->
    ``~/Music``): each URI seen teaches where such a link points, so the radio's picks from
    there are queued by MPD's name for them.
    """

    def __init__(self, lib: Library, music_dir: str, local_socket: bool) -> None:
        self.lib = lib
        self.music_dir = os.path.abspath(music_dir)
        self.real_dir = os.path.realpath(self.music_dir)
        self.local_socket = local_socket
        self.links: dict[str, str] = {}  # real folder -> the URI prefix MPD reaches it by

    def learn(self, uri: str, path: str) -> None:
        """Remember the link a URI went through (``lib/A/x.mp3`` is ``/music/A/x.mp3``)."""
        real = os.path.realpath(path)
        if real == path or real.startswith(self.real_dir + os.sep):
            return
        uri_parts, real_parts = uri.split("/"), Path(real).parts
        same = 0
        while same < min(len(uri_parts), len(real_parts) - 1) and uri_parts[-1 - same] == real_parts[-1 - same]:
            same += 1
        if 0 < same < len(uri_parts):
            self.links[os.path.join(*real_parts[:-same])] = "/".join(uri_parts[:-same])

    def path(self, uri: str) -> str | None:
        """The local file of an MPD URI (None for streams)."""
        if uri.startswith("file://"):
            return uri[len("file://") :]
        if "://" in uri:
            return None
        return os.path.join(self.music_dir, uri)

    def track_id(self, uri: str) -> int | None:
        path = self.path(uri)
        if path is None:
            return None
        found = self.lib.track_id_at(path)
        if found is not None:
            self.learn(uri, path)
        return found

    def uri(self, path: str) -> str | None:
        """The URI MPD knows a library file by (relative to its music folder, through symlinks
        too), or a file:// URI over a local socket; None when MPD cannot play it."""
        roots = [(self.music_dir, ""), (self.real_dir, "")]
        roots += sorted(self.links.items(), key=lambda kv: -len(kv[0]))
        for candidate in dict.fromkeys((path, os.path.realpath(path))):
            for root, prefix in roots:
                rel = os.path.relpath(candidate, root)
                if not rel.startswith(os.pardir + os.sep) and rel != os.pardir:
                    rel = rel.replace(os.sep, "/")
                    return f"{prefix}/{rel}" if prefix else rel
        return f"file://{path}" if self.local_socket else None


@dataclass
class Song:
    """The song MPD is playing, as last seen."""

    songid: str
    uri: str
    track_id: int | None
    duration: float
    elapsed: float
    seen_at: float
    playing: bool

    def heard(self, now: float) -> float:
        """Seconds heard by ``now`` (the clock runs only while playing)."""
        return self.elapsed + (now - self.seen_at if self.playing else 0.0)


def _float(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


@dataclass
class Radio:
    """What the radio decides, independent of the connection: seeds, history, skips, picks."""

    lib: Library
    mapper: Mapper
    queue_length: int = 5
    lookback: int = 3
    noise: float = 0.0
    rules: Rules | None = None
    #: Library track ids heard this session, oldest first.
    history: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)

    def seed_row(self, song_uri: str, track_id: int | None) -> int | None:
        """The catalogue row to steer from: the song's own, else (a song segue has not
        scanned) the nearest library track to it, analysed on the fly; None when neither."""
        if track_id is not None:
            try:
                return self.lib.row(track_id)
            except TrackNotFound:
                say(f"not analysed yet, no seed: {song_uri}")
                return None
        path = self.mapper.path(song_uri)
        if path is None or not os.path.isfile(path):
            say(f"not in the library and not readable here, skipped as a seed: {song_uri}")
            return None
        try:
            vector = self.lib.outside_vector(path)
        except (UnsupportedAudio, UserError) as exc:
            say(f"cannot analyse {song_uri}, skipped as a seed: {exc}")
            return None
        say(f"not in the library, analysed on the fly: {song_uri}")
        rows, _ = self.lib.similar_rows(None, 1, vector)
        return rows[0] if rows else None

    def picks(self, seed: int, queued: Sequence[int], k: int) -> list[dict[str, Any]]:
        """The next ``k`` tracks (rows_json) after ``queued`` library track ids."""
        known = self.lib.known_rows([*self.history, *queued])
        skipped = self.lib.known_rows(self.skipped)
        rows = self.lib.radio_next([seed], known, k, skipped=skipped, lookback=self.lookback,
                                   noise=self.noise, rules=self.rules)  # fmt: skip
        return self.lib.rows_json(rows)


class RadioDaemon:
    """``segue mpd``: keeps the queue topped up from the current song, learning from skips."""

    def __init__(self, lib: Library, where: Target, music_dir: str | None, *, queue_length: int = 5,
                 lookback: int = 3, noise: float = 0.0, rules: Rules | None = None) -> None:  # fmt: skip
        if queue_length < 1:
            raise UserError(f"the queue length must be at least 1, got {queue_length}")
        if not 0.0 <= noise <= 1.0:
            raise UserError(f"noise ('drunk') must be between 0 and 1, got {noise}")
        if lookback < 0:
            raise UserError(f"lookback ('keep on') must be 0 or more, got {lookback}")
        self.lib = lib
        self.where = where
        self.given_music_dir = music_dir
        self.settings = {"queue_length": queue_length, "lookback": lookback, "noise": noise,
                         "rules": rules}  # fmt: skip
        self.radio: Radio | None = None
        self.current: Song | None = None
        self.added: set[str] = set()  # MPD song ids segue queued and that have not played yet

    # -- the loop -------------------------------------------------------------------------------
    def run(self) -> int:
        """Serve until Ctrl-C or SIGTERM (exit 0); reconnect with backoff when MPD goes away."""
        self.lib.catalog()  # NotReady now, not at the first song
        with _terminate_as_interrupt():
            delay = BACKOFF_FIRST
            try:
                while True:
                    try:
                        client = connect(self.where)
                    except (ConnectionError, OSError) as exc:
                        say(f"cannot reach MPD at {self.where} ({exc}); retrying in {delay:g} s")
                        time.sleep(delay)
                        delay = min(BACKOFF_MAX, delay * 2)
                        continue
                    delay = BACKOFF_FIRST
                    try:
                        self.serve(client)
                    except (ConnectionError, OSError, _mpd().ConnectionError) as exc:
                        say(f"lost MPD at {self.where} ({exc or 'connection closed'}); reconnecting")
                        self.current = None
                    finally:
                        _close(client)
            except KeyboardInterrupt:
                say("stopped")
                return 0

    def serve(self, client: Any) -> None:
        """One connection's life: catch up with the player, then wait on idle events."""
        if self.radio is None:
            music_dir = music_directory(client, self.given_music_dir)
            mapper = Mapper(self.lib, music_dir, self.where.local_socket)
            self.radio = Radio(self.lib, mapper, **self.settings)
            say(f"connected to MPD at {self.where}; music folder {music_dir}; keeping "
                f"{self.settings['queue_length']} songs queued after the current one")  # fmt: skip
        else:
            say(f"connected to MPD at {self.where} again")
        self.on_player(client)
        self.top_up(client)
        while True:
            changed = client.idle("player", "playlist")
            if "player" in changed:
                self.on_player(client)
            self.top_up(client)

    # -- what happened ------------------------------------------------------------------------
    def on_player(self, client: Any) -> None:
        """The player changed: a new song (the last one skipped or heard out), pause, stop."""
        assert self.radio is not None
        status = client.status()
        now = time.monotonic()
        songid = status.get("songid")
        previous = self.current
        if previous is not None and previous.songid == songid:
            previous.elapsed = _float(status.get("elapsed"), previous.elapsed)
            previous.seen_at, previous.playing = now, status.get("state") == "play"
            return
        if previous is not None:
            self.finished(client, previous, now)
        if songid is None:
            self.current = None
            return
        song = client.currentsong()
        uri = song.get("file", "")
        track_id = self.radio.mapper.track_id(uri)
        duration = _float(status.get("duration") or song.get("duration") or song.get("time"))
        self.current = Song(songid, uri, track_id, duration, _float(status.get("elapsed")), now,
                            status.get("state") == "play")  # fmt: skip
        self.added.discard(songid)
        if track_id is not None:
            self.radio.history.append(track_id)
            self.lib.record_play(track_id, "start", 0.0, duration or None)

    def finished(self, client: Any, song: Song, now: float) -> None:
        """``song`` stopped being current: record a skip or a complete listen; after a skip,
        drop what segue queued (picked before the skip) so the refill steers away."""
        assert self.radio is not None
        if song.track_id is None or song.duration <= 0:
            return
        heard = min(song.heard(now), song.duration)
        if heard >= SKIP_SHARE * song.duration:
            self.lib.record_play(song.track_id, "complete", round(heard, 3), song.duration)
            return
        self.lib.record_play(song.track_id, "skip", round(heard, 3), song.duration)
        self.radio.skipped.append(song.track_id)
        say(f"skipped {heard:.1f} s in: {song.uri}; steering away")
        current = client.status().get("songid")
        for songid in list(self.added):
            if songid != current:
                with suppress(_mpd().CommandError):  # the listener removed it already
                    client.deleteid(songid)
        self.added.clear()

    def top_up(self, client: Any) -> None:
        """Append radio picks until ``queue_length`` songs follow the current one."""
        assert self.radio is not None
        if self.current is None:
            return
        status = client.status()
        position = int(status.get("song", -1))
        upcoming = client.playlistinfo()[position + 1 :] if position >= 0 else []
        self.added &= {s.get("id") for s in upcoming}
        missing = self.radio.queue_length - len(upcoming)
        if missing <= 0:
            return
        seed = self.radio.seed_row(self.current.uri, self.current.track_id)
        if seed is None:
            return
        queued = [t for t in (self.radio.mapper.track_id(s.get("file", "")) for s in upcoming) if t]
        for track in self.radio.picks(seed, queued, missing):
            uri = self.radio.mapper.uri(track["path"])
            if uri is None:
                say(f"outside MPD's music folder, not queued: {track['path']}")
                continue
            try:
                self.added.add(str(client.addid(uri)))
            except _mpd().CommandError as exc:
                say(f"MPD would not queue {uri}: {exc}")


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM handled as Ctrl-C: the blocking idle is left at once and the loop ends cleanly."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave SIGTERM alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _close(client: Any) -> None:
    with suppress(Exception):  # the connection may be gone already
        client.disconnect()


# -- one-shots -------------------------------------------------------------------------------------


@dataclass
class Queued:
    """What a one-shot did: the tracks (rows_json, in order), whether they went into the queue."""

    tracks: list[dict[str, Any]]
    queued: bool
    seed: str


def _current(client: Any, radio: Radio) -> tuple[int, int]:
    """(catalogue row to start from, queue position of the current song)."""
    song = client.currentsong()
    if not song:
        raise UserError("MPD is playing nothing: start a song first")
    seed = radio.seed_row(song.get("file", ""), radio.mapper.track_id(song.get("file", "")))
    if seed is None:
        raise UserError(f"cannot start from the current song: {song.get('file')}")
    return seed, int(song.get("pos", -1))


def _one_shot(lib: Library, where: Target, music_dir: str | None,
              plan: Callable[[Any, Radio, int, int], tuple[list[dict], int | None]],
              dry_run: bool) -> Queued:  # fmt: skip
    client = connect_once(where)
    try:
        radio = Radio(lib, Mapper(lib, music_directory(client, music_dir), where.local_socket))
        try:
            seed, position = _current(client, radio)
            tracks, insert_at = plan(client, radio, seed, position)
        except NotReady as exc:
            raise UserError(str(exc)) from None
        if not dry_run:
            for n, track in enumerate(tracks):
                uri = radio.mapper.uri(track["path"])
                if uri is None:
                    say(f"outside MPD's music folder, not queued: {track['path']}")
                    continue
                client.addid(uri, *([] if insert_at is None else [insert_at + n]))
        return Queued(tracks, not dry_run, lib.label(seed))
    finally:
        _close(client)


def queue_playlist(lib: Library, where: Target, music_dir: str | None = None, *, n: int = 10,
                   lookback: int = 3, noise: float = 0.0, rules: Rules | None = None,
                   dry_run: bool = False) -> Queued:  # fmt: skip
    """``segue mpd playlist``: ``n`` radio picks from the current song appended to the queue
    (none of the queued songs again)."""
    if n < 1:
        raise UserError(f"the number of tracks must be at least 1, got {n}")

    def plan(client: Any, radio: Radio, seed: int, position: int) -> tuple[list[dict], int | None]:
        radio.lookback, radio.noise, radio.rules = lookback, noise, rules
        queued = [t for t in (radio.mapper.track_id(s.get("file", "")) for s in client.playlistinfo()) if t]
        return radio.picks(seed, queued, n), None

    return _one_shot(lib, where, music_dir, plan, dry_run)


def queue_journey(lib: Library, where: Target, to: str, music_dir: str | None = None, *,
                  steps: int = 5, rules: Rules | None = None, dry_run: bool = False) -> Queued:  # fmt: skip
    """``segue mpd journey TO``: from the current song to ``TO`` (seed text: an id, a path,
    "artist - title"), ``steps`` tracks between, queued right after the current song."""
    if steps < 0:
        raise UserError(f"steps must be 0 or more, got {steps}")

    def plan(client: Any, radio: Radio, seed: int, position: int) -> tuple[list[dict], int | None]:
        destination = lib.seed_rows([to])[0]
        journey = lib.journey_from_rows([seed, destination], steps, rules)
        return lib.rows_json(journey.rows[1:]), position + 1

    return _one_shot(lib, where, music_dir, plan, dry_run)
