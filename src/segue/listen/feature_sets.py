"""The vectors a listener stores that can stand for "sounds like": the one table of them.

Each feature set names the stored vectors behind it (model, kind in the store): the neural
embeddings (a track vector pooled from slice vectors, see :mod:`segue.listen.pooling`) and the
mixtape ancestor's classic feature sets, computed by the descriptors alongside MusiCNN.
Classic sets mix units and scales, so users of them standardise each dimension across the
library before comparing (cosine on the neural ones as they are).
"""

from __future__ import annotations

NEURAL = ("musicnn", "deejai")
CLASSIC = ("rp", "ssd", "rh", "timbre")

#: feature set -> (model, kind) of the stored vectors
STORED: dict[str, tuple[str, str]] = {
    "musicnn": ("musicnn", "track"),
    "deejai": ("deejai", "track"),
    **{name: ("musicnn", name) for name in CLASSIC},
}
