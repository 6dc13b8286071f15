"""The audio head: a linear layer from what the listener stores to the learned space.

Fitted to a Track2Vec factor ``F`` (:mod:`segue.learn.track2vec`, ``S = F^T F``) on the
library's own tracks. The loss: for each output direction ``a``, the share of the tracks'
variance along ``a`` that the contexts explain,

    rho(a) = a^T X^T S X a / a^T (X^T X + shrink) a      (X: standardised inputs)

maximised over orthogonal directions (a generalised symmetric eigenproblem, solved in closed
form with PyTorch, on the GPU when there is one). For albums alone this is the linear
discriminant of the albums; for an embedding factor it is CCA between audio and Track2Vec
space (regressing the embedding, as Deej-AI's audio network did, in whitened coordinates). Skip
pairs add ``gamma * (x_a - x_b)(x_a - x_b)^T`` to the numerator: directions that tell the
skipped track from the one before it count as explained.

What keeps the head near the pretrained geometry where the library says little:

- the denominator is the whole library's covariance shrunk towards isotropy by the Ledoit-Wolf
  amount (chosen from the data, no labels): tracks without any context still weigh in there, and
  with little data the solution leans to the pretrained, standardised space;
- only directions whose ``rho`` beats chance are kept: the same fit with the tracks shuffled
  over the contexts (``null_runs`` times) gives the chance level, and each kept direction is
  scaled by ``sqrt((rho - chance) / (1 - chance))``, so a weak direction counts little and a
  library whose contexts carry no audible signal gets no direction at all (and keeps the
  pretrained space: :func:`fit_head` returns None).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

#: Most output dimensions; a library rarely supports more above chance.
MAX_DIMS = 32
NULL_RUNS = 40
NULL_QUANTILE = 0.95


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
    gamma: float = 1.0,
    shrinkage: float | None = None,
    null_runs: int = NULL_RUNS,
    max_dims: int = MAX_DIMS,
    seed: int = 0,
    device: str = "cpu",
) -> AudioHead | None:
    """Fit the head (see the module docstring) on inputs ``x`` (n x D) and a factor whose
    columns are the same n tracks; None when no direction beats chance."""
    import torch

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
    neg_a, neg_b, neg_w = negatives if negatives is not None else (None, None, None)

    def explained(rows: np.ndarray | None, vectors: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        xr = xs if rows is None else xs[rows]
        if f_csr is not None:
            z = torch.as_tensor(np.asarray(f_csr @ xr), dtype=torch.float64, device=dev)
        else:
            z = f_dense @ torch.as_tensor(xr, dtype=torch.float64, device=dev)
        between = z.T @ z / n
        if neg_a is not None and len(neg_a):
            diff = torch.as_tensor((xr[neg_a] - xr[neg_b]) * np.sqrt(neg_w)[:, None], device=dev)
            between = between + gamma * diff.T @ diff / n
        k = chol_inv @ between @ chol_inv.T
        k = (k + k.T) / 2
        if not vectors:
            return torch.linalg.eigvalsh(k).flip(0), None
        vals, vecs = torch.linalg.eigh(k)
        return vals.flip(0), vecs.flip(1)

    vals, vecs = explained(None)
    rng = np.random.default_rng(seed)
    null = [float(explained(rng.permutation(n), False)[0][0]) for _ in range(null_runs)]
    chance = float(np.quantile(null, NULL_QUANTILE)) if null else 0.0
    rho = vals.cpu().numpy()
    keep = int(min(max_dims, (rho > chance).sum()))
    if keep == 0:
        return None
    weight = np.sqrt((rho[:keep] - chance) / max(1.0 - chance, 1e-12))
    directions = (chol_inv.T @ vecs[:, :keep]).cpu().numpy()
    return AudioHead(mean, scale, directions * weight, rho[:keep], chance)
