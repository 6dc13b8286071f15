"""Training: contexts from the store -> Track2Vec -> audio head -> stored model, with a summary.

:func:`learn` is what ``segue learn`` and the end of a scan run. Steps: read the head's inputs
for every analysed track; build the contexts (:mod:`segue.learn.contexts`); measure a held-out
loss (a tenth of the contexts left out of a first fit, scored in the learned space and in the
pretrained one); fit on everything; store the model in one statement. Nothing is written until
the end, so an interrupted or failed training leaves the previous model in use.

Without usable signal (no contexts at all, or none whose tracks sound alike beyond chance) the
library keeps the pretrained space: any previous model is removed and the summary says why.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from segue.errors import UserError
from segue.learn.contexts import DEFAULT_WEIGHTS, SOURCES, Contexts, build_contexts
from segue.learn.features import library_inputs
from segue.learn.head import AudioHead, fit_head
from segue.learn.model import (
    LearnedModel,
    current_inputs_version,
    fingerprint,
    forget_model,
    save_model,
)
from segue.learn.track2vec import METHODS, cooccurrence_factor, embedding_factor, sgns_embedding
from segue.library.store import Store

#: Share of the contexts held out to measure the loss (from MIN_CONTEXTS_FOR_HELD_OUT contexts;
#: below FOLDS_BELOW, five folds instead).
HELD_OUT_SHARE = 0.1
MIN_CONTEXTS_FOR_HELD_OUT = 10
FOLDS_BELOW = 100
#: The held-out fits draw fewer nulls than the model's own fit: they only measure a loss.
HELD_OUT_NULL_RUNS = 10
#: Fewer tracks in contexts than this are too few to learn from (the chance level of a handful
#: of tracks says nothing), and a space needs two directions at least (in one, every cosine is
#: +1 or -1: no ranking left).
MIN_TRACKS_IN_CONTEXTS = 30
MIN_DIMS = 2
#: Largest context scored whole by the held-out loss; bigger ones are sampled.
LOSS_SAMPLE = 256


@dataclass
class LearnSummary:
    """What a training did (``segue learn --json`` prints this)."""

    space: str = "pretrained"  # "learned" when a model is in use after this training
    reason: str = ""
    method: str = "cooccurrence"
    tracks: int = 0
    tracks_in_contexts: int = 0
    contexts: dict[str, int] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    epochs: int = 0
    dims: int = 0
    chance: float | None = None
    held_out: dict[str, object] | None = None
    device: str = "cpu"
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def default_device() -> str:
    """``cuda`` when PyTorch sees a GPU, else ``cpu``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def learn(
    store: Store,
    *,
    sources: Iterable[str] = SOURCES,
    weights: Mapping[str, float] | None = None,
    method: str = "cooccurrence",
    seed: int = 0,
    device: str | None = None,
    save: bool = True,
    held_out: bool = True,
    step: Callable[[str], None] | None = None,
) -> tuple[LearnSummary, LearnedModel | None]:
    """Train the library's model (see the module docstring); returns (summary, model or None).

    ``sources`` and ``weights`` choose the contexts (the ablations of the evaluation); ``save``
    False leaves the store untouched; ``held_out`` False skips the held-out loss (five more fits
    on a small library); ``step`` is called with each stage's name (progress).
    """
    if method not in METHODS:
        raise UserError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    sources = list(sources)
    unknown = sorted(set(sources) - set(SOURCES))
    if unknown:
        raise UserError(f"unknown context source {unknown[0]!r}; use {', '.join(SOURCES)}")
    started = time.monotonic()
    device = device or default_device()
    note = step or (lambda _name: None)
    summary = LearnSummary(method=method, device=device)

    note("inputs")
    hashes, x = library_inputs(store)
    summary.tracks = len(hashes)
    note("contexts")
    ctx = build_contexts(store, hashes, weights, sources)
    summary.contexts = ctx.counts()
    summary.weights = {s: {**DEFAULT_WEIGHTS, **(weights or {})}[s] for s in sources}
    summary.tracks_in_contexts = len(ctx.covered())

    model = None
    if not ctx.contexts:
        summary.reason = (
            "no usable signal (no albums, folders of several tracks, playlist files or plays)"
        )
    elif summary.tracks_in_contexts < MIN_TRACKS_IN_CONTEXTS:
        summary.reason = (
            f"too little to learn from: {summary.tracks_in_contexts} tracks in albums, folders, "
            f"playlists or sessions (at least {MIN_TRACKS_IN_CONTEXTS} needed)"
        )
    else:
        if held_out and len(ctx.contexts) >= MIN_CONTEXTS_FOR_HELD_OUT:
            note("held-out fit")
            summary.held_out = held_out_loss(x, ctx, store, hashes, method, seed, device)
        note("fit")
        head, epochs = fit(x, ctx, method, seed, device)
        summary.epochs = epochs
        if head is None:
            summary.reason = "the contexts carry no signal the audio follows beyond chance"
        elif head.dims < MIN_DIMS:
            summary.reason = (
                "the contexts support one direction only beyond chance: too little for a space"
            )
        else:
            version = current_inputs_version(store)
            model = LearnedModel(head, version, fingerprint(hashes, x, version))
            summary.space = "learned"
            summary.dims = head.dims
            summary.chance = round(head.chance, 4)
    summary.seconds = round(time.monotonic() - started, 3)
    if model is not None:
        model.summary = summary.as_dict()
    if save:
        note("save")
        if model is not None:
            save_model(store, model)
        else:
            forget_model(store)
    return summary, model


def fit(
    x: np.ndarray, ctx: Contexts, method: str, seed: int, device: str, **head_options: Any
) -> tuple[AudioHead | None, int]:
    """Track2Vec then the head; (head or None, epochs of the Track2Vec training).
    ``head_options`` go to :func:`~segue.learn.head.fit_head` (the benchmarks' sweeps)."""
    negatives = None
    if ctx.negatives:
        a, b, w = (np.array(v) for v in zip(*ctx.negatives, strict=True))
        negatives = (a.astype(np.int64), b.astype(np.int64), w.astype(np.float64))
    if method == "sgns":
        embedding, stats = sgns_embedding(ctx, seed=seed, device=device)
        factor = embedding_factor(embedding)
        epochs = int(stats["epochs"])
    else:
        factor = cooccurrence_factor(ctx)
        epochs = 0
    return fit_head(x, factor, negatives, seed=seed, device=device, **head_options), epochs


def held_out_loss(
    x: np.ndarray,
    ctx: Contexts,
    store: Store,
    hashes: list[str],
    method: str,
    seed: int,
    device: str,
    **head_options: Any,
) -> dict[str, object]:
    """Fit without some contexts, then score how close the tracks of each left-out context lie:
    mean squared distance between them over that of random pairs (1 = no better than chance,
    lower is better), in the learned and in the pretrained space. A tenth of the contexts is
    left out once; below FOLDS_BELOW contexts, every context once over five folds (a tenth of a
    small library is too few to say anything)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(ctx.contexts))
    if len(order) < FOLDS_BELOW:
        folds = [order[f::5] for f in range(5)]
    else:
        folds = [order[: max(1, int(round(HELD_OUT_SHARE * len(order))))]]
    pretrained = store.vectors("musicnn", "track")
    base = np.stack([np.asarray(pretrained[h], dtype=np.float64) for h in hashes])
    learned, plain, held_count = [], [], 0
    for fold in folds:
        out_ids = set(fold.tolist())
        train = Contexts(ctx.hashes, [c for i, c in enumerate(ctx.contexts) if i not in out_ids],
                         ctx.negatives)  # fmt: skip
        held = [c for i, c in enumerate(ctx.contexts) if i in out_ids]
        options = {"null_runs": HELD_OUT_NULL_RUNS, **head_options}
        head, _ = fit(x, train, method, seed, device, **options)
        held_count += len(held)
        plain += spreads(base, held, rng)
        learned += spreads(head(x), held, rng) if head is not None else [float("nan")] * len(held)
    def mean(values: list[float]) -> float | None:
        finite = [v for v in values if np.isfinite(v)]
        return round(float(np.mean(finite)), 4) if finite else None

    return {
        "contexts": held_count,
        "folds": len(folds),
        "pretrained": mean(plain),
        "learned": mean(learned),
    }


def spreads(vectors: np.ndarray, contexts: list, rng: np.random.Generator) -> list[float]:
    """Per context: (1 - mean cosine within) / (1 - mean cosine of random pairs)."""
    z = np.asarray(vectors, dtype=np.float64)
    z = z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
    n = len(z)
    total = z.sum(axis=0)
    global_dot = (total @ total - n) / (n * (n - 1))
    ratios = []
    for c in contexts:
        ids = np.asarray(c.tracks)
        if len(ids) > LOSS_SAMPLE:
            ids = rng.choice(ids, LOSS_SAMPLE, replace=False)
        m = len(ids)
        if m < 2:
            continue
        s = z[ids].sum(axis=0)
        within = (s @ s - m) / (m * (m - 1))
        ratios.append((1 - within) / max(1 - global_dot, 1e-12))
    return ratios
