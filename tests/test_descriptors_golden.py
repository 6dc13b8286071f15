"""The descriptors and feature sets of one fixed signal against what the code produced before
its speed work (commit 1883f25): the fast paths must keep every stored value.

``data/descriptors_1883f25.npz`` was written by this module's ``__main__`` with that commit's
``src`` first on the path:

    PYTHONPATH=<checkout of 1883f25>/src python tests/test_descriptors_golden.py OUT.npz
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

from descriptor_signals import SR, golden_piece

GOLDEN = Path(__file__).parent / "data" / "descriptors_1883f25.npz"

# what the fast paths may move: float rounding, never a stored decision
FEATURE_REL = 1e-4  # max |new - old| / ||old|| per feature set (rp, ssd, rh, timbre)
ABS = {
    "loudness_lufs": 1e-3, "loudness_range_lu": 1e-3, "replaygain_db": 1e-3,
    "true_peak_dbtp": 1e-3, "bpm": 0.01, "bpm_confidence": 1e-3, "key_confidence": 1e-3,
    "duration": 1e-6, "music_start": 1e-6, "music_end": 1e-6,
    "intro_energy": 0.01, "outro_energy": 0.01,
    "beats": 0.024, "downbeats": 0.024,  # one analysis hop, should a platform round differently
}


def analysed() -> dict[str, np.ndarray]:
    from segue.listen.descriptors import analyse

    desc, feats = analyse(golden_piece(), SR)
    out = {f"feat_{k}": np.asarray(v, np.float64) for k, v in feats.items()}
    for f in dataclasses.fields(desc):
        value = getattr(desc, f.name)
        if isinstance(value, str):
            out[f"desc_{f.name}"] = np.array(value)
        elif value is not None and not isinstance(value, bool):
            out[f"desc_{f.name}"] = np.asarray(value, np.float64)
    return out


def test_descriptors_and_features_equal_the_code_before_the_speed_work() -> None:
    want = np.load(GOLDEN)
    got = analysed()
    features = [k for k in want.files if k.startswith("feat_")]
    assert sorted(features) == ["feat_rh", "feat_rp", "feat_ssd", "feat_timbre"]
    for key in features:
        rel = np.abs(got[key] - want[key]).max() / np.linalg.norm(want[key])
        assert rel <= FEATURE_REL, (key, rel)
    assert str(got["desc_key"]) == str(want["desc_key"]) == "A minor"
    assert str(got["desc_camelot"]) == str(want["desc_camelot"])
    for name, tol in ABS.items():
        old, new = want[f"desc_{name}"], got[f"desc_{name}"]
        assert old.shape == new.shape, name
        np.testing.assert_allclose(new, old, atol=tol, rtol=0, err_msg=name)
    assert float(want["desc_bpm"]) == pytest.approx(124.0, abs=1.0)  # the signal is what we think


if __name__ == "__main__":
    np.savez_compressed(sys.argv[1], **analysed())
