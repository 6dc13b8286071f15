"""The PyTorch MusiCNN port and its numpy front end against the musicnn 0.1.0 golden fixtures.

Fixtures live in ``shared/fixtures/musicnn`` beside the repository (see its README for what
each array is and for the tolerances used here). The network tests need the musicnn wheel from
the package index once; later runs use the safetensors cache (``$SEGUE_CACHE``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from segue.audio.model_frontends import (
    hann_periodic,
    musicnn_logmel,
    musicnn_mel_power,
    musicnn_patches,
    slaney_mel_filterbank,
)

FIXTURES = Path(__file__).resolve().parents[1] / ".." / "shared" / "fixtures" / "musicnn"
CASES = ["synthetic", "asc_frontiers", "asc_machine_wars", "asc_time_to_strike"]
MODELS = ["MSD_musicnn", "MTT_musicnn"]
# README "Tolerances to expect (float32 port)"
ATOL = {"taggram": 1e-4, "logits": 1e-3, "penultimate": 1e-3, "mean_pool": 1e-3, "max_pool": 5e-3}

pytestmark = pytest.mark.skipif(
    not (FIXTURES / "synthetic.npz").is_file(),
    reason=f"musicnn fixtures not found at {FIXTURES.resolve()} (clone shared/ beside the repo)",
)


def fixture(case: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / f"{case}.npz") as f:
        return dict(f)


def assert_outputs_close(
    got: dict[str, np.ndarray], ref: dict[str, np.ndarray], model: str
) -> None:
    for key, atol in ATOL.items():
        want = ref[f"{model}__{key}"]
        assert got[key].shape == want.shape, key
        diff = np.abs(got[key] - want)
        # max_pool: atol 5e-3 or rtol 1e-4 (its values reach ~130); the others: atol only
        rtol = 1e-4 if key == "max_pool" else 0.0
        ok = (diff <= atol) | (diff <= rtol * np.abs(want))
        assert ok.all(), f"{model} {key}: max |diff| {diff.max():.3g} > {atol}"


# ---- preprocessing --------------------------------------------------------------------------
def test_filterbank_and_window_match_reference() -> None:
    with np.load(FIXTURES / "preprocessing_reference.npz") as ref:
        np.testing.assert_allclose(
            slaney_mel_filterbank(16000, 512, 96), ref["mel_basis"], atol=1e-8
        )
        np.testing.assert_allclose(hann_periodic(512), ref["window"], atol=1e-7)


@pytest.mark.parametrize("case", CASES)
def test_mel_power_and_logmel(case: str) -> None:
    d = fixture(case)
    mel = musicnn_mel_power(d["waveform"])
    assert mel.dtype == np.float32 and mel.shape == d["mel_power"].shape
    assert mel.shape[0] == 1 + d["waveform"].size // 256
    np.testing.assert_allclose(mel, d["mel_power"], rtol=1e-4, atol=0)
    logmel = musicnn_logmel(d["waveform"])
    assert logmel.dtype == np.float32
    diff = np.abs(logmel - d["logmel"])
    assert diff.max() <= 5e-4
    assert (diff > 0).mean() <= 1e-3  # float16 rounding flips only


@pytest.mark.parametrize("case", CASES)
def test_patches_match(case: str) -> None:
    d = fixture(case)
    patches = musicnn_patches(d["logmel"])
    assert patches.dtype == np.float32 and patches.flags.writeable
    np.testing.assert_array_equal(patches, d["patches"])
    assert patches.shape[0] == d["patch_starts"].size


def test_reflect_padding_matters() -> None:
    # The fixtures must catch the librosa>=0.10 zero-padding mistake (only frames 0 and T-1 move).
    d = fixture("synthetic")
    import segue.audio.model_frontends as sp

    zero_padded = (
        sp.power_spectrogram(d["waveform"], 512, 256, "constant")
        @ sp.slaney_mel_filterbank(16000, 512, 96).T
    )
    rel = np.abs(zero_padded - d["mel_power"]) / d["mel_power"]
    assert rel[[0, -1]].max() > 1e-2 and rel[1:-1].max() < 1e-4


def test_patches_hop_and_short_clips() -> None:
    rng = np.random.default_rng(0)
    seq = rng.random((400, 96), dtype=np.float32)
    assert musicnn_patches(seq).shape == (2, 187, 96)  # 400 -> starts 0, 187; tail dropped
    assert musicnn_patches(seq[:373]).shape == (1, 187, 96)
    assert musicnn_patches(seq[:374]).shape == (2, 187, 96)
    over = musicnn_patches(seq, hop=61)
    assert over.shape == (4, 187, 96)  # starts 0, 61, 122, 183 (<= 400 - 187)
    np.testing.assert_array_equal(over[3], seq[183:370])
    short = musicnn_patches(seq[:50])  # shorter than one patch: one repeat-padded patch
    assert short.shape == (1, 187, 96)
    np.testing.assert_array_equal(short[0, :50], seq[:50])
    np.testing.assert_array_equal(short[0, 50:100], seq[:50])
    np.testing.assert_array_equal(short[0, 150:187], seq[:37])
    assert musicnn_patches(musicnn_logmel(np.zeros(1000, np.float32))).shape == (1, 187, 96)
    with pytest.raises(ValueError):
        musicnn_patches(seq[:, :95])


# ---- network --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def models() -> dict[str, torch.nn.Module]:
    from segue.listen.models.musicnn import load_musicnn
    from segue.listen.weights import WeightsError

    try:
        return {name: load_musicnn(name, device="cpu") for name in MODELS}
    except WeightsError as e:
        pytest.skip(f"musicnn weights not available: {e}")


def run(model: torch.nn.Module, patches: np.ndarray) -> dict[str, np.ndarray]:
    with torch.inference_mode():
        out = model(torch.from_numpy(patches))
    return {k: v.numpy() for k, v in out._asdict().items()}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("model", MODELS)
def test_network_from_patches(models: dict, model: str, case: str) -> None:
    d = fixture(case)
    assert_outputs_close(run(models[model], d["patches"]), d, model)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("model", MODELS)
def test_end_to_end_from_waveform(models: dict, model: str, case: str) -> None:
    d = fixture(case)
    patches = musicnn_patches(musicnn_logmel(d["waveform"]))
    assert patches.shape == d["patches"].shape
    assert_outputs_close(run(models[model], patches), d, model)


@pytest.mark.parametrize("model", MODELS)
def test_intermediate_activations_patch0(models: dict, model: str) -> None:
    d = fixture("synthetic")
    with torch.inference_mode():
        got = models[model].intermediates(torch.from_numpy(d["patches"][:1]))
    for key in ("timbral", "temporal", "cnn1", "cnn2", "cnn3"):
        want = d[f"{model}__{key}_patch0"].reshape(187, -1)
        np.testing.assert_allclose(got[key][0].numpy(), want, atol=2e-3, rtol=1e-4, err_msg=key)


def test_batching_is_consistent(models: dict) -> None:
    d = fixture("asc_frontiers")
    model = models["MSD_musicnn"]
    batched = run(model, d["patches"])
    single = [run(model, d["patches"][i : i + 1]) for i in range(d["patches"].shape[0])]
    for key in ATOL:
        np.testing.assert_allclose(
            np.concatenate([s[key] for s in single]), batched[key], atol=1e-4
        )


def test_tags_and_top_tags(models: dict) -> None:
    d = fixture("asc_frontiers")
    for name, want in (("MSD_musicnn", "electronic"), ("MTT_musicnn", "techno")):
        model = models[name]
        assert len(model.tags) == 50 and len(set(model.tags)) == 50
        mean = run(model, d["patches"])["taggram"].mean(axis=0)
        top = [model.tags[i] for i in np.argsort(-mean)[:4]]
        assert want in top, top


def test_same_padding_split_matters(models: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    # Negative control: the fixtures detect the TF 'same' padding split done the wrong way round.
    import torch.nn.functional as F

    import segue.listen.models.musicnn as mnn

    real_pad = F.pad

    def swapped(x, pad, *args, **kwargs):  # (0, 0, before, after) -> (0, 0, after, before)
        if len(pad) == 4 and pad[2] != pad[3]:
            pad = (pad[0], pad[1], pad[3], pad[2])
        return real_pad(x, pad, *args, **kwargs)

    monkeypatch.setattr(mnn.F, "pad", swapped)
    d = fixture("synthetic")
    got = run(models["MSD_musicnn"], d["patches"])
    assert np.abs(got["taggram"] - d["MSD_musicnn__taggram"]).max() > ATOL["taggram"]


# ---- int8 front end --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def int8_models(models: dict) -> dict[str, torch.nn.Module]:
    from segue.listen.models.musicnn import int8_available, load_musicnn

    if not int8_available():
        pytest.skip("this torch/CPU has no oneDNN int8 convolution (int8 runs on x86 only)")
    return {name: load_musicnn(name, device="cpu", precision="int8") for name in MODELS}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("model", MODELS)
def test_int8_stays_close_to_the_original_model(int8_models: dict, model: str, case: str) -> None:
    # Against the TensorFlow outputs themselves: what the int8 front end costs in fidelity.
    d = fixture(case)
    got = run(int8_models[model], d["patches"])
    want = d[f"{model}__penultimate"]
    cos = np.sum(got["penultimate"] * want, axis=1) / (
        np.linalg.norm(got["penultimate"], axis=1) * np.linalg.norm(want, axis=1)
    )
    assert cos.min() > 0.998, cos.min()
    track = got["penultimate"].mean(axis=0) @ want.mean(axis=0) / (
        np.linalg.norm(got["penultimate"].mean(axis=0)) * np.linalg.norm(want.mean(axis=0))
    )
    assert track > 0.999, track
    tags = np.abs(got["taggram"] - d[f"{model}__taggram"])
    assert tags.max() < 0.03 and tags.mean() < 2e-3, (tags.max(), tags.mean())


def test_int8_branch_is_an_exact_integer_convolution(models: dict) -> None:
    # The oneDNN call must equal a float conv of the dequantised input and weights: this checks
    # the packing (which is given a dummy input scale), the scale and zero point, the batching
    # in steps and the channels-last max over mel.
    import torch.nn.functional as F

    from segue.listen.models import musicnn as mnn

    if not mnn.int8_available():
        pytest.skip("this torch/CPU has no oneDNN int8 convolution (int8 runs on x86 only)")
    model = models["MSD_musicnn"]
    patches = np.concatenate([fixture("asc_frontiers")["patches"], fixture("synthetic")["patches"]])
    x = torch.from_numpy(patches[:6]).unsqueeze(1)  # 6: the temporal branch's steps of 4 + 2
    x = F.pad(x * 0.5 - 1.0, (0, 0, 3, 3))  # values of both signs, like the BN'd input
    q, x_scale, x_zero = mnn._quantize(x, -1.5, 2.5)
    assert q.dtype == torch.uint8 and int(q.min()) < x_zero < int(q.max())
    dq = (q.float() - x_zero) * x_scale
    assert float((dq - x).abs().max()) <= x_scale / 2 + 1e-6  # nothing clipped in this range
    for conv, bn, step in ((model.timbral_convs[0], model.timbral_bns[0], 1),
                           (model.temporal_convs[2], model.temporal_bns[2], 4)):  # fmt: skip
        branch = mnn._Int8ConvMaxOverMel(conv, bn, step, torch.float32)
        with torch.inference_mode():
            got = branch(q, x_scale, x_zero)
            w = branch.w_scale.view(-1, 1, 1, 1) * torch.round(
                conv.weight * branch.flip.sign.view(-1, 1, 1, 1) / branch.w_scale.view(-1, 1, 1, 1))
            ref = torch.nn.Conv2d(1, w.shape[0], tuple(w.shape[2:]))
            ref.weight.copy_(w * branch.flip.sign.view(-1, 1, 1, 1))  # the reference flips it back
            ref.bias.copy_(conv.bias)
            want = mnn._conv_relu_bn_max_over_mel(dq, ref, bn)
        assert got.shape == want.shape == (6, w.shape[0], x.shape[2] - w.shape[2] + 1)
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-4, rtol=1e-5)
        if mnn.int8_output_dtype() != torch.bfloat16:
            continue  # this CPU stores float32: the check above is the shipped path
        # a bfloat16 store rounds the peak before the BN finish (scale * peak + shift): at most
        # half a unit in the 8th significant bit of the peak, nothing more
        with torch.inference_mode():
            got_bf16 = mnn._Int8ConvMaxOverMel(conv, bn, step, torch.bfloat16)(q, x_scale, x_zero)
        scale = branch.flip.scale.abs()[:, None].numpy()
        peak = (got.numpy() - branch.flip.shift[:, None].numpy()) / scale
        err = np.abs(got_bf16.numpy() - got.numpy())
        assert np.all(err <= scale * np.abs(peak) * 2.0**-8 + 1e-5), err.max()
        assert err.max() > 0  # it did round: the stored map really was bfloat16


def test_int8_input_range_holds_every_log_mel() -> None:
    from segue.listen.models.musicnn import LOGMEL_MAX

    sr = 16000
    t = np.arange(3 * sr) / sr
    square = np.sign(np.sin(2 * np.pi * 100 * t)).astype(np.float32)  # the loudest spectrum
    assert musicnn_logmel(square).max() < LOGMEL_MAX
    assert musicnn_logmel(np.zeros(sr, np.float32)).min() >= 0.0


def test_int8_patches_do_not_depend_on_their_batch(int8_models: dict) -> None:
    d = fixture("asc_machine_wars")
    model = int8_models["MSD_musicnn"]
    batched = run(model, d["patches"])
    single = np.concatenate([run(model, d["patches"][i : i + 1])["penultimate"]
                             for i in range(len(d["patches"]))])  # fmt: skip
    np.testing.assert_allclose(single, batched["penultimate"], atol=1e-4)


def test_precision_choice() -> None:
    from segue.listen.models.musicnn import int8_available, resolve_precision

    assert resolve_precision("auto", "cpu") == ("int8" if int8_available() else "fp32")
    assert resolve_precision("auto", "cuda") == "fp32"
    assert resolve_precision("fp32", "cpu") == "fp32"
    with pytest.raises(ValueError, match="int8"):
        resolve_precision("int8", "cuda")
    with pytest.raises(ValueError, match="unknown precision"):
        resolve_precision("fp16", "cpu")


# ---- weights cache --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from segue.listen.weights import WeightsError, download_musicnn_wheel

    try:
        return download_musicnn_wheel(tmp_path_factory.mktemp("wheel"))
    except WeightsError as e:
        pytest.skip(f"musicnn wheel not available (package index unreachable?): {e}")


def test_weights_cache_is_reused(
    wheel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from segue.listen import weights

    monkeypatch.setenv("SEGUE_CACHE", str(tmp_path / "cache"))
    calls = []

    def fake_download(dest: Path) -> Path:  # stands in for pip, counts fetches
        calls.append(dest)
        return Path(shutil.copy(wheel, dest / weights.MUSICNN_WHEEL))

    monkeypatch.setattr(weights, "download_musicnn_wheel", fake_download)
    first = weights.load_musicnn_weights("MSD_musicnn")
    path = weights.musicnn_weights_path("MSD_musicnn")
    assert path == tmp_path / "cache" / "models" / "musicnn-0.1.0-MSD_musicnn.safetensors"
    assert path.is_file() and len(calls) == 1
    assert weights.musicnn_weights_path("MTT_musicnn").is_file()  # one download converts both
    assert not any(k.endswith(("Adam", "Adam_1", "_power")) for k in first)
    assert sum(v.size for v in first.values()) == 792_079
    stat = path.stat()
    second = weights.load_musicnn_weights("MSD_musicnn")
    weights.load_musicnn_weights("MTT_musicnn")
    assert len(calls) == 1
    assert path.stat().st_mtime_ns == stat.st_mtime_ns and path.stat().st_ino == stat.st_ino
    assert all(np.array_equal(first[k], second[k]) for k in first)
    assert not list(path.parent.glob("*.tmp"))  # the atomic write left nothing behind

    path.write_bytes(path.read_bytes()[:1000])  # a truncated cache file is rebuilt
    weights.load_musicnn_weights("MSD_musicnn")
    assert len(calls) == 2 and path.stat().st_size == stat.st_size


def test_import_wheel_and_bad_checksum(
    wheel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from segue.listen import weights

    monkeypatch.setenv("SEGUE_CACHE", str(tmp_path / "cache"))
    written = weights.import_wheel(wheel)
    assert [p.name for p in written] == [
        "musicnn-0.1.0-MSD_musicnn.safetensors",
        "musicnn-0.1.0-MTT_musicnn.safetensors",
    ]
    fake = tmp_path / weights.MUSICNN_WHEEL
    data = bytearray(wheel.read_bytes())
    data[-100] ^= 1
    fake.write_bytes(bytes(data))
    with pytest.raises(weights.WeightsError, match="sha256") as err:
        weights.import_wheel(fake)
    assert "\n" not in str(err.value)
    with pytest.raises(weights.WeightsError, match="no such file"):
        weights.import_wheel(tmp_path / "missing.whl")


def test_no_package_index_gives_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from segue.listen import weights

    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    monkeypatch.setenv("SEGUE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(weights.WeightsError, match="could not download musicnn==0.1.0") as err:
        weights.load_musicnn_weights("MTT_musicnn")
    assert "\n" not in str(err.value) and "segue models import" in str(err.value)
