"""2-D layouts: projections of tracks (openTSNE, UMAP) and of images by colour; grid fitting.

Projections are cached as ``.npz`` under ``<art dir>/projections``, keyed by the feature set's
name, the method, its parameters and the exact set of input keys (audio hashes, cover hashes).
When the library grows, a cached run over a subset is reused instead of starting over:

- t-SNE: the old points keep their places and the new ones are placed into that embedding with
  openTSNE's ``TSNEEmbedding.transform`` (affinities to the old points, old points fixed);
- UMAP: a warm start: old points begin where they were, new points at the mean of their nearest
  old neighbours, and fewer epochs run (UMAP has no fixed-reference transform that keeps the old
  layout unchanged as t-SNE's does, so old points move a little).

Below :data:`MIN_POINTS` points neither method means much, so a PCA layout is returned.

UMAP (and pynndescent under it) is numba code, compiled on first use into an on-disk cache;
:func:`private_numba_cache` gives it segue's own cache, written by one process at a time. openTSNE
uses no numba for segue's metrics (cosine, Euclidean: exact or Annoy neighbours) but imports
pynndescent, which compiles as it is imported: that import goes through the same cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from segue.art import art_dir
from segue.config import numba_cache_dir
from segue.files import atomic_path

MIN_POINTS = 8
MAX_NEW_FRACTION = 0.5  # beyond this many new points, a fresh run is better than a patched one


@dataclass(frozen=True)
class LayoutParams:
    """Parameters of a projection; every one is part of the cache key."""

    method: str = "tsne"
    perplexity: float = 30.0  # t-SNE
    n_iter: int = 500  # t-SNE optimisation iterations (after early exaggeration)
    n_neighbors: int = 15  # UMAP
    min_dist: float = 0.1  # UMAP
    metric: str = "cosine"
    standardise: bool = False  # z-score each column first (descriptor sets with mixed units)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in ("tsne", "umap"):
            raise ValueError(f"projection method must be 'tsne' or 'umap', got {self.method!r}")

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


def _set_key(keys: Sequence[str]) -> str:
    h = hashlib.sha256()
    for k in sorted(keys):
        h.update(k.encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


def _prepare(x: np.ndarray, params: LayoutParams, ref: np.ndarray | None = None) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    if params.standardise:
        base = x if ref is None else ref
        x = (x - base.mean(0)) / np.maximum(base.std(0), 1e-6)
    return np.ascontiguousarray(x)


PCA_SAMPLE = 20000  # above this many points the axes come from a sample: as good, and cheap


def pca_2d(x: np.ndarray) -> np.ndarray:
    """The first two principal components of ``x`` (n, d) as (n, 2) float32 (zeros where there
    are fewer); the axes from at most :data:`PCA_SAMPLE` points, so 100k x 200 stays well
    under a second."""
    x = np.asarray(x, np.float32)
    out = np.zeros((len(x), 2), dtype=np.float32)
    if len(x) > 1:
        x = x - x.mean(0)
        sample = x
        if len(x) > PCA_SAMPLE:
            sample = x[np.random.default_rng(0).choice(len(x), PCA_SAMPLE, replace=False)]
        # the axes are the top eigenvectors of the d x d scatter matrix: far cheaper than an
        # SVD of the (n, d) matrix itself (which also builds its n x d left factor)
        sample = sample.astype(np.float64)
        _, vecs = np.linalg.eigh(sample.T @ sample)
        k = min(2, len(x) - 1, x.shape[1])
        out[:, :k] = x @ vecs[:, ::-1][:, :k].astype(np.float32)
    return out


def _load_pynndescent_privately() -> None:
    """openTSNE imports pynndescent (installed with umap-learn) only to learn that it is there,
    to pick a neighbour search for metrics segue does not use; and pynndescent compiles numba
    code as it is imported (about 30 s the first time). Import it first inside segue's private,
    locked cache, so that openTSNE's probe finds it loaded and nothing compiles elsewhere."""
    if "pynndescent" in sys.modules or importlib.util.find_spec("pynndescent") is None:
        return
    with private_numba_cache():
        import pynndescent  # noqa: F401


#: Share of a fresh t-SNE's time taken by the affinities (nearest neighbours), before the first
#: optimisation step reports: progress starts there.
AFFINITY_SHARE = 0.15
EARLY_ITERATIONS = 250  # openTSNE's early exaggeration phase
PROGRESS_EVERY = 10


def _tsne(x: np.ndarray, p: LayoutParams, n_jobs: int,
          on_progress: Callable[[float], None] | None = None) -> np.ndarray:  # fmt: skip
    from openTSNE import TSNE

    _load_pynndescent_privately()

    perplexity = min(p.perplexity, max(2.0, (len(x) - 1) / 3.0))
    callbacks = None
    if on_progress is not None:
        total = EARLY_ITERATIONS + p.n_iter
        done = [0]

        def step(iteration: int, error: float, embedding: object) -> bool:
            done[0] += PROGRESS_EVERY
            on_progress(AFFINITY_SHARE + (1 - AFFINITY_SHARE) * min(1.0, done[0] / total))
            return False  # never stop early

        callbacks = [step]
    tsne = TSNE(perplexity=perplexity, n_iter=p.n_iter, metric=p.metric, random_state=p.seed,
                n_jobs=n_jobs, verbose=False, early_exaggeration_iter=EARLY_ITERATIONS,
                callbacks=callbacks, callbacks_every_iters=PROGRESS_EVERY)  # fmt: skip
    return np.asarray(tsne.fit(x), dtype=np.float32)


def _tsne_extend(x_old: np.ndarray, y_old: np.ndarray, x_new: np.ndarray, p: LayoutParams,
                 n_jobs: int) -> np.ndarray:  # fmt: skip
    from openTSNE import TSNEEmbedding
    from openTSNE.affinity import PerplexityBasedNN

    _load_pynndescent_privately()
    perplexity = min(p.perplexity, max(2.0, (len(x_old) - 1) / 3.0))
    aff = PerplexityBasedNN(x_old, perplexity=perplexity, metric=p.metric, random_state=p.seed, n_jobs=n_jobs)
    emb = TSNEEmbedding(y_old.astype(np.float64), aff, random_state=p.seed, n_jobs=n_jobs)
    return np.asarray(emb.transform(x_new, perplexity=min(5.0, perplexity)), dtype=np.float32)


@contextlib.contextmanager
def private_numba_cache() -> Iterator[Path]:
    """Point numba at segue's own cache (:func:`segue.config.numba_cache_dir`) and hold an
    exclusive lock on it until the block ends; yields the cache folder.

    By default numba caches compiled code beside the package in site-packages, one cache for
    every process of the install, and processes compiling the same functions at once can leave
    it corrupt, after which every run that loads it crashes (seen with librosa's beat tracker).
    With the lock (``fcntl.flock``, also between threads) one segue process at a time compiles,
    loads or writes it; the others wait. Import numba code (``import umap``) inside the block:
    numba reads the folder when a function is decorated. Where numba was imported before (by an
    API user), its functions decorated since use the folder too."""
    folder = numba_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    if "numba" in sys.modules:
        sys.modules["numba"].config.CACHE_DIR = str(folder)
    with open(folder / ".lock", "a+b") as fh:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock (segue's concurrency guarantees are POSIX's)
            yield folder
            return
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield folder
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _umap(x: np.ndarray, p: LayoutParams, init: np.ndarray | str = "spectral",
          n_epochs: int | None = None) -> np.ndarray:  # fmt: skip
    import warnings

    with private_numba_cache(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # n_jobs=1 forced by random_state; numba chatter
        import umap

        model = umap.UMAP(n_neighbors=min(p.n_neighbors, len(x) - 1), min_dist=p.min_dist, metric=p.metric,
                          random_state=p.seed, init=init, n_epochs=n_epochs)  # fmt: skip
        return np.asarray(model.fit_transform(x), dtype=np.float32)


def _nearest_mean(x_old: np.ndarray, y_old: np.ndarray, x_new: np.ndarray, k: int = 5) -> np.ndarray:
    a = x_old / np.maximum(np.linalg.norm(x_old, axis=1, keepdims=True), 1e-9)
    b = x_new / np.maximum(np.linalg.norm(x_new, axis=1, keepdims=True), 1e-9)
    out = np.empty((len(x_new), 2), dtype=np.float32)
    for s in range(0, len(b), 1024):
        sim = b[s : s + 1024] @ a.T
        nn = np.argpartition(-sim, min(k, len(a) - 1), axis=1)[:, :k]
        out[s : s + 1024] = y_old[nn].mean(1)
    return out


@dataclass
class Layout:
    """A 2-D layout of keyed points and how it was made (``fresh``, ``cached``, ``extended``)."""

    keys: list[str]
    xy: np.ndarray
    how: str

    def as_dict(self) -> dict[str, tuple[float, float]]:
        return {k: (float(x), float(y)) for k, (x, y) in zip(self.keys, self.xy, strict=True)}


_THREAD_LOCKS: dict[str, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


@contextlib.contextmanager
def computing(path: Path) -> Iterator[None]:
    """Held while the layout that will be saved at ``path`` is computed: one computation per
    layout, across the threads of a process (two first map requests) and across processes (a
    scan's end and a running server), which wait and then read the saved result."""
    with _THREAD_LOCKS_GUARD:
        lock = _THREAD_LOCKS.setdefault(str(path), threading.Lock())
    with lock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: threads are still serialised
            yield
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(path.name + ".lock"), "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _cached_layout(path: Path) -> Layout | None:
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as data:
        return Layout([str(k) for k in data["keys"]], data["xy"], "cached")


def layout_path(keys: Sequence[str], params: LayoutParams | None = None, name: str = "points",
                cache: Path | None = None) -> Path:
    """Where the layout of these keys is (or will be) saved."""
    params = params or LayoutParams()
    return (cache or art_dir()) / "projections" / f"{name}-{params.method}-{params.key()}-{_set_key(keys)}.npz"


def layout_points(vectors: Mapping[str, np.ndarray], params: LayoutParams | None = None, name: str = "points",
            cache: Path | None = None, n_jobs: int = 1, progress: bool = False,
            on_progress: Callable[[float], None] | None = None) -> Layout:  # fmt: skip
    """2-D coordinates for every key of ``vectors``, from the cache when possible.

    ``name`` separates feature sets (``musicnn-track``, ``rp``, ``colours`` …) in the cache.
    ``on_progress(share)`` hears how far a fresh t-SNE has got (0..1). One computation at a
    time per layout (:func:`computing`): a second caller waits for the first and reads its
    result.
    """
    params = params or LayoutParams()
    keys = sorted(vectors)
    if not keys:
        return Layout([], np.zeros((0, 2), np.float32), "fresh")
    folder = (cache or art_dir()) / "projections"
    prefix = f"{name}-{params.method}-{params.key()}-"
    path = folder / f"{prefix}{_set_key(keys)}.npz"
    found = _cached_layout(path)
    if found is not None:
        return found
    with computing(path):
        found = _cached_layout(path)  # computed by whoever held the lock before us
        if found is not None:
            return found
        layout = _compute_layout(vectors, keys, params, name, folder, prefix, n_jobs, progress, on_progress)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, keys=np.array(keys), xy=layout.xy)
        return layout


def _compute_layout(vectors: Mapping[str, np.ndarray], keys: list[str], params: LayoutParams, name: str,
                    folder: Path, prefix: str, n_jobs: int, progress: bool,
                    on_progress: Callable[[float], None] | None) -> Layout:  # fmt: skip
    x_all = np.stack([np.asarray(vectors[k], dtype=np.float32).ravel() for k in keys])
    how = "fresh"
    if len(keys) < MIN_POINTS:
        xy = pca_2d(_prepare(x_all, params))
    else:
        base = _best_subset(folder, prefix, set(keys))
        if base is not None:
            old_keys, y_old = base
            pos = {k: i for i, k in enumerate(keys)}
            old_idx = np.array([pos[k] for k in old_keys])
            new_idx = np.array([i for i, k in enumerate(keys) if k not in set(old_keys)])
            x = _prepare(x_all, params, ref=x_all[old_idx])
            xy = np.empty((len(keys), 2), dtype=np.float32)
            xy[old_idx] = y_old
            if params.method == "tsne":
                xy[new_idx] = _tsne_extend(x[old_idx], y_old, x[new_idx], params, n_jobs)
            else:
                xy[new_idx] = _nearest_mean(x[old_idx], y_old, x[new_idx])
                scale = np.abs(xy).max() or 1.0  # UMAP wants a modest init scale (~10)
                xy = _umap(x, params, init=xy * (10.0 / scale), n_epochs=100)
            how = "extended"
        else:
            x = _prepare(x_all, params)
            if progress:
                print(f"layout: {params.method} of {len(keys)} {name} points", file=sys.stderr)
            xy = _tsne(x, params, n_jobs, on_progress) if params.method == "tsne" else _umap(x, params)
    return Layout(keys, xy.astype(np.float32), how)


def _best_subset(folder: Path, prefix: str, keys: set[str]) -> tuple[list[str], np.ndarray] | None:
    """The largest cached run (same name, method, params) over a subset of ``keys``."""
    if not folder.exists():
        return None
    best = None
    for f in folder.glob(f"{prefix}*.npz"):
        with np.load(f, allow_pickle=False) as data:
            old = [str(k) for k in data["keys"]]
            if len(old) < MIN_POINTS or not set(old) <= keys:
                continue
            if (len(keys) - len(old)) / len(keys) > MAX_NEW_FRACTION:
                continue
            if best is None or len(old) > len(best[0]):
                best = (old, np.array(data["xy"]))
    return best


def grid_shape(n: int, aspect: float = 1.0) -> tuple[int, int]:
    """(rows, cols) of the smallest grid with at least ``n`` cells and about cols/rows = aspect."""
    if n <= 0:
        return (0, 0)
    cols = max(1, int(np.ceil(np.sqrt(n * aspect))))
    rows = int(np.ceil(n / cols))
    return rows, cols


def fit_to_grid(points: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Assign each 2-D point its own grid cell, minimising the total squared distance moved.

    Points are scaled to the unit square first (each axis by its range); cell ``r * cols + c``
    has its centre at ``((c + .5) / cols, (r + .5) / rows)``. Solved exactly as a linear
    assignment (Jonker–Volgenant, scipy). Returns the cell index of each point.
    """
    r, c = np.divmod(np.arange(rows * cols), cols)
    centres = np.stack([(c + 0.5) / max(cols, 1), (r + 0.5) / max(rows, 1)], axis=1)
    if len(points) > rows * cols:
        raise ValueError(f"{len(points)} points do not fit a {rows}×{cols} grid")
    return fit_to_cells(points, centres)


def fit_to_cells(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Assign each 2-D point its own cell (cell centres in the unit square, (m, 2) as x, y),
    minimising the total squared distance moved; the points are scaled to the unit square
    first. Returns the cell index of each point (a linear assignment, exact)."""
    from scipy.optimize import linear_sum_assignment

    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    centres = np.asarray(centres, dtype=np.float64).reshape(-1, 2)
    n = len(pts)
    if n > len(centres):
        raise ValueError(f"{n} points do not fit {len(centres)} cells")
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    lo, hi = pts.min(0), pts.max(0)
    unit = (pts - lo) / np.where(hi > lo, hi - lo, 1.0)
    cost = ((unit[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    row_ind, col_ind = linear_sum_assignment(cost)
    out = np.empty(n, dtype=np.int64)
    out[row_ind] = col_ind
    return out


@dataclass(frozen=True)
class Grid:
    """A grid of ``n`` square cells of side ``cell`` with ``gap`` between them: ``rows`` rows of
    ``cols``, the last one holding ``n - (rows - 1) * cols`` cells, centred."""

    n: int
    rows: int
    cols: int
    cell: int
    gap: int

    @property
    def last_row(self) -> int:
        return self.n - (self.rows - 1) * self.cols

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the whole grid in pixels."""
        return (self.cols * (self.cell + self.gap) - self.gap, self.rows * (self.cell + self.gap) - self.gap)

    def boxes(self, x0: int = 0, y0: int = 0) -> list[tuple[int, int, int, int]]:
        """Every cell's (x0, y0, x1, y1), reading order, the grid's top left at (x0, y0)."""
        out = []
        step = self.cell + self.gap
        for i in range(self.n):
            r, c = divmod(i, self.cols)
            shift = (self.cols - self.last_row) * step / 2 if r == self.rows - 1 else 0
            x, y = round(x0 + c * step + shift), y0 + r * step
            out.append((x, y, x + self.cell, y + self.cell))
        return out

    def centres(self) -> np.ndarray:
        """Cell centres scaled to the unit square (x, y), for :func:`fit_to_cells`."""
        boxes = np.array(self.boxes(), dtype=np.float64)
        w, h = self.size
        return np.stack([(boxes[:, 0] + boxes[:, 2]) / 2 / max(w, 1), (boxes[:, 1] + boxes[:, 3]) / 2 / max(h, 1)], 1)


def balanced_grid(n: int, width: float, height: float, gap: int = 0, max_cell: float | None = None) -> Grid:
    """The grid with the largest square cells for ``n`` images in a ``width`` × ``height`` box
    that leaves no orphan row: the last row is full or at least half full (and centred).

    ``max_cell`` caps the cell side (images are not blown up past what they can bear).
    """
    if n <= 0:
        return Grid(0, 0, 0, 0, gap)
    shapes: list[Grid] = []
    capped = False
    for cols in range(1, n + 1):
        rows = -(-n // cols)
        last = n - (rows - 1) * cols
        if rows > 1 and last * 2 < cols:
            continue  # an orphan row: fewer than half the columns
        cell = min((width + gap) / cols, (height + gap) / rows) - gap
        if max_cell is not None and cell >= max_cell:
            cell, capped = max_cell, True
        if int(cell) >= 1:
            shapes.append(Grid(n, rows, cols, int(cell), gap))
    if not shapes:  # the box is too small for any grid: one-pixel cells in a square-ish grid
        rows, cols = grid_shape(n, width / max(height, 1))
        return Grid(n, rows, cols, 1, gap)
    top = max(g.cell for g in shapes)
    near = [g for g in shapes if g.cell >= 0.97 * top]  # a few per cent of cell size is a tie
    if capped and max_cell is not None and top >= int(max_cell):
        # the images set the size, not the box: a compact block reads better than a long strip
        return min(near, key=lambda g: (abs(g.rows - g.cols), g.last_row != g.cols, -g.cell))
    return min(near, key=lambda g: (g.last_row != g.cols, -g.cell))


def align_to_box(points: np.ndarray, width: float, height: float) -> np.ndarray:
    """``points`` turned so that their longest spread runs along the box's longer side: a tall
    grid then gets the clusters stacked, not squeezed side by side into too few columns."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(pts) < 3:
        return pts
    centred = pts - pts.mean(0)
    _, vecs = np.linalg.eigh(centred.T @ centred)
    turned = centred @ vecs[:, ::-1]  # column 0: the major axis
    return turned[:, ::-1] if height > width else turned


def similarity_xy(vectors: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D coordinates of a few vectors (a playlist's tracks) such that similar ones lie close:
    t-SNE (cosine) from :data:`MIN_POINTS` points, PCA below; not cached (it takes well
    under a second for a playlist)."""
    x = np.nan_to_num(np.asarray(vectors, dtype=np.float32))
    if len(x) < MIN_POINTS:
        return pca_2d(x)
    params = LayoutParams(perplexity=min(30.0, max(2.0, (len(x) - 1) / 3.0)), seed=seed)
    try:
        return _tsne(x, params, n_jobs=1)
    except Exception:  # noqa: BLE001 - a degenerate set (all equal): PCA still gives a layout
        return pca_2d(x)


def grid_neighbours(boxes: Sequence[tuple[int, int, int, int]]) -> list[tuple[int, int]]:
    """Pairs of cells that touch: side by side in a row, or one above the other (overlapping by
    at least half a cell, for the centred last row)."""
    out = []
    for i, a in enumerate(boxes):
        side = a[2] - a[0]
        for j in range(i + 1, len(boxes)):
            b = boxes[j]
            same_row = a[1] == b[1] and 0 < b[0] - a[2] <= side // 2 + 1
            below = 0 < b[1] - a[3] <= side // 2 + 1 and min(a[2], b[2]) - max(a[0], b[0]) >= side / 2
            if same_row or below:
                out.append((i, j))
    return out


def arrange_by_similarity(vectors: np.ndarray, grid: Grid, seed: int = 0) -> np.ndarray:
    """The cell of each vector (a picture's track vector) so that similar pictures touch.

    The objective is the summed cosine similarity of touching cells. Two starts, the better
    kept: the 2-D similarity layout (:func:`similarity_xy`) turned to the grid's shape and fitted
    by linear assignment (good for square grids), and a nearest-neighbour chain laid in rows that
    snake (good for narrow ones); then pairwise swaps while any raises the objective.
    """
    x = np.nan_to_num(np.asarray(vectors, dtype=np.float64))
    n = len(x)
    if n < 2:
        return np.arange(n)
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    sim = unit @ unit.T
    boxes = grid.boxes()
    nbrs: list[list[int]] = [[] for _ in range(n)]
    for a, b in grid_neighbours(boxes):
        nbrs[a].append(b)
        nbrs[b].append(a)

    def score(cells: np.ndarray) -> float:
        at = np.empty(n, dtype=np.int64)
        at[cells] = np.arange(n)
        return float(sum(sim[at[a], at[b]] for a in range(n) for b in nbrs[a] if b > a))

    starts = [fit_to_cells(align_to_box(similarity_xy(x, seed), *grid.size), grid.centres())]
    chain = [int(np.argmin(sim.sum(1)))]  # start from the odd one out, an end of the chain
    left = set(range(n)) - set(chain)
    while left:
        nxt = max(left, key=lambda j: (sim[chain[-1], j], -j))
        chain.append(nxt)
        left.remove(nxt)
    snake = []
    for r in range(grid.rows):
        row = list(range(r * grid.cols, min(n, (r + 1) * grid.cols)))
        snake += row[::-1] if r % 2 else row
    cells = np.empty(n, dtype=np.int64)
    cells[chain] = snake
    starts.append(cells)
    best = max(starts, key=score).copy()
    at = np.empty(n, dtype=np.int64)
    at[best] = np.arange(n)
    for _ in range(20):  # swaps: each pass tries every pair once
        improved = False
        for c1 in range(n):
            for c2 in range(c1 + 1, n):
                t1, t2 = at[c1], at[c2]
                before = sum(sim[t1, at[k]] for k in nbrs[c1] if k != c2) + sum(sim[t2, at[k]] for k in nbrs[c2] if k != c1)
                after = sum(sim[t2, at[k]] for k in nbrs[c1] if k != c2) + sum(sim[t1, at[k]] for k in nbrs[c2] if k != c1)
                if after > before + 1e-9:
                    at[c1], at[c2] = t2, t1
                    improved = True
        if not improved:
            break
    best[at] = np.arange(n)
    return best


def catalog_layout(catalog, name: str, method: str = "tsne", cache: Path | None = None,
                   on_progress: Callable[[float], None] | None = None) -> dict[int, tuple[float, float]]:  # fmt: skip
    """{track id: (x, y)}: the catalogue's own unit vectors (the space playlists use: learned
    or pretrained) by t-SNE or UMAP. ``name`` says which vectors these are (the cache keeps
    layouts of other spaces apart); ``segue map`` and the web player share it."""
    vectors = {str(int(i)): catalog.vectors[r] for r, i in enumerate(catalog.ids)}
    layout = layout_points(vectors, LayoutParams(method=method), name=name, cache=cache, on_progress=on_progress)
    return {int(k): xy for k, xy in layout.as_dict().items()}


def colour_layout(palettes: Mapping[str, object], params: LayoutParams | None = None,
                      cache: Path | None = None) -> Layout:  # fmt: skip
    """Images placed by colour: their palettes' (OKLab, share) features, Euclidean."""
    params = params or LayoutParams(metric="euclidean", perplexity=10.0)
    return layout_points({k: p.feature() for k, p in palettes.items()}, params, name="colours", cache=cache)  # type: ignore[attr-defined]


#: Above this many tracks the library map falls back from t-SNE to PCA (a page cannot wait the
#: minutes t-SNE takes there).
TSNE_MAX_TRACKS = 3000


def _scale01(xy: np.ndarray) -> np.ndarray:
    lo = xy.min(axis=0)
    span = np.maximum(xy.max(axis=0) - lo, 1e-9)
    return ((xy - lo) / span).astype(np.float32)


def catalog_map_ready(catalog, name: str) -> bool:
    """Whether :func:`catalog_map` would answer without a long computation: PCA (fast) for
    this size, or the t-SNE layout of exactly these tracks already on disk (made at the end of
    a scan, or by an earlier view)."""
    if not 3 <= len(catalog) <= TSNE_MAX_TRACKS:
        return True
    keys = sorted(str(int(i)) for i in catalog.ids)
    return layout_path(keys, LayoutParams(method="tsne"), name=name).exists()


def catalog_map(catalog, name: str, on_progress: Callable[[float], None] | None = None) -> tuple[np.ndarray, str]:
    """(n, 2) coordinates in [0, 1] for every catalogue row, and the method's name.

    The t-SNE layout of :func:`catalog_layout` (cached on disk, shared with ``segue map``) up
    to :data:`TSNE_MAX_TRACKS` tracks; above that, or if it fails, PCA of the unit track
    vectors (:func:`pca_2d`). Kept on the catalogue, so it is computed once per rebuild.
    ``on_progress(share)`` hears how far a first computation has got.
    """

    def build() -> tuple[np.ndarray, str]:
        xy, method = None, "tsne"
        if 3 <= len(catalog) <= TSNE_MAX_TRACKS:
            try:
                by_id = catalog_layout(catalog, name, "tsne", on_progress=on_progress)
            except Exception as exc:  # noqa: BLE001 - the map must still draw: fall back to PCA
                print(f"warning: map layout failed, using PCA: {exc}", file=sys.stderr)
                by_id = {}
            if all(int(i) in by_id for i in catalog.ids):
                xy = np.asarray([by_id[int(i)] for i in catalog.ids], dtype=np.float32)
        if xy is None:
            xy, method = pca_2d(catalog.vectors), "pca"
        return (_scale01(xy) if len(xy) else xy, method)

    return catalog.cached("map_coordinates", build)
