"""The audio head: a linear layer from what the listener stores to the learned space.

Fitted to a Track2Vec factor ``F`` (:mod:`segue.learn.track2vec`, ``S = F^T F``) on the
library's own tracks. The loss: for each output direction ``a``, the share of the tracks'
variance along ``a`` that the contexts explain,

    rho(a) = a^T X^T S X a / a^T (X^T X + shrink) a      (X: standardised inputs)

maximised over orthogonal directions (a generalised symmetric eigenproblem, solved in closed
form with PyTorch, on the GPU when there is one). For albums alone this is the linear
discriminant of the albums; for an embedding factor it is CCA between audio and Track2Vec
space (regressing the embedding, as Deej-AI's audio network did, in whitened coordinates). Skip
pairs add a rank-one share along the whitened direction from the skipped track to the one
before it (``SKIP_SHARE`` per skip, whatever the library's size): directions that tell the two
apart count as explained.

What keeps the head near the pretrained geometry where the library says little:

- the denominator is the whole library's covariance shrunk towards isotropy by the Ledoit-Wolf
  amount (chosen from the data, no labels): tracks without any context still weigh in there, and
  with little data the solution leans to the pretrained, standardised space;
- only directions whose ``rho`` beats chance are kept: the same fit with the tracks shuffled
  over the contexts (``null_runs`` times) gives the chance level, so a library whose contexts
  carry no audible signal gets no direction at all (and keeps the pretrained space:
  :func:`fit_head` returns None).

Each kept direction is scaled by ``1 / sqrt(1 - rho)``: the spread left inside the contexts is
then the same along every direction (the within-class whitening of LDA), so the directions the
contexts explain best weigh most. On the planted-style libraries this is what finds the style
(style precision 1.0 against 0.53 for weights that barely tell a share of 0.99 from 0.9, where
the album-specific directions drown the shared ones); on the dev corpus both are 0.73.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

#: Most output dimensions; a library rarely supports more above chance.
MAX_DIMS = 32
NULL_RUNS = 40
NULL_QUANTILE = 0.95
#: Explained share one skip adds along its own direction (at weight 1): thirty skips of the same
#: transition make a direction as strong as the best album could be.
SKIP_SHARE = 0.03
#: Explained shares are capped here for the weights (skips can push a share past 1).
MAX_RHO = 0.99


@dataclass
class AudioHead:
    """``z = ((x - mean) / scale) @ projection``; the learned vector is ``z`` (cosine)."""

    mean: np.ndarray  # (D,)
    scale: np.ndarray  # (D,)
    projection: np.ndarray  # (D, k), direction weights folded in
    rho: np.ndarray  # (k,) explained share of each kept direction
    chance: float  # the null's rho level

    @property
    def dims(self) -> int:
        return int(self.projection.shape[1])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return (((x - self.mean) / self.scale) @ self.projection).astype(np.float32)

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "mean": self.mean,
            "scale": self.scale,
            "projection": self.projection,
            "rho": self.rho,
            "chance": np.array([self.chance]),
        }

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> AudioHead:
        return cls(a["mean"], a["scale"], a["projection"], a["rho"], float(a["chance"][0]))


def ledoit_wolf_shrinkage(x: np.ndarray) -> float:
    """The Ledoit-Wolf (2004) shrinkage intensity of the covariance of standardised ``x``
    towards ``tr/d * I``, in [0, 1] (the same estimate as scikit-learn's, in closed form)."""
    n, d = x.shape
    if n < 2:
        return 1.0
    xc = x - x.mean(axis=0)
    cov = xc.T @ xc / n
    mu = np.trace(cov) / d
    delta = ((cov - mu * np.eye(d)) ** 2).sum() / d
    x2 = xc**2
    beta = ((x2.T @ x2) / n - cov**2).sum() / d / n
    return float(min(1.0, beta / delta)) if delta > 0 else 1.0


def fit_head(
    x: np.ndarray,
    factor: sp.spmatrix | np.ndarray,
    negatives: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    *,
    gamma: float = 1.0,  # weight of the skips
    shrinkage: float | None = None,
    null_runs: int = NULL_RUNS,
    max_dims: int = MAX_DIMS,
    seed: int = 0,
    device: str = "cpu",
) -> AudioHead | None:
    """Fit the head (see the module docstring) on inputs ``x`` (n x D) and a factor whose
    columns are the same n tracks; None when no direction beats chance."""
    with _small_algebra_threads(device):
        return _fit_head(x, factor, negatives, gamma, shrinkage, null_runs, max_dims, seed, device)


@contextmanager
def _small_algebra_threads(device: str) -> Iterator[None]:
    """One CPU thread for the D x D algebra: at D = 300 threads buy nothing, and on a busy
    machine they wait for each other (an eigendecomposition took 0.27 s instead of 4 ms)."""
    import torch

    if device != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _fit_head(
    x: np.ndarray,
    factor: sp.spmatrix | np.ndarray,
    negatives: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    gamma: float,
    shrinkage: float | None,
    null_runs: int,
    max_dims: int,
    seed: int,
    device: str,
) -> AudioHead | None:
    import torch

    x = np.asarray(x, dtype=np.float64)  # stored inputs are float32; the statistics are not
    n, d = x.shape
    if n < 3:
        return None
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    xs = (x - mean) / scale
    s = ledoit_wolf_shrinkage(xs) if shrinkage is None else shrinkage
    dev = torch.device(device)
    xt = torch.as_tensor(xs, dtype=torch.float64, device=dev)
    cov = xt.T @ xt / n
    cov = (1 - s) * cov + s * torch.trace(cov) / d * torch.eye(d, dtype=torch.float64, device=dev)
    chol = torch.linalg.cholesky(cov)
    chol_inv = torch.linalg.solve_triangular(chol, torch.eye(d, dtype=torch.float64, device=dev), upper=False)
    f_csr = sp.csr_matrix(factor) if sp.issparse(factor) else None
    f_dense = None if f_csr is not None else torch.as_tensor(factor, dtype=torch.float64, device=dev)
    skips = torch.zeros((d, d), dtype=torch.float64, device=dev)
    if negatives is not None and len(negatives[0]):
        neg_a, neg_b, neg_w = negatives
        # each skip adds SKIP_SHARE * gamma * weight of explained share along the whitened
        # direction from one track to the other, whatever the library's size: in whitened
        # coordinates one pair's difference is long, and unnormalised it would outweigh albums
        diff = chol_inv @ torch.as_tensor(xs[neg_a] - xs[neg_b], device=dev).T
        diff = diff / torch.linalg.vector_norm(diff, dim=0).clamp_min(1e-12)
        w = torch.as_tensor(neg_w, dtype=torch.float64, device=dev) * gamma * SKIP_SHARE
        skips = (diff * w) @ diff.T

    def explained(rows: np.ndarray | None, vectors: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Eigen-pairs of the whitened context scatter (tracks shuffled by ``rows``)."""
        if f_csr is not None:
            # shuffling the tracks = relabelling the factor's columns (cheap), not copying x
            f = f_csr if rows is None else sp.csr_matrix(
                (f_csr.data, rows[f_csr.indices], f_csr.indptr), shape=f_csr.shape)  # fmt: skip
            z = torch.as_tensor(np.asarray(f @ xs), dtype=torch.float64, device=dev)
        else:
            xr = xs if rows is None else xs[rows]
            z = f_dense @ torch.as_tensor(xr, dtype=torch.float64, device=dev)
        k = chol_inv @ (z.T @ z / n) @ chol_inv.T
        k = (k + k.T) / 2
        if not vectors:
            return torch.linalg.eigvalsh(k).flip(0), None
        vals, vecs = torch.linalg.eigh(k + skips)
        return vals.flip(0), vecs.flip(1)

    vals, vecs = explained(None)
    assert vecs is not None
    # the chance level comes from the contexts alone: skips are kept out of the null, so a few of
    # them can neither raise the bar for the albums nor pass it on their own
    rng = np.random.default_rng(seed)
    null = [float(explained(rng.permutation(n), False)[0][0]) for _ in range(null_runs)]
    chance = float(np.quantile(null, NULL_QUANTILE)) if null else 0.0
    rho = vals.cpu().numpy()
    keep = int(min(max_dims, (rho > chance).sum()))
    if keep == 0:
        return None
    weight = 1.0 / np.sqrt(1.0 - np.minimum(rho[:keep], MAX_RHO))
    directions = (chol_inv.T @ vecs[:, :keep]).cpu().numpy()
    return AudioHead(mean, scale, directions * weight, rho[:keep], chance)
