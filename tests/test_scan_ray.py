"""`segue scan --ray`: the same scan with its workers as Ray actors, on a real local Ray instance
(one per module: Ray takes seconds to start). The vectors match a local scan's; an actor that
dies costs its file only after a bounded number of tries; Ctrl-C keeps what was saved; a plain
scan never imports Ray, and --ray without it is one line."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ray_hooks import SlowHook, WhereHook
from scan_hooks import KillerHook, interrupt_at_first_progress, marker_lines
from segue import open_library
from segue.library.scan import Scanner
from segue.library.store import Store

from audio_factory import write_audio
from conftest import REPO

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'segue[ray]')")

from ray.cluster_utils import Cluster  # noqa: E402 - after the skip

from segue.library.ray_executor import RayExecutor  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def cluster() -> Iterator[Cluster]:
    """A Ray cluster of two nodes on this machine, one CPU each (Ray's own test cluster)."""
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    nodes.add_node(num_cpus=1)
    ray.init(address=nodes.address, logging_level=logging.ERROR, log_to_driver=False)
    nodes.wait_for_nodes()
    yield nodes
    ray.shutdown()
    nodes.shutdown()


def short_files(folder: Path, n: int, seconds: float = 1.0) -> list[Path]:
    return [write_audio(folder / f"{i:02d}.flac", seconds=seconds, seed=i) for i in range(n)]


def stored(db: Path) -> tuple[dict, dict, dict]:
    """Every vector (by audio hash, model, kind), descriptor and catalogue row of a library."""
    with Store(db) as store:
        kinds = store.conn.execute("SELECT DISTINCT model, kind FROM vectors").fetchall()
        vectors = {(h, m, k): v for m, k in kinds for h, v in store.vectors(m, k).items()}
        descriptors = store.descriptors()
        tracks = {t.path: (t.audio_hash, t.duration, t.title, t.artist, t.codec, t.cover_hash)
                  for t in store.tracks()}  # fmt: skip
    return vectors, descriptors, tracks


def test_a_ray_scan_stores_what_a_local_scan_stores(tmp_path: Path) -> None:
    music = tmp_path / "music"
    for i, name in enumerate(["a.flac", "b.mp3", "c.ogg", "d.m4a"]):
        write_audio(music / name, seconds=5.0, seed=10 + i)
    write_audio(music / "copy of a.flac", seconds=5.0, seed=10)  # a duplicate: analysed once
    reports = {}
    for executor in ("local", "ray"):
        with open_library(tmp_path / f"{executor}.db") as lib:
            reports[executor] = lib.scan([music], workers=2, progress=False, executor=executor)
    local, by_ray = reports["local"], reports["ray"]
    assert (by_ray.added, by_ray.analysed, by_ray.failed, by_ray.duplicates) == (5, 4, 0, 1)
    assert (local.added, local.analysed, local.failed, local.duplicates) == (5, 4, 0, 1)
    local_vectors, local_desc, local_tracks = stored(tmp_path / "local.db")
    ray_vectors, ray_desc, ray_tracks = stored(tmp_path / "ray.db")
    assert ray_tracks == local_tracks
    assert ray_desc == local_desc
    assert ray_vectors.keys() == local_vectors.keys()
    kinds = {k for _, _, k in local_vectors}
    assert {"track", "patches", "intro", "outro", "tags_msd", "tags_mtt", "rp"} <= kinds
    for key, value in local_vectors.items():
        np.testing.assert_allclose(ray_vectors[key].astype(np.float64), value.astype(np.float64),
                                   rtol=1e-5, atol=1e-6, err_msg=str(key))  # fmt: skip


def test_the_work_runs_in_ray_actors_each_loading_its_models_once(tmp_path: Path) -> None:
    short_files(tmp_path / "music", 6)
    marker = tmp_path / "loads"
    with Store(tmp_path / "lib.db") as store:
        scanner = Scanner(store, hook=WhereHook(marker=str(marker)), progress=False,
                          executor=RayExecutor())  # fmt: skip
        report = scanner.scan([tmp_path / "music"])
        in_actor = store.vectors("where", "in_actor")
        analysed_in = store.vectors("where", "analysed_in")
    assert report.analysed == 6 and report.failed == 0
    assert sorted(int(v[0]) for v in in_actor.values()) == [1] * 6
    loaders = marker_lines(marker)
    assert str(os.getpid()) not in loaders and 1 <= len(loaders) <= 2  # once per actor at most
    assert len(set(loaders)) == len(loaders)
    assert {str(int(v[0])) for v in analysed_in.values()} <= set(loaders)


def test_a_file_that_kills_its_actor_is_tried_again_then_failed(tmp_path: Path) -> None:
    music = tmp_path / "music"
    short_files(music, 5)
    killer = write_audio(music / "killer.flac", seconds=3.0, seed=9)
    with Store(tmp_path / "lib.db") as store:
        scanner = Scanner(store, hook=KillerHook(kill_above=2.0), progress=False,
                          executor=RayExecutor(attempts=2))  # fmt: skip
        report = scanner.scan([music])
        issues = {i.path: i.reason for i in store.issues()}
        assert store.count_tracks() == 5  # finished work is kept
        assert len(store.vectors("probe", "analysed_in")) == 5
    assert (report.added, report.analysed, report.failed) == (5, 5, 1)
    assert scanner.worker_restarts == 2  # the killer's two tries, each a new actor
    [(path, reason)] = report.errors
    assert path == str(killer)
    assert reason.startswith("the Ray worker reading it died 2 times (last: ")
    assert issues[str(killer)] == reason  # shown by `segue status` with the other failures


def test_a_node_lost_mid_scan_costs_no_file(cluster: Cluster, tmp_path: Path) -> None:
    music = tmp_path / "music"
    short_files(music, 6)
    started = tmp_path / "started"
    [node] = list(cluster.worker_nodes)

    def remove_the_node_once_it_holds_a_file() -> None:
        while node.node_id not in marker_lines(started):
            time.sleep(0.05)
        cluster.remove_node(node)  # its raylet and its workers: the file in flight is lost

    remover = threading.Thread(target=remove_the_node_once_it_holds_a_file, daemon=True)
    remover.start()
    try:
        with Store(tmp_path / "lib.db") as store:
            scanner = Scanner(store, hook=SlowHook(1.0, str(started)), progress=False,
                              executor=RayExecutor())  # fmt: skip
            report = scanner.scan([music])
            analysed = store.vectors("where", "in_actor")
        remover.join(timeout=30)
        assert not remover.is_alive()
    finally:
        cluster.add_node(num_cpus=1)  # the next test's cluster has two nodes again
        cluster.wait_for_nodes()
    assert (report.added, report.analysed, report.failed) == (6, 6, 0)
    assert len(analysed) == 6
    assert scanner.worker_restarts >= 1  # the lost node's actor was replaced
    assert len(marker_lines(started)) >= 7  # the lost node's file was read again


def cli(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "segue.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO / "src"), **(env or {})},
                            **kw)  # fmt: skip


def test_cli_scan_on_a_cluster_address_prints_a_clean_report(tmp_path: Path) -> None:
    # the address of this module's instance: a second driver joins the running cluster
    short_files(tmp_path / "music", 5)
    address = ray.get_runtime_context().gcs_address
    proc = cli("--db", str(tmp_path / "lib.db"), "scan", str(tmp_path / "music"), "--no-analysis",
               "--json", "--ray", address)  # fmt: skip
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    report = json.loads(out)  # stdout holds the report and nothing else
    assert (report["added"], report["failed"]) == (5, 0)


SCAN_WITH_A_KILLER = """
import json, sys
sys.path.insert(0, sys.argv[3])  # the tests folder, for scan_hooks
from scan_hooks import KillerHook
import segue
with segue.open_library(sys.argv[1]) as lib:
    report = lib.scan([sys.argv[2]], hook=KillerHook(kill_above=2.0), executor="ray",
                      progress=False)
print(json.dumps(report.as_dict()))
"""


@pytest.mark.timeout(180)
def test_auto_starts_a_local_instance_and_keeps_rays_messages_off_stdout(tmp_path: Path) -> None:
    # Ray prints a worker's death on stdout, where `scan --json` prints the report. The process
    # gets a Ray folder of its own, where `auto` finds no running instance (not this module's),
    # so it starts one. (A short path: Ray's sockets live there.)
    music = tmp_path / "music"
    short_files(music, 3)
    write_audio(music / "killer.flac", seconds=3.0, seed=9)
    with tempfile.TemporaryDirectory(prefix="segue-ray-", dir="/tmp") as ray_tmp:
        done = subprocess.run(
            [sys.executable, "-c", SCAN_WITH_A_KILLER, str(tmp_path / "lib.db"), str(music),
             str(REPO / "tests")],
            capture_output=True, text=True, timeout=150,
            env={**os.environ, "PYTHONPATH": str(REPO / "src"), "RAY_TMPDIR": ray_tmp},
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # the report and nothing else
    assert (report["added"], report["analysed"], report["failed"]) == (3, 3, 1)
    assert report["errors"][0]["reason"].startswith("the Ray worker reading it died 3 times")
    assert "A worker died" in done.stderr  # Ray's own words, moved to stderr


@pytest.mark.timeout(180)
def test_ctrl_c_during_a_ray_scan_reports_exactly_what_was_saved(tmp_path: Path) -> None:
    music = tmp_path / "music"
    short_files(music, 16, seconds=4.0)
    db = tmp_path / "lib.db"
    address = ray.get_runtime_context().gcs_address
    proc = cli("--db", str(db), "scan", str(music), "--json", "--ray", address)
    interrupt_at_first_progress(proc, db, 16)


PLAIN_SCAN = """
import sys
from segue.cli import main
code = main(sys.argv[1:])
print("ray imported" if "ray" in sys.modules else "no ray", file=sys.stderr)
sys.exit(code)
"""

NO_RAY = """
import sys
sys.modules["ray"] = None  # as if the extra were not installed: `import ray` fails
from segue.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_plain_scan_never_imports_ray(tmp_path: Path) -> None:
    short_files(tmp_path / "music", 5)
    done = subprocess.run(
        [sys.executable, "-c", PLAIN_SCAN, "--db", str(tmp_path / "lib.db"), "scan",
         str(tmp_path / "music"), "--no-analysis", "--workers", "2"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "5 added" in done.stderr
    assert done.stderr.strip().endswith("no ray")


def test_ray_scan_without_the_extra_is_one_line_saying_how_to_install_it(tmp_path: Path) -> None:
    short_files(tmp_path / "music", 1)
    done = subprocess.run(
        [sys.executable, "-c", NO_RAY, "--db", str(tmp_path / "lib.db"), "scan",
         str(tmp_path / "music"), "--ray"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr == "segue: scanning with Ray needs the ray extra: pip install 'segue[ray]'\n"


def test_ray_before_the_folders_is_told_where_it_goes(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "segue.cli", "--db", str(tmp_path / "lib.db"), "scan", "--ray",
         str(tmp_path)],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )  # fmt: skip
    assert done.returncode == 1  # segue's usage errors
    assert "put --ray after the folders" in done.stderr.splitlines()[-1]
