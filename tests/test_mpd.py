"""``segue mpd`` against a real MPD (Debian's ``mpd``, null audio output, private port, socket
and music folder) driven by a real client (python-mpd2): the queue is filled, a skip is
recorded and steers, an MPD restart is survived, Ctrl-C and SIGTERM stop it cleanly, and the
one-shots queue playlists and journeys (a song segue never scanned analysed on the fly)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

mpd = pytest.importorskip("mpd", reason="python-mpd2 is not installed")

from segue import open_library  # noqa: E402
from web_helpers import analysed_library  # noqa: E402

from audio_factory import write_audio  # noqa: E402
from conftest import REPO  # noqa: E402

MPD = shutil.which("mpd") or ("/usr/sbin/mpd" if os.path.exists("/usr/sbin/mpd") else None)
pytestmark = pytest.mark.skipif(MPD is None, reason="MPD is not installed (Debian's mpd package: "
                                "'make test' installs it with apt-get)")  # fmt: skip

QUEUE = 3
PASSWORD = "s3cret"  # MPD lets nobody add or control without it
FIRST = "lib/Extra/extra 0.mp3"


def copy_db(src: Path, dst: Path) -> Path:
    """A private copy of a library database (this module writes plays)."""
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    return dst


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, check: Callable[[], object], timeout: float = 30.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got = check()
        except (mpd.ConnectionError, OSError):
            got = None
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class MpdServer:
    """A private MPD: music folder (the analysed library through a symlink, plus a song segue
    never scanned), database, TCP port and Unix socket, null output (plays in real time)."""

    def __init__(self, root: Path, library_music: Path) -> None:
        self.root = root
        self.music = root / "music"
        self.music.mkdir()
        (self.music / "lib").symlink_to(library_music, target_is_directory=True)
        write_audio(self.music / "new" / "unknown.mp3", seconds=8.0, seed=99)
        self.port = free_port()
        self.socket = str(root / "mpd.sock")
        self.conf = root / "mpd.conf"
        self.conf.write_text(
            f'music_directory "{self.music}"\ndb_file "{root}/mpd.db"\nlog_file "{root}/mpd.log"\n'
            f'pid_file "{root}/mpd.pid"\nbind_to_address "127.0.0.1"\nport "{self.port}"\n'
            f'bind_to_address "{self.socket}"\nauto_update "no"\n'
            f'password "{PASSWORD}@read,add,control,admin"\ndefault_permissions "read"\n'
            'audio_output {\n  type "null"\n  name "null"\n}\n', encoding="utf-8")  # fmt: skip
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([MPD, "--no-daemon", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        wait_for("MPD to listen", self._ping, 20)

    def _ping(self) -> bool:
        with self.client() as c:
            c.ping()
        return True

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)

    @contextmanager
    def client(self) -> Iterator[mpd.MPDClient]:
        c = mpd.MPDClient()
        c.timeout = 10
        c.connect("127.0.0.1", self.port)
        c.password(PASSWORD)
        try:
            yield c
        finally:
            c.disconnect()

    def update(self) -> None:
        with self.client() as c:
            c.update()
            wait_for("MPD's database update", lambda: "updating_db" not in c.status())


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    music, db = analysed_library(tmp_path_factory.mktemp("web"))
    return music, copy_db(db, tmp_path_factory.mktemp("mpd-db") / "library.db")


@pytest.fixture
def server(tmp_path: Path, library: tuple[Path, Path]) -> Iterator[MpdServer]:
    srv = MpdServer(tmp_path, library[0])
    srv.start()
    srv.update()
    yield srv
    srv.stop()


def segue(db: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "MPD_HOST": f"{PASSWORD}@127.0.0.1"}
    return subprocess.run([sys.executable, "-m", "segue.cli", "--db", str(db), "mpd", *args],
                          capture_output=True, text=True, env=env, timeout=120, **kw)  # fmt: skip


def start_daemon(db: Path, srv: MpdServer, log: Path, *args: str) -> subprocess.Popen:
    """``segue mpd`` as the README runs it, the password in MPD_HOST."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "MPD_HOST": f"{PASSWORD}@127.0.0.1"}
    return subprocess.Popen(
        [sys.executable, "-m", "segue.cli", "--db", str(db), "mpd", "--port", str(srv.port),
         "--music-dir", str(srv.music), "--queue-length", str(QUEUE), *args],
        env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"),
    )  # fmt: skip


def queue(srv: MpdServer) -> list[str]:
    with srv.client() as c:
        return [s["file"] for s in c.playlistinfo()]


def upcoming(srv: MpdServer) -> list[str]:
    """The songs after the current one."""
    with srv.client() as c:
        position = int(c.status()["song"])
        return [s["file"] for s in c.playlistinfo()[position + 1 :]]


def play(srv: MpdServer, uri: str) -> None:
    with srv.client() as c:
        c.clear()
        c.add(uri)
        c.play(0)


def rel(path: str, music: Path) -> str:
    return "lib/" + os.path.relpath(path, music).replace(os.sep, "/")


def test_radio_fills_the_queue_and_a_skip_is_recorded_and_steers(
    server: MpdServer, library: tuple[Path, Path], tmp_path: Path
) -> None:
    music, db = library
    log = tmp_path / "daemon.log"
    daemon = start_daemon(db, server, log)
    try:
        wait_for("the daemon to connect", lambda: "connected" in log.read_text())
        play(server, FIRST)
        wait_for("the queue to fill", lambda: len(queue(server)) == 1 + QUEUE)
        filled = queue(server)
        assert filled[0] == FIRST and len(set(filled)) == 1 + QUEUE
        assert all(uri.startswith("lib/") for uri in filled)  # library tracks, by MPD's URIs
        with server.client() as c:  # the listener presses next 1 s in, then pauses
            time.sleep(1.0)
            c.next()
            c.pause(1)
        with open_library(db) as lib:
            first_id = lib.track_id_at(music / "Extra/extra 0.mp3")
            current = filled[1]
            now_id = lib.track_id_at(server.music / current)
            events = [(first_id, "start"), (first_id, "skip"), (now_id, "start")]
            wait_for("the skip and the next start in plays", lambda: [
                (p.track_id, p.event) for p in lib.plays(limit=3)][::-1] == events)  # fmt: skip
            skip = lib.plays(limit=2)[1]
            assert 0.9 <= skip.position_s < 6  # how far in the listener pressed next
            # what was queued before the skip is re-picked: the radio from the current song,
            # having heard both, steering away from the skipped one
            rows = lib.radio_next([lib.row(now_id)], lib.known_rows([first_id, now_id]), QUEUE,
                                  skipped=lib.known_rows([first_id]))  # fmt: skip
            expected = [rel(t["path"], music) for t in lib.rows_json(rows)]
        assert FIRST not in expected
        try:
            wait_for("the re-picked queue", lambda: upcoming(server) == expected, 20)
        except AssertionError:
            raise AssertionError(f"queue {queue(server)}, expected {current} then {expected}") from None
    finally:
        daemon.send_signal(signal.SIGINT)
        rc = daemon.wait(timeout=20)
    assert rc == 0 and "stopped" in log.read_text()


def test_survives_an_mpd_restart_and_stops_on_sigterm(
    server: MpdServer, library: tuple[Path, Path], tmp_path: Path
) -> None:
    log = tmp_path / "daemon.log"
    daemon = start_daemon(library[1], server, log)
    try:
        wait_for("the daemon to connect", lambda: "connected" in log.read_text())
        server.stop()
        wait_for("the daemon to notice", lambda: "lost MPD" in log.read_text(), 20)
        time.sleep(1.0)  # it retries with backoff meanwhile
        server.start()
        wait_for("the daemon to reconnect", lambda: "connected to MPD" in log.read_text().split("lost MPD")[-1], 40)
        play(server, "lib/Other/aiff file.aiff")
        wait_for("the queue to fill after the restart", lambda: len(queue(server)) == 1 + QUEUE)
    finally:
        daemon.send_signal(signal.SIGTERM)
        rc = daemon.wait(timeout=20)
    assert rc == 0 and "stopped" in log.read_text()


def test_one_shots_queue_a_playlist_and_a_journey_over_the_socket(
    server: MpdServer, library: tuple[Path, Path]
) -> None:
    music, db = library
    play(server, FIRST)
    # over MPD's local socket, the music folder is asked with `config` (no --music-dir)
    sock = f"{PASSWORD}@{server.socket}"  # [password@]host, as MPD_HOST is written
    dry = segue(db, "playlist", "--host", sock, "-n", "3", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    planned = json.loads(dry.stdout)
    assert planned["queued"] is False and len(planned["tracks"]) == 3
    assert queue(server) == [FIRST]  # a dry run queues nothing
    # the filters of segue playlist hold (here: only tracks under one folder)
    only = segue(db, "playlist", "--host", server.socket, "--password", PASSWORD, "-n", "4", "--dry-run", "--json",
                 "--folder", str(music / "Ärtist One"))  # fmt: skip
    assert only.returncode == 0, only.stderr
    assert {os.path.dirname(t["path"]) for t in json.loads(only.stdout)["tracks"]} == {
        str(music / "Ärtist One" / "Album A")}  # fmt: skip
    done = segue(db, "playlist", "--host", sock, "-n", "2")
    assert done.returncode == 0, done.stderr
    assert "queued 2 tracks" in done.stderr and len(queue(server)) == 3
    journey = segue(db, "journey", "Extra Band 2 - Extra Song 5", "--steps", "2",
                    "--host", sock)  # fmt: skip
    assert journey.returncode == 0, journey.stderr
    got = queue(server)
    assert len(got) == 6 and got[0] == FIRST and got[3] == "lib/Extra/extra 5.mp3"  # right after the current song
    # a song segue never scanned: analysed on the fly to seed the picks
    play(server, "new/unknown.mp3")
    outside = segue(db, "playlist", "--port", str(server.port), "--music-dir", str(server.music),
                    "-n", "2", "--dry-run")  # fmt: skip
    assert outside.returncode == 0, outside.stderr
    assert "analysed on the fly" in outside.stderr and len(outside.stdout.strip().splitlines()) == 2
    # a wrong password, or no MPD there: one line, exit 1
    wrong = segue(db, "playlist", "--port", str(server.port), "--password", "nope", "--music-dir", str(server.music))
    assert wrong.returncode == 1 and "refused the password" in wrong.stderr
    gone = segue(db, "playlist", "--port", str(free_port()), "--music-dir", str(server.music))
    assert gone.returncode == 1 and gone.stderr.startswith("segue: cannot reach MPD")
