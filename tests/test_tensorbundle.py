"""TensorBundle reader: CRC32C, a hand-built bundle, the real musicnn checkpoints, corruption."""

from __future__ import annotations

import re
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from segue.listen import tensorbundle as tb
from segue.listen.tensorbundle import CheckpointError, crc32c, masked_crc32c, read_checkpoint

FIXTURES = Path(__file__).resolve().parents[1] / ".." / "shared" / "fixtures" / "musicnn"


# ---- CRC32C ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", 0x00000000),
        (b"123456789", 0xE3069283),  # the standard check value
        (bytes(32), 0x8A9136AA),  # RFC 3720 B.4 test vectors
        (b"\xff" * 32, 0x62A8AB43),
        (bytes(range(32)), 0x46DD794E),
        (bytes(range(31, -1, -1)), 0x113FDB5C),
    ],
)
def test_crc32c_known_values(data: bytes, expected: int) -> None:
    assert crc32c(data) == expected


@pytest.mark.parametrize("size", [tb._VECTOR_MIN, tb._VECTOR_MIN + 1, 100_003, 1 << 20])
def test_crc32c_vectorised_equals_bytewise(size: int) -> None:
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    assert crc32c(data) == tb._update_scalar(0xFFFFFFFF, data) ^ 0xFFFFFFFF


def test_masked_crc32c() -> None:
    c = crc32c(b"foo")
    assert masked_crc32c(b"foo") == ((((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF)


# ---- a minimal bundle writer (LevelDB table + protobuf), independent of the reader ------------
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field_varint(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _field_bytes(number: int, value: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def _block(entries: list[tuple[bytes, bytes]], restart_interval: int = 2) -> bytes:
    out = bytearray()
    restarts = []
    prev = b""
    for i, (key, value) in enumerate(entries):
        if i % restart_interval == 0:
            restarts.append(len(out))
            shared = 0
        else:
            shared = 0
            while shared < min(len(prev), len(key)) and prev[shared] == key[shared]:
                shared += 1
        out += _varint(shared) + _varint(len(key) - shared) + _varint(len(value))
        out += key[shared:] + value
        prev = key
    for r in restarts:
        out += struct.pack("<I", r)
    out += struct.pack("<I", len(restarts))
    return bytes(out)


def _with_trailer(block: bytes) -> bytes:
    return block + b"\x00" + struct.pack("<I", masked_crc32c(block + b"\x00"))


def make_bundle(tensors: dict[str, np.ndarray], block_entries: int = 3) -> tuple[bytes, bytes]:
    """(index bytes, data bytes) of a one-shard bundle holding ``tensors``."""
    dtypes = {np.dtype("<f4"): 1, np.dtype("<f8"): 2, np.dtype("<i4"): 3, np.dtype("<i8"): 9}
    data = bytearray()
    items = [(b"", _field_varint(1, 1) + _field_bytes(3, _field_varint(1, 1)))]
    for name in sorted(tensors):
        arr = np.asarray(tensors[name])  # (ascontiguousarray would make 0-d arrays 1-d)
        raw = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        shape = b"".join(_field_bytes(2, _field_varint(1, d)) for d in arr.shape)
        entry = _field_varint(1, dtypes[arr.dtype]) + _field_bytes(2, shape)
        entry += _field_varint(4, len(data)) if data else b""
        entry += _field_varint(5, len(raw)) + _varint(6 << 3 | 5)
        entry += struct.pack("<I", masked_crc32c(raw))
        items.append((name.encode(), entry))
        data += raw
    table = bytearray()
    index_entries = []
    for start in range(0, len(items), block_entries):
        chunk = items[start : start + block_entries]
        block = _block(chunk)
        index_entries.append((chunk[-1][0], _varint(len(table)) + _varint(len(block))))
        table += _with_trailer(block)
    meta = _block([])
    meta_handle = _varint(len(table)) + _varint(len(meta))
    table += _with_trailer(meta)
    index = _block(index_entries, restart_interval=1)
    index_handle = _varint(len(table)) + _varint(len(index))
    table += _with_trailer(index)
    footer = meta_handle + index_handle
    footer += bytes(40 - len(footer)) + struct.pack("<Q", 0xDB4775248B80FB57)
    return bytes(table + footer), bytes(data)


def _tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        "conv2d/kernel": rng.standard_normal((7, 38, 1, 4)).astype(np.float32),
        "conv2d/bias": rng.standard_normal(4).astype(np.float32),
        "conv2d_1/kernel": rng.standard_normal((3, 3)).astype(np.float64),
        "global_step": np.array(1234, dtype=np.int64),
        "counts": np.arange(100_000, dtype=np.int32),  # large enough for the vectorised CRC
        "empty": np.zeros((0, 3), dtype=np.float32),
    }


def test_reads_hand_built_bundle(tmp_path: Path) -> None:
    tensors = _tensors()
    index, data = make_bundle(tensors)
    (tmp_path / "ckpt.index").write_bytes(index)
    (tmp_path / "ckpt.data-00000-of-00001").write_bytes(data)
    got = read_checkpoint(tmp_path / "ckpt")
    assert set(got) == set(tensors)
    for name, arr in tensors.items():
        assert got[name].dtype == arr.dtype and got[name].shape == arr.shape, name
        np.testing.assert_array_equal(got[name], arr)


def test_directory_prefix(tmp_path: Path) -> None:
    # musicnn ships "<dir>/.index" and "<dir>/.data-00000-of-00001"
    tensors = _tensors()
    index, data = make_bundle(tensors)
    (tmp_path / ".index").write_bytes(index)
    (tmp_path / ".data-00000-of-00001").write_bytes(data)
    assert set(read_checkpoint(tmp_path)) == set(tensors)
    assert set(read_checkpoint(str(tmp_path) + "/")) == set(tensors)


def test_corrupt_tensor_bytes_raise_crc_error() -> None:
    index, data = make_bundle(_tensors())
    bad = bytearray(data)
    bad[len(bad) // 2] ^= 0x01
    with pytest.raises(CheckpointError, match="CRC32C mismatch in variable"):
        tb.read_bundle(index, [bytes(bad)])


def test_corrupt_index_raises_block_crc_error() -> None:
    index, data = make_bundle(_tensors())
    bad = bytearray(index)
    bad[10] ^= 0x40
    with pytest.raises(CheckpointError, match="block CRC32C mismatch"):
        tb.read_bundle(bytes(bad), [data])


def test_truncated_and_garbage_inputs(tmp_path: Path) -> None:
    index, data = make_bundle(_tensors())
    with pytest.raises(CheckpointError, match="outside data shard"):
        tb.read_bundle(index, [data[:-10]])
    with pytest.raises(CheckpointError, match="bad magic"):
        tb.read_bundle(b"x" * 100, [data])
    with pytest.raises(CheckpointError, match="too short"):
        tb.read_bundle(b"abc", [data])
    with pytest.raises(CheckpointError, match="cannot read checkpoint index"):
        read_checkpoint(tmp_path / "missing")
    (tmp_path / "ckpt.index").write_bytes(index)
    with pytest.raises(CheckpointError, match="cannot read checkpoint data"):
        read_checkpoint(tmp_path / "ckpt")


# ---- the real musicnn 0.1.0 checkpoints ------------------------------------------------------
@pytest.fixture(scope="module")
def musicnn_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from segue.listen.weights import WeightsError, download_musicnn_wheel

    try:
        return download_musicnn_wheel(tmp_path_factory.mktemp("wheel"))
    except WeightsError as e:
        pytest.skip(f"musicnn wheel not available (package index unreachable?): {e}")


def _listing(model: str) -> dict[str, tuple[tuple[int, ...], str]]:
    path = FIXTURES / "logs" / f"{model}_checkpoint_variables.txt"
    if not path.is_file():
        pytest.skip(f"fixtures not found at {FIXTURES} (clone shared/ beside the repo)")
    out = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^(\S+)\s+\(([\d, ]*)\)\s+(\w+)\s*$", line)
        if m:
            dims = tuple(int(d) for d in m.group(2).replace(" ", "").split(",") if d)
            out[m.group(1)] = (dims, m.group(3))
    return out


@pytest.mark.parametrize("model", ["MSD_musicnn", "MTT_musicnn"])
def test_real_checkpoint_matches_listing(musicnn_wheel: Path, tmp_path: Path, model: str) -> None:
    expected = _listing(model)
    assert len(expected) == 150
    with zipfile.ZipFile(musicnn_wheel) as zf:
        for member in (".index", ".data-00000-of-00001"):
            (tmp_path / member).write_bytes(zf.read(f"musicnn/{model}/{member}"))
    got = read_checkpoint(tmp_path)
    assert {k: (v.shape, v.dtype.name) for k, v in got.items()} == expected
    model_values = sum(
        v.size for k, v in got.items() if not k.endswith(("/Adam", "/Adam_1", "_power"))
    )
    assert model_values == 792_079


def test_real_checkpoint_corrupted_byte_is_detected(musicnn_wheel: Path) -> None:
    with zipfile.ZipFile(musicnn_wheel) as zf:
        index = zf.read("musicnn/MSD_musicnn/.index")
        data = bytearray(zf.read("musicnn/MSD_musicnn/.data-00000-of-00001"))
    assert len(tb.read_bundle(index, [bytes(data)])) == 150
    data[5_000_000] ^= 0x80
    with pytest.raises(CheckpointError, match="CRC32C mismatch in variable"):
        tb.read_bundle(index, [bytes(data)])
