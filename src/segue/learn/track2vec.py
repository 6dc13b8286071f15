"""Track2Vec: what the contexts say about which tracks go together, as a matrix the head can fit.

Deej-AI learned track embeddings from playlists with word2vec's skip-gram and then trained an
audio network to regress them. Both methods here end in the same form: a *factor* ``F`` whose
Gram matrix ``S = F^T F`` (tracks x tracks) is the co-occurrence structure the audio head is
fitted to (see :mod:`segue.learn.head`):

- ``cooccurrence`` (the default, matrix factorisation at full rank): each context ``c`` with
  weight ``w`` and ``m`` tracks is one row of ``F``: ``sqrt(w / m) / sqrt(d_i)`` at its tracks
  ``i``, where ``d_i`` is the track's total context weight. ``S`` is then the degree-normalised
  co-occurrence matrix (for albums alone: 1/m between every two tracks of an album), and the
  head on it is exactly the regularised linear discriminant of the albums (LDA), generalised to
  overlapping, weighted contexts (playlists across albums, listening sessions).
- ``sgns``: skip-gram with negative sampling (Deej-AI's Track2Vec) in PyTorch: track
  embeddings ``E`` (``dim`` wide) trained on pairs within ``window`` places of each other in a
  context, weighted by source; skip pairs are extra negatives. ``F = (E^T E)^(-1/2) E^T`` makes
  ``S`` the projection onto the embedding, the same CCA the head fits in the other case.

Chosen by measurement (BENCHMARKS.md, "Learning from the library"): on the dev corpus and the
planted-factor synthetic libraries the co-occurrence form is at least as good and needs no
epochs; ``sgns`` stays selectable (``segue learn --method sgns``) for comparison.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from segue.learn.contexts import Contexts

METHODS = ("cooccurrence", "sgns")
MIN_EPOCH_SAMPLES = 200


def cooccurrence_factor(contexts: Contexts) -> sp.csr_matrix:
    """``F`` (contexts x tracks) with ``F^T F`` the degree-normalised co-occurrence matrix."""
    n = len(contexts.hashes)
    if not contexts.contexts:
        return sp.csr_matrix((0, n))
    degree = np.zeros(n)
    for c in contexts.contexts:
        degree[c.tracks] += c.weight
    rows, cols, vals = [], [], []
    for r, c in enumerate(contexts.contexts):
        ids = np.asarray(c.tracks, dtype=np.int64)
        rows.append(np.full(len(ids), r))
        cols.append(ids)
        vals.append(np.sqrt(c.weight / len(ids)) / np.sqrt(degree[ids]))
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(contexts.contexts), n),
    )


def context_pairs(contexts: Contexts, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a, b, weight): both directions of every pair of tracks at most ``window`` places apart
    in a context; each track's pairs from one context sum to the context's weight."""
    a_parts, b_parts, w_parts = [], [], []
    for c in contexts.contexts:
        ids = np.asarray(c.tracks, dtype=np.int64)
        m = len(ids)
        span = min(window, m - 1)
        if span < 1:
            continue
        per_pair = c.weight / min(m - 1, 2 * span)
        for off in range(1, span + 1):
            a_parts += [ids[:-off], ids[off:]]
            b_parts += [ids[off:], ids[:-off]]
            w_parts.append(np.full(2 * (m - off), per_pair))
    if not a_parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    return np.concatenate(a_parts), np.concatenate(b_parts), np.concatenate(w_parts)


def sgns_embedding(
    contexts: Contexts,
    dim: int = 32,
    *,
    window: int = 5,
    epochs: int = 5,
    negatives: int = 5,
    batch: int = 4096,
    lr: float = 0.01,
    seed: int = 0,
    device: str = "cpu",
) -> tuple[np.ndarray, dict[str, float]]:
    """Skip-gram with negative sampling over the contexts; rows of tracks in no context are 0.

    Returns (embeddings, {"epochs", "loss"}): the loss is the last epoch's mean.
    """
    import torch

    n = len(contexts.hashes)
    a, b, w = context_pairs(contexts, window)
    stats = {"epochs": 0, "loss": float("nan")}
    if len(a) == 0:
        return np.zeros((n, dim), dtype=np.float32), stats
    gen = torch.Generator(device="cpu").manual_seed(seed)
    torch_device = torch.device(device)
    emb_in = torch.nn.Embedding(n, dim, sparse=True).to(torch_device)
    emb_out = torch.nn.Embedding(n, dim, sparse=True).to(torch_device)
    with torch.no_grad():
        emb_in.weight.copy_((torch.rand(n, dim, generator=gen) - 0.5) / dim)
        emb_out.weight.zero_()
    opt = torch.optim.SparseAdam(list(emb_in.parameters()) + list(emb_out.parameters()), lr=lr)
    degree = np.bincount(a, weights=w, minlength=n)
    noise = torch.as_tensor(degree**0.75 / (degree**0.75).sum(), dtype=torch.float64)
    pair_p = torch.as_tensor(w / w.sum(), dtype=torch.float64)
    ta, tb = torch.as_tensor(a), torch.as_tensor(b)
    skip_a = torch.as_tensor([x for x, _, _ in contexts.negatives], dtype=torch.int64)
    skip_b = torch.as_tensor([y for _, y, _ in contexts.negatives], dtype=torch.int64)
    skip_w = torch.as_tensor([z for _, _, z in contexts.negatives], dtype=torch.float32)
    # an epoch samples every pair once on average, and at least MIN_EPOCH_SAMPLES per track, so a
    # small library is not left with a handful of steps
    steps = max(1, math.ceil(max(len(a), MIN_EPOCH_SAMPLES * n) / batch))
    for _ in range(epochs):
        total = 0.0
        for _ in range(steps):
            pick = torch.multinomial(pair_p, batch, replacement=True, generator=gen)
            u = emb_in(ta[pick].to(torch_device))
            v = emb_out(tb[pick].to(torch_device))
            neg = torch.multinomial(noise, batch * negatives, replacement=True, generator=gen)
            vn = emb_out(neg.to(torch_device)).view(batch, negatives, dim)
            pos_logit = (u * v).sum(-1)
            neg_logit = torch.bmm(vn, u.unsqueeze(-1)).squeeze(-1)
            loss = -torch.nn.functional.logsigmoid(pos_logit).mean() - (
                torch.nn.functional.logsigmoid(-neg_logit).sum(-1).mean()
            )
            if len(skip_a):
                # a skip says "not after that one": both directions pushed apart
                su = emb_in(torch.cat([skip_a, skip_b]).to(torch_device))
                sv = emb_out(torch.cat([skip_b, skip_a]).to(torch_device))
                sw = torch.cat([skip_w, skip_w]).to(torch_device)
                loss = loss - (sw * torch.nn.functional.logsigmoid(-(su * sv).sum(-1))).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach())
        stats["epochs"] += 1
        stats["loss"] = total / steps
    out = emb_in.weight.detach().cpu().numpy().astype(np.float32)
    covered = np.zeros(n, dtype=bool)
    covered[np.unique(np.concatenate([a, b]))] = True
    out[~covered] = 0.0
    return out, stats


def embedding_factor(embedding: np.ndarray, ridge: float = 1e-3) -> np.ndarray:
    """``F = (E^T E + ridge)^(-1/2) E^T``: ``F^T F`` projects onto the embedding's span."""
    e = np.asarray(embedding, dtype=np.float64)
    e = e - e[np.abs(e).sum(axis=1) > 0].mean(axis=0) * (np.abs(e).sum(axis=1) > 0)[:, None]
    gram = e.T @ e
    gram += ridge * max(np.trace(gram), 1e-12) / len(gram) * np.eye(len(gram))
    vals, vecs = np.linalg.eigh(gram)
    inv_sqrt = vecs @ np.diag(np.maximum(vals, 1e-12) ** -0.5) @ vecs.T
    return inv_sqrt @ e.T
