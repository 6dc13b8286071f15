"""Read TensorFlow TensorBundle checkpoints (``.index`` + ``.data-NNNNN-of-NNNNN``) with numpy only.

Format (as written by TensorFlow's ``BundleWriter``, TF 1.x and 2.x):

* ``<prefix>.index`` is an SSTable in the LevelDB table format: data blocks of prefix-compressed
  key/value entries followed by a restart array, each block followed by a 5-byte trailer
  (compression type, masked CRC32C of block + type byte), an index block whose values are block
  handles, and a 48-byte footer (metaindex handle, index handle, padding, magic
  ``0xdb4775248b80fb57``). TensorFlow writes bundle tables uncompressed.
* Key ``""`` holds a ``BundleHeaderProto`` (num_shards, endianness, version); every other key is a
  variable name whose value is a ``BundleEntryProto`` (dtype, shape, shard_id, offset, size,
  crc32c, slices).
* A tensor's raw little-endian bytes are ``data[offset:offset + size]`` of shard ``shard_id``,
  and ``crc32c`` is the *masked* CRC32C of those bytes.

Only plain (non-sliced) numeric tensors are supported, which is all a Saver checkpoint of
dense variables contains. Every block checksum and every tensor checksum is verified.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np

from segue.errors import SegueError

__all__ = [
    "CheckpointError",
    "crc32c",
    "masked_crc32c",
    "read_checkpoint",
    "read_bundle",
]


class CheckpointError(SegueError):
    """A TensorBundle checkpoint is missing, corrupt or uses a feature this reader lacks."""


# --------------------------------------------------------------------------------------------
# CRC32C (Castagnoli), reflected polynomial 0x82F63B78.

_POLY = 0x82F63B78


def _make_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table[i] = c
    return table


_TABLE = _make_table()
_TABLE_LIST = [int(x) for x in _TABLE]
_MASK_DELTA = 0xA282EAD8
# Below this many bytes the plain byte loop is used; above it the vectorised chunked version.
_VECTOR_MIN = 1 << 15
_CHUNKS = 1024


def _update_scalar(crc: int, data: bytes | memoryview) -> int:
    """Raw (un-inverted) table-driven CRC32C register update over ``data``."""
    t = _TABLE_LIST
    for b in bytes(data):
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def _shift_tables(length: int) -> list[list[int]]:
    """Tables for the linear map ``c -> update(c, zeros(length))``, one per register byte.

    The raw CRC register update is linear over GF(2) in (register, data) jointly, so
    ``update(c, D) = update(c, 0^L) ^ update(0, D)``; ``update(c, 0^L)`` is linear in ``c`` and is
    evaluated as an XOR of four 256-entry tables.
    """
    basis = np.array([1 << i for i in range(32)], dtype=np.uint32)
    regs = basis.copy()
    table = _TABLE
    for _ in range(length):  # zero data bytes: c = T[c & 0xff] ^ (c >> 8)
        regs = table[regs & 0xFF] ^ (regs >> np.uint32(8))
    images = [int(x) for x in regs]
    out = []
    for byte_index in range(4):
        sub = images[8 * byte_index : 8 * byte_index + 8]
        tab = [0] * 256
        for v in range(1, 256):
            low = v & -v
            tab[v] = tab[v ^ low] ^ sub[low.bit_length() - 1]
        out.append(tab)
    return out


def _update_vector(crc: int, data: bytes | memoryview) -> int:
    """Same as ``_update_scalar`` but processes ``_CHUNKS`` equal chunks in parallel with numpy."""
    buf = np.frombuffer(data, dtype=np.uint8)
    n = buf.size
    length = n // _CHUNKS
    body = buf[: length * _CHUNKS].reshape(_CHUNKS, length)
    regs = np.zeros(_CHUNKS, dtype=np.uint32)
    table = _TABLE
    eight = np.uint32(8)
    for j in range(length):
        regs = table[(regs ^ body[:, j]) & 0xFF] ^ (regs >> eight)
    t0, t1, t2, t3 = _shift_tables(length)
    for r in regs.tolist():
        crc = t0[crc & 0xFF] ^ t1[(crc >> 8) & 0xFF] ^ t2[(crc >> 16) & 0xFF] ^ t3[crc >> 24] ^ r
    return _update_scalar(crc, buf[length * _CHUNKS :].tobytes())


def crc32c(data: bytes | bytearray | memoryview) -> int:
    """CRC32C (Castagnoli) of ``data``, as used by TensorFlow and LevelDB."""
    update: Callable[[int, bytes | memoryview], int]
    update = _update_vector if len(data) >= _VECTOR_MIN else _update_scalar
    return update(0xFFFFFFFF, memoryview(data)) ^ 0xFFFFFFFF


def masked_crc32c(data: bytes | bytearray | memoryview) -> int:
    """LevelDB/TensorFlow masked CRC32C: rotate right by 15 bits and add a constant."""
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + _MASK_DELTA) & 0xFFFFFFFF


# --------------------------------------------------------------------------------------------
# Protobuf wire format (just enough for BundleHeaderProto / BundleEntryProto).


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise CheckpointError("truncated varint in checkpoint index")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise CheckpointError("malformed varint in checkpoint index")


def _parse_message(buf: bytes) -> dict[int, list[int | bytes]]:
    """Decode one protobuf message into ``{field_number: [values]}`` (ints or raw bytes)."""
    fields: dict[int, list[int | bytes]] = {}
    pos = 0
    n = len(buf)
    while pos < n:
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        value: int | bytes
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            if pos + 8 > n:
                raise CheckpointError("truncated fixed64 field in checkpoint index")
            value = struct.unpack_from("<Q", buf, pos)[0]
            pos += 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > n:
                raise CheckpointError("truncated length-delimited field in checkpoint index")
            value = bytes(buf[pos : pos + size])
            pos += size
        elif wire == 5:
            if pos + 4 > n:
                raise CheckpointError("truncated fixed32 field in checkpoint index")
            value = struct.unpack_from("<I", buf, pos)[0]
            pos += 4
        else:
            raise CheckpointError(f"unsupported protobuf wire type {wire} in checkpoint index")
        if number == 0:
            raise CheckpointError("invalid protobuf field number 0 in checkpoint index")
        fields.setdefault(number, []).append(value)
    return fields


def _int_field(fields: dict[int, list[int | bytes]], number: int, default: int = 0) -> int:
    values = fields.get(number)
    if not values:
        return default
    v = values[-1]
    if not isinstance(v, int):
        raise CheckpointError(f"protobuf field {number} has the wrong wire type")
    return v


def _as_int64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


# --------------------------------------------------------------------------------------------
# SSTable (LevelDB table format).

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_LEN = 48
_BLOCK_TRAILER_LEN = 5


def _read_block(table: bytes, offset: int, size: int) -> bytes:
    end = offset + size
    if offset < 0 or end + _BLOCK_TRAILER_LEN > len(table):
        raise CheckpointError("checkpoint index block points outside the file")
    block = table[offset:end]
    ctype = table[end]
    (stored,) = struct.unpack_from("<I", table, end + 1)
    if masked_crc32c(table[offset : end + 1]) != stored:
        raise CheckpointError("checkpoint index is corrupt (block CRC32C mismatch)")
    if ctype != 0:
        raise CheckpointError(
            f"compressed checkpoint index blocks are not supported (type {ctype})"
        )
    return block


def _block_entries(block: bytes) -> list[tuple[bytes, bytes]]:
    if len(block) < 4:
        raise CheckpointError("checkpoint index block is too short")
    (num_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    limit = len(block) - 4 - 4 * num_restarts
    if limit < 0:
        raise CheckpointError("checkpoint index block has a bad restart array")
    entries = []
    pos = 0
    key = b""
    while pos < limit:
        shared, pos = _varint(block, pos)
        non_shared, pos = _varint(block, pos)
        value_len, pos = _varint(block, pos)
        if shared > len(key) or pos + non_shared + value_len > limit:
            raise CheckpointError("checkpoint index block has a malformed entry")
        key = key[:shared] + block[pos : pos + non_shared]
        pos += non_shared
        entries.append((key, block[pos : pos + value_len]))
        pos += value_len
    return entries


def _table_items(table: bytes) -> list[tuple[bytes, bytes]]:
    if len(table) < _FOOTER_LEN:
        raise CheckpointError("checkpoint index is too short to be an SSTable")
    footer = table[-_FOOTER_LEN:]
    (magic,) = struct.unpack_from("<Q", footer, _FOOTER_LEN - 8)
    if magic != _TABLE_MAGIC:
        raise CheckpointError("checkpoint index is not an SSTable (bad magic number)")
    pos = 0
    _meta_off, pos = _varint(footer, pos)
    _meta_size, pos = _varint(footer, pos)
    index_off, pos = _varint(footer, pos)
    index_size, pos = _varint(footer, pos)
    items = []
    for _last_key, handle in _block_entries(_read_block(table, index_off, index_size)):
        off, p = _varint(handle, 0)
        size, _ = _varint(handle, p)
        items.extend(_block_entries(_read_block(table, off, size)))
    return items


# --------------------------------------------------------------------------------------------
# TensorBundle.

# tensorflow/core/framework/types.proto DataType -> numpy little-endian dtype
_DTYPES = {
    1: "<f4",  # DT_FLOAT
    2: "<f8",  # DT_DOUBLE
    3: "<i4",  # DT_INT32
    4: "u1",  # DT_UINT8
    5: "<i2",  # DT_INT16
    6: "i1",  # DT_INT8
    9: "<i8",  # DT_INT64
    10: "?",  # DT_BOOL
    17: "<u2",  # DT_UINT16
    19: "<f2",  # DT_HALF
    22: "<u4",  # DT_UINT32
    23: "<u8",  # DT_UINT64
}


def _shape(proto: bytes) -> tuple[int, ...]:
    fields = _parse_message(proto)
    if _int_field(fields, 3):
        raise CheckpointError("tensor with unknown rank in checkpoint")
    dims = []
    for dim in fields.get(2, []):
        if not isinstance(dim, bytes):
            raise CheckpointError("malformed tensor shape in checkpoint")
        size = _as_int64(_int_field(_parse_message(dim), 1))
        if size < 0:
            raise CheckpointError("tensor with unknown dimension in checkpoint")
        dims.append(size)
    return tuple(dims)


def read_bundle(
    index: bytes, shards: list[bytes] | Callable[[int, int], bytes]
) -> dict[str, np.ndarray]:
    """Decode a TensorBundle from the bytes of its ``.index`` and its data shards.

    ``shards`` is either the list of shard contents in order or a function
    ``(shard_id, num_shards) -> bytes``. Returns ``{variable name: array}`` (arrays own their data).
    """
    items = _table_items(index)
    if not items or items[0][0] != b"":
        raise CheckpointError("checkpoint index has no bundle header")
    header = _parse_message(items[0][1])
    num_shards = _int_field(header, 1, 1)
    if _int_field(header, 2) != 0:
        raise CheckpointError("big-endian checkpoints are not supported")
    cache: dict[int, bytes] = {}

    def shard(i: int) -> bytes:
        if i not in cache:
            if not 0 <= i < num_shards:
                raise CheckpointError(f"tensor refers to shard {i} of {num_shards}")
            cache[i] = shards(i, num_shards) if callable(shards) else shards[i]
        return cache[i]

    out: dict[str, np.ndarray] = {}
    for key, value in items[1:]:
        name = key.decode("utf-8", errors="replace")
        entry = _parse_message(value)
        if entry.get(7):
            raise CheckpointError(f"sliced (partitioned) variable {name!r} is not supported")
        dtype_code = _int_field(entry, 1)
        if dtype_code not in _DTYPES:
            raise CheckpointError(f"variable {name!r} has unsupported dtype code {dtype_code}")
        dtype = np.dtype(_DTYPES[dtype_code])
        shape_proto = entry.get(2, [b""])[-1]
        shape = _shape(shape_proto if isinstance(shape_proto, bytes) else b"")
        shard_id = _int_field(entry, 3)
        offset = _as_int64(_int_field(entry, 4))
        size = _as_int64(_int_field(entry, 5))
        expected_crc = _int_field(entry, 6)
        count = int(np.prod(shape, dtype=np.int64))
        if size != count * dtype.itemsize:
            raise CheckpointError(f"variable {name!r}: {size} bytes do not fit shape {shape}")
        data = shard(shard_id)
        if offset < 0 or offset + size > len(data):
            raise CheckpointError(
                f"variable {name!r} lies outside data shard {shard_id} (truncated?)"
            )
        raw = memoryview(data)[offset : offset + size]
        if masked_crc32c(raw) != expected_crc:
            raise CheckpointError(f"checkpoint is corrupt: CRC32C mismatch in variable {name!r}")
        out[name] = np.frombuffer(raw, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))
    return out


def _paths(prefix: str | os.PathLike[str]) -> tuple[Path, Callable[[int, int], Path]]:
    # musicnn's checkpoints use the directory itself as prefix: files "<dir>/.index" etc.
    p = os.fspath(prefix)
    base = os.path.join(p, "") if os.path.isdir(p) else p
    return Path(base + ".index"), lambda i, n: Path(f"{base}.data-{i:05d}-of-{n:05d}")


def read_checkpoint(prefix: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read every tensor of the TensorBundle checkpoint at ``prefix``.

    ``prefix`` is what TensorFlow's Saver was given: files ``<prefix>.index`` and
    ``<prefix>.data-00000-of-00001``. If ``prefix`` is a directory the files are ``<dir>/.index``
    etc. (the layout musicnn ships). Raises ``CheckpointError`` on missing or corrupt files.
    """
    index_path, data_path = _paths(prefix)
    try:
        index = index_path.read_bytes()
    except OSError as e:
        raise CheckpointError(f"cannot read checkpoint index {index_path}: {e.strerror}") from e

    def load(i: int, n: int) -> bytes:
        path = data_path(i, n)
        try:
            return path.read_bytes()
        except OSError as e:
            raise CheckpointError(f"cannot read checkpoint data {path}: {e.strerror}") from e

    return read_bundle(index, load)
