"""Deej-AI encoder: architecture size, loader for the published format, and an independent forward.

The checkpoint is written by the test itself, with the key names and shapes of the published
``diffusion_pytorch_model.bin`` (teticio/audio-diffusion ``AudioEncoder``) and random values; the
model's output is compared with a small numpy re-implementation that reads those published keys
directly, so a wrong key mapping or a wrong flatten order fails.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from segue.errors import UserError
from segue.listen.models.deejai import (
    MODEL_VERSION,
    N_PARAMETERS,
    DeejAIEncoder,
    count_parameters,
    load_deejai,
)


def published_shapes() -> dict[str, tuple[int, ...]]:
    """Key -> shape of the published AudioEncoder state dict (written out by hand)."""
    shapes: dict[str, tuple[int, ...]] = {}
    chans = [1, 32, 64, 128]
    for i in range(3):
        cin, cout = chans[i], chans[i + 1]
        shapes[f"conv_blocks.{i}.sep_conv.depthwise.weight"] = (cin, 1, 3, 3)
        shapes[f"conv_blocks.{i}.sep_conv.pointwise.weight"] = (cout, cin, 1, 1)
        shapes[f"conv_blocks.{i}.sep_conv.pointwise.bias"] = (cout,)
        for f in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"conv_blocks.{i}.batch_norm.{f}"] = (cout,)
        shapes[f"conv_blocks.{i}.batch_norm.num_batches_tracked"] = ()
    shapes["dense_block.dense.weight"] = (1024, 41472)
    shapes["dense_block.dense.bias"] = (1024,)
    for f in ("weight", "bias", "running_mean", "running_var"):
        shapes[f"dense_block.batch_norm.{f}"] = (1024,)
    shapes["dense_block.batch_norm.num_batches_tracked"] = ()
    shapes["embedding.weight"] = (100, 1024)
    shapes["embedding.bias"] = (100,)
    return shapes


def random_published_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    sd: dict[str, torch.Tensor] = {}
    for key, shape in published_shapes().items():
        if key.endswith("num_batches_tracked"):
            sd[key] = torch.tensor(1234, dtype=torch.long)
        elif key.endswith("running_var"):
            sd[key] = torch.rand(shape, generator=g) * 1.5 + 0.25
        elif key.endswith("running_mean"):
            sd[key] = torch.randn(shape, generator=g) * 0.3
        elif key.endswith("batch_norm.weight"):
            sd[key] = torch.rand(shape, generator=g) + 0.5
        else:
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            sd[key] = torch.randn(shape, generator=g) / np.sqrt(fan_in)
    return sd


# --- independent numpy forward on the published keys -----------------------------------------


def _np(sd, k):
    return sd[k].double().numpy()


def _bn(x, sd, p, axis):
    shape = [1] * x.ndim
    shape[axis] = -1
    g, b = _np(sd, p + ".weight").reshape(shape), _np(sd, p + ".bias").reshape(shape)
    m, v = _np(sd, p + ".running_mean").reshape(shape), _np(sd, p + ".running_var").reshape(shape)
    return (x - m) / np.sqrt(v + 1e-3) * g + b


def _leaky(x):
    return np.where(x > 0, x, 0.2 * x)


def reference_forward(sd, x: np.ndarray) -> np.ndarray:
    """x: (B, 96, 216) -> (B, 100), channels-last like Keras, float64."""
    h = x[..., None].astype(np.float64)  # (B, H, W, C)
    for i in range(3):
        p = f"conv_blocks.{i}"
        dw = _np(sd, p + ".sep_conv.depthwise.weight")[:, 0]  # (C, 3, 3)
        pw = _np(sd, p + ".sep_conv.pointwise.weight")[:, :, 0, 0]  # (O, C)
        B, H, W, C = h.shape
        pad = np.pad(h, ((0, 0), (1, 1), (1, 1), (0, 0)))
        d = np.zeros_like(h)
        for dy in range(3):
            for dx in range(3):
                d += pad[:, dy : dy + H, dx : dx + W, :] * dw[:, dy, dx]
        h = d @ pw.T + _np(sd, p + ".sep_conv.pointwise.bias")
        h = _bn(_leaky(h), sd, p + ".batch_norm", axis=3)
        B, H, W, C = h.shape
        h = h[:, : H // 2 * 2, : W // 2 * 2].reshape(B, H // 2, 2, W // 2, 2, C).max(axis=(2, 4))
    flat = h.reshape(h.shape[0], -1)  # HWC order
    assert flat.shape[1] == 41472
    z = flat @ _np(sd, "dense_block.dense.weight").T + _np(sd, "dense_block.dense.bias")
    z = _bn(_leaky(z), sd, "dense_block.batch_norm", axis=1)
    return z @ _np(sd, "embedding.weight").T + _np(sd, "embedding.bias")


class NotATensor:
    """A picklable object that weights_only loading must refuse."""


# --- tests --------------------------------------------------------------------------------------


def test_parameter_count_matches_keras_summary():
    model = DeejAIEncoder()
    assert count_parameters(model) == N_PARAMETERS == 42_587_213
    # Our state dict has exactly the published shapes, key for key (after the name mapping).
    from segue.listen.models.deejai import PUBLISHED_KEY_MAP

    ours = model.state_dict()
    for key, shape in published_shapes().items():
        assert tuple(ours[PUBLISHED_KEY_MAP[key]].shape) == shape, key
    assert set(PUBLISHED_KEY_MAP.values()) == set(ours)
    assert isinstance(MODEL_VERSION, str) and MODEL_VERSION


def test_forward_shapes_and_input_forms():
    model = DeejAIEncoder().eval()
    x = torch.rand(2, 96, 216)
    with torch.no_grad():
        a = model(x)
        b = model(x[:, None])
    assert a.shape == (2, 100)
    torch.testing.assert_close(a, b)
    with pytest.raises(ValueError):
        model(torch.rand(2, 96, 200))


@pytest.fixture(scope="module")
def published_ckpt(tmp_path_factory):
    sd = random_published_state_dict(seed=7)
    d = tmp_path_factory.mktemp("deejai")
    path = d / "diffusion_pytorch_model.bin"
    torch.save(sd, path)
    return sd, path


def test_loader_matches_independent_forward(published_ckpt):
    sd, path = published_ckpt
    model = load_deejai(path)
    assert not model.training
    rng = np.random.default_rng(3)
    x = rng.random((3, 96, 216), dtype=np.float32)
    # Give the input structure so that a transposed flatten or a swapped kernel would show.
    x[:, :30, :] *= np.linspace(0, 1, 216, dtype=np.float32)
    got = model.embed(x, batch_size=2)
    want = reference_forward(sd, x)
    assert got.shape == (3, 100) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    # Sanity: the outputs are not trivially the same for different inputs.
    assert np.abs(want[0] - want[1]).max() > 1e-2 * np.abs(want).max()
    # A channels-first flatten gives a clearly different answer (the test can tell them apart).
    with torch.no_grad():
        h = torch.from_numpy(x)[:, None]
        for blk in model.blocks:
            h = blk(h)
        z = model.embedding(model.dense_bn(model.dense_act(model.dense(h.flatten(1)))))
    assert np.abs(z.numpy() - want).max() > 1e-2 * np.abs(want).max()


def test_loader_accepts_safetensors_and_directory(published_ckpt, tmp_path):
    from safetensors.torch import save_file

    sd, path = published_ckpt
    st = tmp_path / "diffusion_pytorch_model.safetensors"
    save_file({k: v.contiguous() for k, v in sd.items()}, str(st))
    a = load_deejai(path)
    b = load_deejai(st)
    c = load_deejai(tmp_path)  # directory holding the safetensors file
    x = torch.rand(1, 96, 216)
    with torch.no_grad():
        torch.testing.assert_close(a(x), b(x))
        torch.testing.assert_close(a(x), c(x))


def test_loader_tolerates_missing_num_batches_tracked_and_prefix(published_ckpt, tmp_path):
    sd, _ = published_ckpt
    trimmed = {"model." + k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    p = tmp_path / "lightning.ckpt"
    torch.save({"state_dict": trimmed}, p)
    model = load_deejai(p)
    torch.testing.assert_close(model.embedding.bias, sd["embedding.bias"])


def test_loader_errors_are_one_line_user_errors(published_ckpt, tmp_path):
    # Key checks come before shape checks, so a light dict (tiny dense weight) is enough for
    # the missing/unexpected cases and keeps the test fast.
    sd = dict(published_ckpt[0])
    sd["dense_block.dense.weight"] = torch.zeros(1, 1)

    def check(path, fragment):
        with pytest.raises(UserError) as ei:
            load_deejai(path)
        msg = str(ei.value)
        assert "\n" not in msg and fragment in msg, msg

    check(tmp_path / "nope.bin", "not found")

    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"this is not a checkpoint at all" * 10)
    check(garbage, "cannot read")

    bad_st = tmp_path / "bad.safetensors"
    bad_st.write_bytes(b"\x00\x01garbage")
    check(bad_st, "cannot read")

    missing = dict(sd)
    del missing["conv_blocks.1.sep_conv.pointwise.bias"]
    p = tmp_path / "missing.bin"
    torch.save(missing, p)
    check(p, "missing conv_blocks.1.sep_conv.pointwise.bias")

    wrong = dict(sd)
    wrong["conv_blocks.0.sep_conv.depthwise.weight"] = torch.zeros(32, 1, 3, 3)
    p = tmp_path / "wrong.bin"
    torch.save(wrong, p)
    check(p, "depthwise.weight has shape (32, 1, 3, 3), expected (1, 1, 3, 3)")
    p = tmp_path / "wrong_dense.bin"
    torch.save(sd, p)
    check(p, "dense_block.dense.weight has shape (1, 1), expected (1024, 41472)")

    extra = dict(sd)
    extra["mel.window"] = torch.zeros(3)
    p = tmp_path / "extra.bin"
    torch.save(extra, p)
    check(p, "unexpected mel.window")

    # A pickle that is not a plain state dict is refused by weights_only loading.
    p = tmp_path / "pickled_object.bin"
    torch.save({"x": NotATensor()}, p)
    check(p, "cannot read")

    empty = tmp_path / "empty"
    empty.mkdir()
    check(empty, "no diffusion_pytorch_model")
