"""The scan's worker processes: a worker that dies costs one file, where the models run, what
a rescan with nothing to do starts (nothing), and what Ctrl-C reports (exactly what was saved)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from scan_hooks import KillerHook, ProbeHook, interrupt_at_first_progress, marker_lines
from segue.library.scan import Scanner
from segue.library.store import Store

from audio_factory import write_audio
from conftest import REPO


def short_files(folder: Path, n: int, seconds: float = 1.0) -> list[Path]:
    return [write_audio(folder / f"{i:02d}.flac", seconds=seconds, seed=i) for i in range(n)]


@pytest.mark.timeout(120)  # the old pool never noticed the lost worker: the scan hung
def test_a_file_that_kills_its_worker_is_failed_and_the_scan_goes_on(tmp_path: Path) -> None:
    music = tmp_path / "music"
    short_files(music, 6)
    killer = write_audio(music / "killer.flac", seconds=3.0, seed=9)
    with Store(tmp_path / "lib.db") as store:
        scanner = Scanner(store, workers=2, hook=KillerHook(kill_above=2.0), progress=False)
        report = scanner.scan([music])
        issues = {i.path: i.reason for i in store.issues()}
        assert store.count_tracks() == 6
    assert scanner.worker_restarts == 1
    assert (report.added, report.analysed, report.failed) == (6, 6, 1)
    reason = "the worker process reading it was killed by SIGKILL"
    assert report.errors == [(str(killer), reason)]
    assert issues[str(killer)] == reason  # shown by `segue status` with the other failures


def test_worker_inference_keeps_the_models_out_of_the_scanning_process(tmp_path: Path) -> None:
    short_files(tmp_path / "music", 4)
    marker = tmp_path / "loads"
    with Store(tmp_path / "lib.db") as store:
        Scanner(store, workers=2, hook=ProbeHook(marker=str(marker)), progress=False).scan(
            [tmp_path / "music"])  # fmt: skip
        prepared_in = store.vectors("probe", "prepared_in")
        analysed_in = store.vectors("probe", "analysed_in")
    assert len(analysed_in) == 4
    for h, pid in analysed_in.items():
        assert int(pid[0]) == int(prepared_in[h][0]) != os.getpid()  # one process, the worker's
    loaders = marker_lines(marker)
    assert str(os.getpid()) not in loaders and 1 <= len(loaders) <= 2  # once per worker at most
    assert len(set(loaders)) == len(loaders)


def test_central_inference_runs_the_models_in_the_scanning_process(tmp_path: Path) -> None:
    # what a GPU machine does: the workers prepare, one process embeds every worker's tracks
    short_files(tmp_path / "music", 5)
    marker = tmp_path / "loads"
    hook = ProbeHook(central=True, marker=str(marker))
    with Store(tmp_path / "lib.db") as store:
        report = Scanner(store, workers=2, hook=hook, progress=False).scan([tmp_path / "music"])
        prepared_in = store.vectors("probe", "prepared_in")
        analysed_in = store.vectors("probe", "analysed_in")
    assert report.analysed == 5 and len(analysed_in) == 5
    assert {int(p[0]) for p in analysed_in.values()} == {os.getpid()}
    assert os.getpid() not in {int(p[0]) for p in prepared_in.values()}
    assert marker_lines(marker) == [str(os.getpid())]  # loaded once, here only


def test_a_rescan_with_nothing_to_do_starts_no_worker_and_loads_no_model(tmp_path: Path) -> None:
    music = tmp_path / "music"
    short_files(music, 4)
    marker = tmp_path / "loads"
    db = tmp_path / "lib.db"
    with Store(db) as store:
        Scanner(store, workers=2, hook=ProbeHook(marker=str(marker)), progress=False).scan([music])
        first = marker_lines(marker)
        again = Scanner(store, workers=2, hook=ProbeHook(marker=str(marker)), progress=False)
        report = again.scan([music])
        assert report.unchanged == 4 and report.analysed == 0
        assert marker_lines(marker) == first  # no model loaded anywhere
        # The default listening pipeline on a library it has analysed: mark the tracks done
        # for its model version, as a finished scan would have.
        from segue.listen.pipeline import MODEL, PIPELINE_VERSION

        for t in store.tracks():
            store.record_analysis(t.audio_hash, MODEL, PIPELINE_VERSION, {})
    script = textwrap.dedent(f"""
        import json, sys
        import segue
        with segue.open_library({str(db)!r}) as lib:
            report = lib.scan([{str(music)!r}], progress=False)
        print(json.dumps({{"unchanged": report.unchanged, "torch": "torch" in sys.modules}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(REPO / "src")})  # fmt: skip
    assert done.returncode == 0, done.stderr
    # the library used to load both networks first (6 s) to find there was nothing to do
    assert json.loads(done.stdout) == {"unchanged": 4, "torch": False}


@pytest.mark.timeout(120)
def test_a_hook_defined_in_the_running_script_fails_at_once_in_one_line(tmp_path: Path) -> None:
    short_files(tmp_path / "music", 4)
    script = tmp_path / "my_scan.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO / "tests")!r})
        from scan_hooks import ProbeHook
        from segue.errors import UserError
        from segue.library.scan import Scanner
        from segue.library.store import Store

        class MyHook(ProbeHook):  # lives in __main__: workers cannot import it
            pass

        with Store({str(tmp_path / "lib.db")!r}) as store:
            try:
                Scanner(store, workers=2, hook=MyHook(), progress=False).scan([{str(tmp_path / "music")!r}])
            except UserError as exc:
                print(exc)
                sys.exit(1)
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=100, env={**os.environ, "PYTHONPATH": str(REPO / "src")})  # fmt: skip
    assert done.returncode == 1, done.stderr
    message = done.stdout.strip()
    assert "\n" not in message and message.startswith("scan workers cannot start:")
    assert "define it in an importable module" in message


@pytest.mark.timeout(180)
def test_ctrl_c_reports_exactly_what_was_saved(tmp_path: Path) -> None:
    music = tmp_path / "music"
    short_files(music, 16, seconds=4.0)
    db = tmp_path / "lib.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "segue.cli", "--db", str(db), "scan", str(music), "--json",
         "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )  # fmt: skip
    interrupt_at_first_progress(proc, db, 16)
