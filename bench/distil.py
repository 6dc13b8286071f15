"""The cheaper listener of issue 16, measured: MusiCNN distilled into a small student network
trained on the library's own patches, judged by the evaluation table against its teacher.

    segue --db corpus.db scan ../shared/corpus/dev          # the teacher's library
    python bench/distil.py --db corpus.db [--split artist|track] [--width 128] [--epochs 30]

What it does, all on the library's own audio:

1. every track is decoded once (16 and 22.05 kHz, as a scan does); its half-overlapping 3-s
   log-mel patches get the teacher's targets (MSD penultimate and tags, MTT tags), and the
   patches the scan's pipeline analyses are kept with their positions (``ListeningHook.prepare``);
2. the tracks are split in ``--folds`` folds (by artist: the student never hears the artists it
   is judged on; ``--split track`` lets an artist's other tracks into training, as a sample
   of a big library would); for each fold a student is trained on the other folds' patches;
3. each track's stored vectors (track, intro, outro, patches, both tag averages) are replaced by
   the out-of-fold student's, pooled exactly as the scan pools the teacher's
   (``ListeningHook.track_vectors``), in a copy of the library; the learned space is trained
   again on that copy (``segue learn``);
4. ``segue eval`` scores both libraries, pretrained and learned space, and the student's and the
   teacher's inference are timed per patch in the same process (one thread, as a scan worker).

The student: mel bands as channels, four 1-D convolutions over time (widths w, w, 2w, 2w), mean
and max over time, one hidden layer, 300 outputs (the 200-d penultimate, standardised, and 2 x 50
tag logits). Trained with AdamW and a one-cycle schedule, MSE on the penultimate plus binary
cross-entropy on the tag probabilities.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from segue.api import Library  # noqa: E402
from segue.audio.decode import decode  # noqa: E402
from segue.audio.model_frontends import musicnn_logmel, musicnn_patches  # noqa: E402
from segue.listen.pipeline import (  # noqa: E402
    DESCRIPTOR_RATE,
    MODEL,
    MUSICNN_RATE,
    PIPELINE_VERSION,
    ListeningHook,
)

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "dev"
REPLACED = ("patches", "track", "intro", "outro", "tags_msd", "tags_mtt")
#: every array the scan stores for a track (the student replaces those in REPLACED)
STORED = REPLACED + ("midend", "rp", "ssd", "rh", "timbre")
PEN, TAGS = 200, 50


def student_class():  # torch imported only when the bench runs
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Student(nn.Module):
        def __init__(self, width: int) -> None:
            super().__init__()
            ch, ks = [96, width, width, 2 * width, 2 * width], [5, 3, 3, 3]
            self.bn0 = nn.BatchNorm1d(96)
            self.convs = nn.ModuleList(
                nn.Conv1d(ch[i], ch[i + 1], ks[i], padding=ks[i] // 2, bias=False) for i in range(4)
            )
            self.bns = nn.ModuleList(nn.BatchNorm1d(ch[i + 1]) for i in range(4))
            self.fc, self.bnf = nn.Linear(4 * width, 256), nn.BatchNorm1d(256)
            self.out = nn.Linear(256, PEN + 2 * TAGS)

        def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 187, 96) log-mel patches
            x = self.bn0(x.transpose(1, 2))
            for i in range(4):
                x = F.relu(self.bns[i](self.convs[i](x)))
                if i < 3:
                    x = F.max_pool1d(x, 2)
            x = torch.cat([x.mean(2), x.amax(2)], 1)
            return self.out(F.relu(self.bnf(self.fc(x))))

    return Student


def teacher_targets(lib: Library, cache: Path) -> dict:
    """Per track: training patches (half-overlapping) with the teacher's outputs, and the
    pipeline's prepared patches. Cached: the teacher is the slow part."""
    import pickle

    import torch

    if cache.exists():
        return pickle.loads(cache.read_bytes())
    hook = ListeningHook(descriptors=True)
    hook.load_models()
    msd, mtt = hook._models
    data: dict = {"tracks": []}
    rows = [(t.audio_hash, t.path) for t in lib.store.tracks()]
    analysed = lib.store.analysed_hashes(MODEL, PIPELINE_VERSION)
    start = time.time()
    for i, (audio_hash, path) in enumerate(sorted(rows)):
        if audio_hash not in analysed:
            continue
        audio = {
            MUSICNN_RATE: decode(path, MUSICNN_RATE, mono=False),
            DESCRIPTOR_RATE: decode(path, DESCRIPTOR_RATE, mono=False),
        }
        train = musicnn_patches(musicnn_logmel(audio[MUSICNN_RATE].mean(axis=0)), hop=93)
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(train))
            a, b = msd(x), mtt(x)
        data["tracks"].append({
            "hash": audio_hash, "path": str(path), "x": train.astype(np.float16),
            "pen": a.penultimate.float().numpy(), "tmsd": a.taggram.float().numpy(),
            "tmtt": b.taggram.float().numpy(), "prepared": hook.prepare(audio),
        })  # fmt: skip
        if i % 20 == 0:
            print(f"  teacher: {i + 1}/{len(rows)} tracks, {time.time() - start:.0f} s", file=sys.stderr)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(data))
    return data


def folds_of(tracks: list[dict], labels: dict[str, dict], split: str, folds: int) -> np.ndarray:
    """A fold per track: whole artists per fold (``artist``) or tracks dealt at random."""
    rng = np.random.default_rng(1)
    if split == "track":
        return rng.permutation(len(tracks)) % folds
    artists = sorted({labels[Path(t["path"]).name]["artist"] for t in tracks})
    rng.shuffle(artists)
    fold_of = {a: i % folds for i, a in enumerate(artists)}
    return np.array([fold_of[labels[Path(t["path"]).name]["artist"]] for t in tracks])


def train_student(tracks: list[dict], width: int, epochs: int, seed: int):
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(np.concatenate([t["x"] for t in tracks]).astype(np.float32))
    pen = np.concatenate([t["pen"] for t in tracks])
    mu, sd = pen.mean(0), pen.std(0) + 1e-3
    pen_t = torch.from_numpy((pen - mu) / sd)
    tags_t = torch.from_numpy(np.concatenate(
        [np.concatenate([t["tmsd"] for t in tracks]), np.concatenate([t["tmtt"] for t in tracks])], axis=1))  # fmt: skip
    model = student_class()(width)
    batch = 64
    steps = max(1, len(x) // batch)
    opt = torch.optim.AdamW(model.parameters(), 2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=epochs * steps)
    model.train()
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for b in range(steps):
            idx = torch.from_numpy(order[b * batch : (b + 1) * batch])
            xb = x[idx]
            if rng.random() < 0.5:  # a patch's content at another offset in time
                xb = torch.roll(xb, int(rng.integers(187)), 1)
            out = model(xb)
            loss = F.mse_loss(out[:, :PEN], pen_t[idx]) + 5 * F.binary_cross_entropy_with_logits(
                out[:, PEN:], tags_t[idx])  # fmt: skip
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    return model, mu, sd


def student_outputs(model, mu: np.ndarray, sd: np.ndarray, patches: np.ndarray) -> dict[str, np.ndarray]:
    import torch

    with torch.inference_mode():
        out = model(torch.from_numpy(np.ascontiguousarray(patches, dtype=np.float32))).numpy()
    tags = 1 / (1 + np.exp(-out[:, PEN:]))
    return {"penultimate": out[:, :PEN] * sd + mu, "mean_pool": np.zeros((len(out), 1), np.float32),
            "tags_msd": tags[:, :TAGS], "tags_mtt": tags[:, TAGS:]}  # fmt: skip


def cpu_ms_per_patch(fn, patches: np.ndarray, repeats: int = 5) -> float:
    fn(patches)
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn(patches)
        times.append(time.process_time() - start)
    return float(np.median(times)) / len(patches) * 1000


def evaluation(db: Path, labels: str) -> dict[str, dict]:
    out = {}
    for features in ("musicnn", "learned"):
        cmd = [str(Path(sys.executable).with_name("segue")), "--db", str(db), "eval", "--labels", labels,
               "--features", features, "--json"]  # fmt: skip
        out[features] = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True, help="a library scanned with the teacher")
    parser.add_argument("--labels", default=str(CORPUS / "manifest.csv"))
    parser.add_argument("--split", choices=("artist", "track"), default="artist")
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "distil"))
    args = parser.parse_args()
    print("command: python bench/distil.py " + " ".join(sys.argv[1:]))
    import torch

    torch.set_num_threads(2)
    out = Path(args.out)
    lib = Library.open(args.db)
    data = teacher_targets(lib, out / f"teacher-{Path(args.db).stem}.pkl")
    tracks = data["tracks"]
    with open(args.labels, newline="", encoding="utf-8") as f:
        labels = {Path(r["path"]).name: r for r in csv.DictReader(f)}
    fold = folds_of(tracks, labels, args.split, args.folds)

    student_db = out / f"student-{args.split}-w{args.width}.db"
    student_db.unlink(missing_ok=True)
    lib.store.conn.execute("VACUUM INTO ?", (str(student_db),))
    copy = Library.open(str(student_db))
    hook = ListeningHook(descriptors=False)
    cosines, model = [], None
    start = time.time()
    for f in range(args.folds):
        train = [t for t, k in zip(tracks, fold, strict=True) if k != f]
        model, mu, sd = train_student(train, args.width, args.epochs, seed=f)
        for t, k in zip(tracks, fold, strict=True):
            if k != f:
                continue
            prepared = t["prepared"]
            vectors = hook.track_vectors(prepared, student_outputs(model, mu, sd, prepared.patches))
            teacher = lib.store.vector(t["hash"], MODEL, "track")
            cosines.append(float(vectors["track"] @ teacher
                                 / np.linalg.norm(vectors["track"]) / np.linalg.norm(teacher)))  # fmt: skip
            stored = {kind: copy.store.vector(t["hash"], MODEL, kind) for kind in STORED}
            stored = {k: v for k, v in stored.items() if v is not None} | {k: vectors[k] for k in REPLACED}
            copy.store.record_analysis(t["hash"], MODEL, PIPELINE_VERSION, stored)
        copy.store.conn.commit()
        print(f"  fold {f + 1}/{args.folds} trained and placed, {time.time() - start:.0f} s", file=sys.stderr)
    copy.learn()
    copy.close()

    # inference cost per patch, one thread as in a scan worker, on one track's analysed patches
    torch.set_num_threads(1)
    hook.load_models()
    patches = np.concatenate([t["prepared"].patches for t in tracks[:8]])
    teacher_ms = cpu_ms_per_patch(lambda p: hook.embed(p), patches)
    student_ms = cpu_ms_per_patch(lambda p: student_outputs(model, mu, sd, p), patches)

    scores = {"teacher": evaluation(Path(args.db), args.labels), "student": evaluation(student_db, args.labels)}
    print(f"\nsplit {args.split}, {args.folds} folds, width {args.width}, {args.epochs} epochs; "
          f"{len(tracks)} tracks; student track vector against the teacher's: cosine median "
          f"{np.median(cosines):.4f}, min {min(cosines):.4f}")  # fmt: skip
    print(f"inference, CPU ms per analysed patch (1 thread): teacher (MSD + MTT on every 2nd) "
          f"{teacher_ms:.2f}, student {student_ms:.2f} ({student_ms / teacher_ms:.3f})\n")  # fmt: skip
    print("| listener | space | style P@10 (other artists) | style P@10 (other albums) | k-occ. skew | journey step / shuffled |")
    print("|---|---|---:|---:|---:|---:|")
    for who, by_space in scores.items():
        for space, r in by_space.items():
            j = r.get("journeys") or {}
            ratio = j["mean_step_distance"] / j["shuffled_step_distance"] if j.get("n") else float("nan")
            print(f"| {who} | {space} | {r['genre_precision']['value']:.3f} | "
                  f"{r['genre_precision_album_filtered']['value']:.3f} | {r['hubness']['skewness']:.2f} | "
                  f"{ratio:.3f} |")  # fmt: skip


if __name__ == "__main__":
    main()
