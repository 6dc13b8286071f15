"""Compare the stored vectors of two scans of the same music (e.g. two precisions).

    python bench/compare_scans.py A.db B.db

Prints, over the tracks both hold (matched by audio hash): the cosine of the track, intro and
outro vectors (median and min), the largest MSD and MTT tag-average difference (max over
tracks, and the median of each track's largest), and how far the 10 nearest neighbours of
every track agree between the two (share of slots, share of identical nearest).
"""

from __future__ import annotations

import sqlite3
import sys

import numpy as np

KINDS = ("track", "intro", "outro", "tags_msd", "tags_mtt")


def load(db: str) -> dict[tuple[str, str], np.ndarray]:
    """(audio hash, kind) -> float64 vector, for the kinds compared here."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    marks = ",".join("?" * len(KINDS))
    rows = con.execute(
        f"SELECT audio_hash, kind, dtype, data FROM vectors WHERE kind IN ({marks})", KINDS
    )
    return {(h, k): np.frombuffer(data, dtype=dt).astype(np.float64) for h, k, dt, data in rows}


def nearest(vectors: dict[tuple[str, str], np.ndarray], hashes: list[str], k: int) -> np.ndarray:
    x = np.stack([vectors[(h, "track")] for h in hashes])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    sim = x @ x.T
    np.fill_diagonal(sim, -np.inf)
    return np.argsort(-sim, axis=1)[:, :k]


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    a, b = load(sys.argv[1]), load(sys.argv[2])
    common = sorted(set(a) & set(b))
    print(f"command: python bench/compare_scans.py {sys.argv[1]} {sys.argv[2]}")
    for kind in ("track", "intro", "outro"):
        cos = [a[key] @ b[key] / (np.linalg.norm(a[key]) * np.linalg.norm(b[key]))
               for key in common if key[1] == kind]  # fmt: skip
        print(f"{kind}: {len(cos)} tracks, cosine median {np.median(cos):.5f}, min {np.min(cos):.5f}")
    for kind in ("tags_msd", "tags_mtt"):
        worst = [np.abs(a[key] - b[key]).max() for key in common if key[1] == kind]
        print(f"{kind}: largest difference {max(worst):.4f}, "
              f"median of each track's largest {np.median(worst):.4f}")  # fmt: skip
    hashes = [h for h, kind in common if kind == "track"]
    k = min(10, len(hashes) - 1)
    na, nb = nearest(a, hashes, k), nearest(b, hashes, k)
    slots = np.mean([len(set(x) & set(y)) / k for x, y in zip(na, nb, strict=True)])
    print(f"{k} nearest neighbours: {slots:.1%} of slots agree, the nearest on "
          f"{np.mean(na[:, 0] == nb[:, 0]):.1%} of tracks")  # fmt: skip


if __name__ == "__main__":
    main()
