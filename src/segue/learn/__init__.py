"""Learning from the library: how a person groups and plays their music, made into how segue hears.

Deej-AI's idea (Track2Vec over playlists, then an audio network that regresses that space),
done for one personal collection:

- :mod:`~segue.learn.contexts`: groups of tracks that belong together, from the store (albums in
  running order, folders, playlist files found by the scan, listening sessions and skips);
- :mod:`~segue.learn.track2vec`: what those contexts say, as a co-occurrence factor (or a
  skip-gram embedding);
- :mod:`~segue.learn.head`: a linear head from the listener's stored vectors (MusiCNN
  embedding and tags) to the learned space, so every track, and any file outside the library,
  is placed from audio alone;
- :mod:`~segue.learn.train`: :func:`learn`, the whole training with its summary;
- :mod:`~segue.learn.model`: the model stored with the library (versioned, atomic, loaded once);
- :mod:`~segue.learn.synthetic`: libraries with a planted structure, for tests and benchmarks.

Layering: above ``library`` (it reads the store) and beside ``listen`` (it reads what the
listener stored, never runs it); ``api`` wires it into the catalogue.
"""

from segue.learn.model import LearnedModel, load_model
from segue.learn.train import LearnSummary, learn

__all__ = ["LearnSummary", "LearnedModel", "learn", "load_model"]
