"""Ellis's dynamic-programming beat tracker, in numpy.

D. Ellis, "Beat tracking by dynamic programming", JNMR 36(1), 2007: the beat sequence that
maximises the onset strength at its beats minus a penalty, ``tightness * log(interval /
period)**2``, for every interval that strays from the given tempo's period. This is the
algorithm of ``librosa.beat.beat_track(onset_envelope=..., bpm=..., trim=True)`` (librosa
0.11), step for step and with its edge cases, so the beats are those segue stored when it
called librosa (the tests compare the two on synthetic signals and on the dev corpus).

librosa runs it as numba code compiled on first use and cached on disk beside the package;
processes compiling it at once corrupted that shared cache. Here nothing is compiled:

* the local score (the onset envelope, normalised by its standard deviation, convolved with a
  Gaussian one period wide) is a multiply-add per tap of the window, over the whole envelope;
* the dynamic programme's best predecessor of frame ``i`` lies between ``2 * period`` and
  ``round(period / 2)`` frames back, so the ``round(period / 2)`` frames of a block depend only
  on frames before the block: each block of frames is scored at once against its window of
  candidates (a few hundred small numpy steps per track rather than a Python loop per frame).
"""

from __future__ import annotations

import numpy as np

TIGHTNESS = 400.0


def local_score(onset_env: np.ndarray, period: float) -> np.ndarray:
    """The onset envelope over its standard deviation, convolved ('same') with a Gaussian
    window of ``2 * period + 1`` frames (sigma = period / 32)."""
    x = onset_env / (onset_env.std(ddof=1) + np.finfo(np.float64).tiny)
    window = np.exp(-0.5 * (np.arange(-period, period + 1) * 32.0 / period) ** 2)
    n, k = len(x), len(window)
    # One shifted multiply-add per tap, in librosa's order (tap 0 first), rather than
    # np.convolve: the sums then round exactly as librosa's do, and the dynamic programme meets
    # the same near-ties (two candidate beats a frame apart within 1e-15) with the same numbers.
    # librosa's loop leaves out the envelope's first frame (its index would be 0, the loop stops
    # at 1), hence the zero.
    padded = np.zeros(n + k)
    padded[k // 2 + 2: k // 2 + n + 1] = x[1:]
    out = np.zeros(n)
    for tap in range(k):
        # frame i takes window[tap] * x[i + k // 2 - tap]
        out += window[tap] * padded[k - tap: k - tap + n]
    return out


def best_paths(score: np.ndarray, period: float,
               tightness: float = TIGHTNESS) -> tuple[np.ndarray, np.ndarray]:
    """(backlink, cumulative score) per frame: ``cum[i] = score[i] + max over lag in [round(
    period / 2), 2 * period] of cum[i - lag] - tightness * log(lag / period)**2`` and the frame
    that maximised it (-1 where no earlier frame exists, and before the first frame scoring at
    least 1 % of the maximum). Ties go to the shortest lag, as in librosa's search."""
    n = len(score)
    near, far = max(1, int(np.round(period / 2))), int(2 * period)
    lags = np.arange(near, far + 1)
    penalty = tightness * (np.log(lags) - np.log(period)) ** 2
    cum = np.empty(n)
    backlink = np.full(n, -1, dtype=np.int64)
    # cum behind `far` frames of -inf: row i of `windows` is cum[i - far .. i - near], oldest
    # first; it is read after the frames before the block are final
    padded = np.full(far + n, -np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(padded, far - near + 1)
    head = min(near, n)
    cum[:head] = score[:head]  # no predecessor can exist yet
    padded[far: far + head] = cum[:head]
    for a in range(head, n, near):
        b = min(a + near, n)
        cand = windows[a:b, ::-1] - penalty  # columns by lag, shortest first
        j = np.argmax(cand, axis=1)
        best = cand[np.arange(b - a), j]
        found = np.isfinite(best)
        cum[a:b] = np.where(found, score[a:b] + best, score[a:b])
        backlink[a:b] = np.where(found, np.arange(a, b) - lags[j], -1)
        padded[far + a: far + b] = cum[a:b]
    started = np.flatnonzero(score >= 0.01 * score.max())
    backlink[: started[0] if len(started) else n] = -1
    return backlink, cum


def last_beat(cum: np.ndarray) -> int:
    """The last local maximum of the cumulative score reaching half the median of its local
    maxima (the last frame if there is none)."""
    peak = np.zeros(len(cum), bool)
    if len(cum) > 1:
        peak[1:-1] = (cum[1:-1] > cum[:-2]) & (cum[1:-1] >= cum[2:])
        peak[-1] = cum[-1] > cum[-2]
    if not peak.any():
        return len(cum) - 1
    ok = np.flatnonzero(peak & (cum >= 0.5 * np.median(cum[peak])))
    return int(ok[-1]) if len(ok) else len(cum) - 1


def trim_beats(score: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Drop the beats in the leading and trailing frames whose local score is at most half the
    RMS of the (Hann-smoothed) local score at the beats."""
    w = np.hanning(5)
    smooth = np.convolve(score[beats], w)[len(w) // 2: len(score) + len(w) // 2]
    threshold = 0.5 * np.sqrt(np.mean(smooth**2))
    above = np.flatnonzero(score > threshold)
    if not len(above):
        return beats[:0]
    return beats[(beats >= above[0]) & (beats <= above[-1])]


def beat_frames(onset_env: np.ndarray, fps: float, bpm: float,
                tightness: float = TIGHTNESS) -> np.ndarray:
    """Frame indices of the beats in ``onset_env`` (frames at ``fps``) at tempo ``bpm``: the
    frames of ``librosa.beat.beat_track(onset_envelope=onset_env, sr=sr, hop_length=hop,
    bpm=bpm, tightness=tightness, trim=True)`` with ``fps = sr / hop``."""
    env = np.asarray(onset_env, np.float64)
    if not env.any():
        return np.zeros(0, np.int64)
    if not bpm > 0:
        raise ValueError(f"bpm={bpm} must be positive")
    period = float(np.round(fps * 60.0 / bpm))
    score = local_score(env, period)
    backlink, cum = best_paths(score, period, tightness)
    path = []
    i = last_beat(cum)
    while i >= 0:
        path.append(i)
        i = int(backlink[i])
    return trim_beats(score, np.array(path[::-1], np.int64))
