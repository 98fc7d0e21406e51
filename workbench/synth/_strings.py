"""Column-wise string building on Arrow arrays (no per-row Python)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["cat", "hex_ids", "join_skip", "keep", "num", "pick", "where"]

Part: TypeAlias = Any  # a pyarrow array or a str (broadcast)


def _arg(part: Any) -> Any:
    if isinstance(part, str):
        return pa.scalar(part, pa.string())
    return part


def cat(*parts: Part) -> pa.Array:
    """Concatenate strings element-wise (a null part makes the row null)."""
    return pc.binary_join_element_wise(*[_arg(p) for p in parts], "")


def join_skip(parts: Sequence[pa.Array], sep: str) -> pa.Array:
    """Join the non-null parts of each row with ``sep`` (``""`` when all are null).

    (Arrow's ``null_handling="skip"`` drops rows whose parts are all null, so this
    folds the parts one by one.)"""
    empty = pa.scalar("", pa.string())
    acc = pc.fill_null(parts[0], empty)
    has = pc.is_valid(parts[0])
    for part in parts[1:]:
        valid = pc.is_valid(part)
        piece = pc.if_else(has, cat(sep, part), part)
        acc = cat(acc, pc.if_else(valid, piece, empty))
        has = pc.or_(has, valid)
    return acc


def num(values: np.ndarray, digits: int = 3) -> pa.Array:
    """Numbers as JSON number text, rounded to ``digits`` decimals."""
    arr = pa.array(values)
    if pa.types.is_floating(arr.type):
        arr = pc.round(arr, digits)
    return pc.cast(arr, pa.string())


def pick(pool: Sequence[str], idx: np.ndarray) -> pa.Array:
    """``pool[idx]`` for every row."""
    return pa.array(list(pool), pa.string()).take(pa.array(idx))


def where(mask: np.ndarray, a: Part | None, b: Part | None) -> pa.Array:
    """Row-wise ``a if mask else b`` (``None``: null)."""
    null = pa.scalar(None, pa.string())
    return pc.if_else(
        pa.array(mask, pa.bool_()),
        null if a is None else _arg(a),
        null if b is None else _arg(b),
    )


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def hex_ids(rng: np.random.Generator, n: int) -> pa.Array:
    """``n`` random 32-digit hex ids (the gateway's ``uuid4().hex`` shape)."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    nib = np.empty((n, 32), dtype=np.uint8)
    nib[:, 0::2] = _HEX[raw >> 4]
    nib[:, 1::2] = _HEX[raw & 15]
    data = pa.py_buffer(nib.tobytes())
    offsets = pa.py_buffer((np.arange(n + 1, dtype=np.int32) * 32).tobytes())
    return pa.Array.from_buffers(pa.string(), n, [None, offsets, data])


def keep(arr: pa.Array, mask: np.ndarray) -> pa.Array:
    """``arr`` with the rows outside ``mask`` set to null, without copying the strings."""
    valid = np.asarray(mask, dtype=bool)
    if arr.null_count:
        valid = valid & np.asarray(pc.is_valid(arr))
    if arr.offset:
        arr = pa.concat_arrays([arr])  # a fresh, zero-offset copy
    bits = pa.py_buffer(np.packbits(valid, bitorder="little").tobytes())
    buffers = arr.buffers()
    return pa.Array.from_buffers(arr.type, len(arr), [bits, *buffers[1:]])
