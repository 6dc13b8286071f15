"""The listening pipeline: decoded audio -> MusiCNN vectors, tags and descriptors.

It rides along a scan as its :class:`~segue.library.scan.AnalysisHook`:

- ``prepare`` runs in the scan's worker processes on the audio the scan just decoded (once, at
  16 kHz for MusiCNN and 22.05 kHz for the descriptors): log-mel patches and the DSP
  descriptors;
- ``analyse`` runs both MusiCNN networks (MSD and MTT) and pools their outputs into the rows to
  store: by default in the same worker, which loads the models once (one thread per worker, one
  worker per core); with CUDA, in the scanning process on batches of patches from every worker
  (see :mod:`segue.listen.batching`). The scan writes the rows; nothing here touches the
  database.

What is kept per track (model ``musicnn``, see :data:`PIPELINE_VERSION`):

- ``patches``: per-patch penultimate embeddings, float16 ``(P, 200)`` (about 12 KB for 90 s),
  enough to re-pool later (TF-IDF, other windows) without decoding again;
- ``track``: the mean penultimate embedding (the default track vector), float32 ``(200,)``;
- ``intro`` / ``outro``: the same, over the first and last ~15 s of *music* (silence trimmed);
- ``midend``: the mean of the mid-end mean-pool (753) — a candidate vector for the evaluation;
- ``tags_msd`` / ``tags_mtt``: mean tag probabilities of the two models, 50 each;
- the descriptor feature sets (``rp``, ``ssd``, ``rh``, ``timbre``) and the descriptors JSON.

A track shorter than one 3 s patch is padded (repeated), not dropped; silent or undecodable
audio gets an error row, never a crash.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from segue.audio.model_frontends import musicnn_logmel, musicnn_patches
from segue.errors import DecodeError, UserError
from segue.library.scan import Analysis
from segue.listen.batching import BatchingHook
from segue.listen.pooling import edge_windows, pool_track

MODEL = "musicnn"
# p4: MTT's every-other-patch choice counted per track; in p3 it ran over the scan's batch, so
# a track's tag averages took in a neighbour's patch and moved with the batching (up to 0.1)
PIPELINE_VERSION = "musicnn-0.1.0+p4"
MUSICNN_RATE = 16000
DESCRIPTOR_RATE = 22050
PATCH_SECONDS = 187 * 256 / MUSICNN_RATE
#: Patch subsampling at analysis (1 = every patch); chosen by the evaluation, see BENCHMARKS.md.
PATCH_STRIDE = 2
SILENCE_RMS = 1e-4


@dataclass
class Prepared:
    """The model-free part of one track's analysis (picklable: central inference gets it)."""

    patches: np.ndarray
    #: Which of the track's patches ``patches`` holds (all of them unless the hook subsamples).
    positions: np.ndarray | None = None
    n_patches: int = 0  # patches in the whole track, analysed or not
    music_start: float = 0.0
    music_end: float | None = None
    descriptors: dict[str, Any] | None = None
    features: dict[str, np.ndarray] = field(default_factory=dict)


def prepare_audio(audio: dict[int, np.ndarray], descriptors: bool = True) -> Prepared:
    """Everything that does not need a model, from audio decoded at 16 and 22.05 kHz."""
    mono16 = audio[MUSICNN_RATE].mean(axis=0)
    if mono16.size == 0 or not np.isfinite(mono16).all():
        raise DecodeError("no usable audio")
    if float(np.sqrt(np.mean(mono16.astype(np.float64) ** 2))) < SILENCE_RMS:
        raise DecodeError("silent audio")
    prepared = Prepared(patches=musicnn_patches(musicnn_logmel(mono16)))
    prepared.music_end = mono16.size / MUSICNN_RATE
    if descriptors and DESCRIPTOR_RATE in audio:
        from segue.listen.descriptors import analyse

        desc, features = analyse(audio[DESCRIPTOR_RATE], DESCRIPTOR_RATE)  # one STFT for both
        prepared.descriptors = desc.to_dict()
        prepared.features = {k: np.asarray(v, dtype=np.float32) for k, v in features.items()}
        if desc.music_start is not None and np.isfinite(desc.music_start):
            prepared.music_start = float(desc.music_start)
        if desc.music_end is not None and np.isfinite(desc.music_end):
            prepared.music_end = float(desc.music_end)
    return prepared


def every_other_patch(track_lengths: Sequence[int]) -> np.ndarray:
    """Mask over tracks' patches laid end to end: each track's 1st, 3rd, 5th... patch."""
    if not track_lengths:
        return np.zeros(0, bool)
    return np.concatenate([np.arange(n) % 2 == 0 for n in track_lengths])


def analysed_patches(n_patches: int, music_start: float, music_end: float, stride: int) -> np.ndarray:
    """Indices of the patches the networks see with patch subsampling ``stride``.

    Every ``stride``-th patch (centred in the track) for the track vector; in the intro and
    outro windows every ``min(stride, 2)``-th patch on the same grid, plus the window's outer
    patch (the first of the music, the last), so the transition vectors never rest on one patch
    and always see the very start and end. At stride 2 the edges then cost one extra patch per
    track, not three.
    """
    if stride <= 1 or n_patches <= stride:
        return np.arange(n_patches)
    offset = (n_patches % stride) // 2
    keep = set(range(offset, n_patches, stride))
    edge = min(stride, 2)
    intro, outro = edge_windows(n_patches, PATCH_SECONDS, music_start, music_end)
    for window in (intro, outro):
        keep.update(p for p in range(window.start, window.stop) if (p - offset) % edge == 0)
    keep.update((intro.start, outro.stop - 1))
    return np.array(sorted(keep))


class ListeningHook(BatchingHook):
    """The :class:`~segue.library.scan.AnalysisHook` that turns decoded audio into vectors."""

    model = MODEL
    version = PIPELINE_VERSION
    decode_rates = (DESCRIPTOR_RATE, MUSICNN_RATE)
    _main_only = ("_models",)

    def __init__(self, device: str | None = None, batch_patches: int = 128, descriptors: bool = True,
                 patch_stride: int = PATCH_STRIDE, precision: str = "auto",
                 inference: str = "auto") -> None:  # fmt: skip
        super().__init__(batch_patches, device, inference)
        #: MusiCNN's front-end precision (``auto``: int8 on x86 CPUs, see models.musicnn)
        self.precision = precision
        self.patch_stride = patch_stride
        self.descriptors = descriptors
        self._models: tuple[Any, Any] | None = None

    def setup(self) -> None:
        """Before a scan's workers start (only when there are files to read): refuse a precision
        this machine cannot run, fetch the weights once (not once per worker), and compile the
        """
        super().setup()
        from segue.listen.weights import MUSICNN_MODELS, load_musicnn_weights

        if self.precision != "auto":
            from segue.listen.models.musicnn import resolve_precision

            try:
                resolve_precision(self.precision, self.device or ("cuda" if self.central else "cpu"))
            except ValueError as exc:
                raise UserError(str(exc)) from None
        for name in MUSICNN_MODELS:
            load_musicnn_weights(name)

    def load_models(self) -> None:
        """Load (downloading on first use) both MusiCNN models; raises a UserError if it can't."""
        if self._models is None:
            from segue.listen.models.musicnn import load_musicnn

            try:
                self._models = (
                    load_musicnn("MSD_musicnn", self.device, self.precision),
                    load_musicnn("MTT_musicnn", self.device, self.precision),
                )
            except ValueError as exc:  # a precision this machine cannot run
                raise UserError(str(exc)) from None

    def prepare(self, audio: dict[int, np.ndarray]) -> Prepared:
        prepared = prepare_audio(audio, self.descriptors)
        n = prepared.n_patches = len(prepared.patches)
        keep = analysed_patches(n, prepared.music_start, prepared.music_end or 0.0, self.patch_stride)
        if len(keep) < n:
            prepared.patches = prepared.patches[keep]
            prepared.positions = keep
        return prepared

    def slices(self, prepared: Prepared) -> int:
        return len(prepared.patches)

    def analyse(self, prepared: Sequence[Prepared]) -> list[Analysis]:
        """Both networks on the patches of ``prepared`` tracks at once, pooled per track."""
        per_patch = self.embed(
            np.concatenate([p.patches for p in prepared]), [len(p.patches) for p in prepared]
        )
        out, offset = [], 0
        for p in prepared:
            n = len(p.patches)
            mine = {k: v[offset : offset + n] for k, v in per_patch.items()}
            offset += n
            out.append(Analysis(self.track_vectors(p, mine), p.descriptors))
        return out

    def embed(self, patches: np.ndarray, track_lengths: Sequence[int] | None = None) -> dict[str, np.ndarray]:
        """Per-patch outputs of both models for ``(P, 187, 96)`` patches, the patches of the
        tracks of ``track_lengths`` one after another (default: all of one track)."""
        import torch

        self.load_models()
        msd, mtt = self._models
        device = next(msd.parameters()).device
        # MTT serves only the tag averages: every 2nd patch of each track, each result standing
        # for its pair, halves its cost without touching the similarity vectors. The pairs are
        # counted per track so a track's tags never depend on the tracks batched with it.
        mtt_rows = every_other_patch([len(patches)] if track_lengths is None else track_lengths)
        if len(mtt_rows) != len(patches):
            raise ValueError(f"track lengths add up to {len(mtt_rows)}, not {len(patches)} patches")
        outs: dict[str, list[np.ndarray]] = {"penultimate": [], "mean_pool": [], "tags_msd": []}
        mtt_tags = []
        with torch.inference_mode():
            for start in range(0, len(patches), 256):
                x = torch.from_numpy(np.ascontiguousarray(patches[start : start + 256])).to(device)
                a = msd(x)
                outs["penultimate"].append(a.penultimate.float().cpu().numpy())
                outs["mean_pool"].append(a.mean_pool.float().cpu().numpy())
                outs["tags_msd"].append(a.taggram.float().cpu().numpy())
            picked = np.flatnonzero(mtt_rows)
            for start in range(0, len(picked), 256):
                rows = picked[start : start + 256]
                x = torch.from_numpy(np.ascontiguousarray(patches[rows])).to(device)
                mtt_tags.append(mtt(x).taggram.float().cpu().numpy())
        result = {k: np.concatenate(v) for k, v in outs.items()}
        tags = np.concatenate(mtt_tags) if mtt_tags else np.zeros((0, len(mtt.tags)), np.float32)
        # each patch takes the tags of the last MTT patch at or before it: its own track's
        result["tags_mtt"] = tags[np.cumsum(mtt_rows) - 1]
        return result

    def track_vectors(self, prepared: Prepared, per_patch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The arrays stored for one track, from its per-patch model outputs."""
        pen = per_patch["penultimate"]
        n_total = prepared.n_patches or len(pen)
        body = None
        if prepared.positions is not None:  # the evenly spaced patches, not the extra edge ones
            stride = self.patch_stride
            offset = (n_total % stride) // 2 if stride > 1 else 0
            body = (prepared.positions - offset) % stride == 0
        vectors = {
            "patches": pen.astype(np.float16),
            **pool_track(pen, PATCH_SECONDS, positions=prepared.positions, n_slices=n_total,
                         music_start=prepared.music_start, music_end=prepared.music_end or 0.0,
                         body=body),  # fmt: skip
            "midend": per_patch["mean_pool"].mean(axis=0).astype(np.float16),
            "tags_msd": per_patch["tags_msd"].mean(axis=0).astype(np.float32),
            "tags_mtt": per_patch["tags_mtt"].mean(axis=0).astype(np.float32),
        }
        vectors.update(prepared.features)
        return vectors


#: Audio outside the library (a seed file, an upload, the microphone) is heard over at most this
#: many seconds, from the middle of what its header declares (the whole of anything shorter):
#: a track's character is there, and a 10-hour file costs what a 3-minute one does.
OUTSIDE_WINDOW_SECONDS = 180.0


def outside_audio(path: str) -> dict[int, np.ndarray]:
    """The window of ``path`` the listener hears, decoded at MusiCNN's rate ``{16000: (ch, n)}``;
    only that window is ever decoded, packet by packet, so memory stays bounded whatever the
    file's length."""
    from segue.audio.decode import declared_duration, decode

    length = declared_duration(path)
    start = (length - OUTSIDE_WINDOW_SECONDS) / 2 if length and length > OUTSIDE_WINDOW_SECONDS else 0.0
    audio = decode(path, MUSICNN_RATE, start=start, duration=OUTSIDE_WINDOW_SECONDS, mono=False)
    return {MUSICNN_RATE: audio}


def analyse_file(path: str, hook: ListeningHook | None = None) -> dict[str, np.ndarray]:
    """Vectors of an audio file outside the library (a dropped-in seed), computed on the fly
    from its middle :data:`OUTSIDE_WINDOW_SECONDS` (see :func:`outside_audio`).

    Nothing is stored; the same preprocessing and models as a scan.
    """
    hook = hook or ListeningHook(descriptors=False)
    prepared = hook.prepare(outside_audio(path))
    return hook.track_vectors(prepared, hook.embed(prepared.patches))


_OUTSIDE: ListeningHook | None = None
#: Guards the shared outside pipeline: its creation, and each analysis through it (the web
#: calls in from a thread pool; one model, one inference at a time).
_OUTSIDE_LOCK = threading.Lock()


def outside_listener() -> ListeningHook:
    """The process-wide MusiCNN pipeline for audio outside the library (a seed file, an upload,
    the microphone), models loaded on first use and then kept."""
    global _OUTSIDE
    with _OUTSIDE_LOCK:
        if _OUTSIDE is None:
            hook = ListeningHook(descriptors=False)
            hook.load_models()
            _OUTSIDE = hook
        return _OUTSIDE


def analyse_outside(path: str) -> dict[str, np.ndarray]:
    """:func:`analyse_file` through :func:`outside_listener`, one analysis at a time per process."""
    hook = outside_listener()
    with _OUTSIDE_LOCK:
        return analyse_file(path, hook)
