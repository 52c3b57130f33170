"""The part of pyarrow that the reader uses, in plain Python, for where pyarrow is missing.

xlwings Lite runs tierbook in Pyodide, which has neither pyarrow nor fastexcel. There
the Excel functions and ribbon scripts read the book's own cells (no file), and the
reader's cleaning rules (read.py) must still apply, exactly as on the desktop. So
read.py imports `pa` and `pc` from pyarrow when it can, and from here when it cannot:
the same calls, on columns of Python values (None is null).

Only what read.py calls is here, with pyarrow's semantics for nulls (a null input gives
a null output; masks treat null as False). Regular expressions are pyarrow's RE2
patterns translated to Python's `re` (\\d as ASCII digits, \\pL\\pN as letters and
digits). It is slower than pyarrow (one Python step per cell), which is fine for the
rows of an open workbook; files are read with pyarrow and fastexcel.
"""

from __future__ import annotations

import re
from functools import lru_cache
from types import SimpleNamespace
from typing import Callable, Iterable

import numpy as np
import pandas as pd

STRING, DOUBLE, INT64, BOOL = "string", "double", "int64", "bool"


class Scalar:
    """A single value (pa.scalar, or what pc.any returns)."""

    def __init__(self, value: object, type_: str | None = None):
        self.value, self.type = value, type_

    def as_py(self) -> object:
        return self.value


class _Buffer:
    def __init__(self, data: bytes):
        self.data = data

    def to_pybytes(self) -> bytes:
        return self.data


class Array:
    """A column of Python values, None for null: pyarrow's Array and ChunkedArray in one."""

    def __init__(self, values: Iterable[object], type_: str):
        self.values = values if isinstance(values, np.ndarray) and values.dtype == object else _objects(values)
        self.type = type_

    def __len__(self) -> int:
        return len(self.values)

    @property
    def chunks(self) -> list["Array"]:
        return [self]

    def combine_chunks(self) -> "Array":
        return self

    def buffers(self) -> list[_Buffer | None]:
        """The data buffer is all text of the column (what read._may_contain searches)."""
        if self.type != STRING:
            return [None, None, None]
        return [None, None, _Buffer("".join(v for v in self.values if v is not None).encode())]

    def is_valid(self) -> "Array":
        return Array([v is not None for v in self.values], BOOL)

    def fill_null(self, value: object) -> "Array":
        return Array([value if v is None else v for v in self.values], self.type)

    def filter(self, mask: "Array") -> "Array":
        return Array(self.values[_bools(mask)], self.type)

    def to_numpy(self, zero_copy_only: bool = False) -> np.ndarray:
        if self.type == BOOL:
            return np.array([bool(v) if v is not None else None for v in self.values], dtype=object
                            ) if any(v is None for v in self.values) else self.values.astype(bool)
        if self.type == DOUBLE:
            return np.array([np.nan if v is None else v for v in self.values], dtype="float64")
        if self.type == INT64 and not any(v is None for v in self.values):
            return self.values.astype("int64")
        return self.values.copy()

    def to_pandas(self) -> pd.Series:
        return pd.Series(self.values, dtype=object)


class StructArray:
    """What pc.extract_regex returns: named groups, null where the pattern did not match."""

    def __init__(self, fields: dict[str, np.ndarray], valid: np.ndarray):
        self.fields, self.valid = fields, valid

    def __len__(self) -> int:
        return len(self.valid)

    def is_valid(self) -> Array:
        return Array(self.valid.tolist(), BOOL)

    def filter(self, mask: Array) -> "StructArray":
        keep = _bools(mask)
        return StructArray({name: values[keep] for name, values in self.fields.items()}, self.valid[keep])


def _objects(values: Iterable[object]) -> np.ndarray:
    items = list(values)
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _bools(mask: Array | np.ndarray) -> np.ndarray:
    values = mask.values if isinstance(mask, Array) else mask
    return np.array([bool(v) for v in values], dtype=bool) if values.dtype == object else values.astype(bool)


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)


def _type_of(values: np.ndarray) -> str:
    if values.dtype == bool:
        return BOOL
    if values.dtype.kind == "f":
        return DOUBLE
    if values.dtype.kind in "iu":
        return INT64
    return STRING


def array(values: object, type: str | None = None, from_pandas: bool = False) -> Array:  # noqa: A002 - pyarrow's name
    """pa.array: a list, numpy array or pandas Series → Array (NaN is null, as with from_pandas)."""
    if isinstance(values, Array):
        return values
    if isinstance(values, pd.Series):
        values = values.to_numpy(dtype=object, na_value=None) if values.dtype == object or not (
            values.dtype.kind in "biuf") else values.to_numpy()
    raw = values if isinstance(values, np.ndarray) else _objects(values)
    kind = type or (_type_of(raw) if raw.dtype != object else _guess(raw))
    return Array([None if _missing(v) else v for v in raw.tolist()], kind)


def _guess(values: np.ndarray) -> str:
    for v in values:
        if isinstance(v, (bool, np.bool_)):
            return BOOL
        if isinstance(v, str):
            return STRING
        if isinstance(v, float):
            return DOUBLE
        if isinstance(v, int):
            return INT64
    return STRING


def chunked_array(arrays: list[Array]) -> Array:
    if len(arrays) == 1:
        return array(arrays[0])
    parts = [array(a) for a in arrays]
    return Array(np.concatenate([p.values for p in parts]), parts[0].type)


def nulls(n: int, type: str = STRING) -> Array:  # noqa: A002
    return Array([None] * n, type)


def scalar(value: object, type: str | None = None) -> Scalar:  # noqa: A002
    return Scalar(value, type)


pa = SimpleNamespace(Array=Array, ChunkedArray=Array, array=array, chunked_array=chunked_array, nulls=nulls,
                     scalar=scalar, string=lambda: STRING, float64=lambda: DOUBLE, int64=lambda: INT64)


# ----------------------------------------------------------------------------- compute


@lru_cache(maxsize=64)
def _regex(pattern: str) -> re.Pattern:
    """An RE2 pattern as Python's: ASCII digits, \\pL\\pN as letters and digits."""
    python = pattern.replace(r"[^\pL\pN]", r"[\W_]").replace(r"\d", "[0-9]")
    return re.compile(python)


def _map(values: Array, f: Callable[[object], object], type_: str) -> Array:
    return Array([None if v is None else f(v) for v in values.values], type_)


def _format_number(value: float) -> str:
    """A double as pyarrow casts it to text: integral values without `.0`."""
    if value != value:
        return "nan"
    if value == int(value) and abs(value) < 1e16:
        return str(int(value))
    return repr(float(value))


def cast(values: Array, type_: str) -> Array:
    if type_ == STRING:
        return _map(values, lambda v: _format_number(v) if isinstance(v, float) else str(v), STRING)
    if type_ == DOUBLE:
        return _map(values, float, DOUBLE)
    if type_ == INT64:
        return _map(values, lambda v: int(float(v)), INT64)
    raise TypeError(f"cast to {type_} is not supported without pyarrow")


def is_in(values: Array, value_set: Array) -> Array:
    members = set(value_set.values.tolist())
    return Array([v is not None and v in members for v in values.values], BOOL)


def index_in(values: Array, value_set: Array) -> Array:
    position = {v: i for i, v in reversed(list(enumerate(value_set.values.tolist())))}
    return Array([position.get(v) if v is not None else None for v in values.values], INT64)


def take(values: Array, indices: Array) -> Array:
    return Array([None if i is None else values.values[i] for i in indices.values], values.type)


def equal(values: Array, other: object) -> Array:
    if isinstance(other, Array):
        return Array([None if a is None or b is None else a == b for a, b in zip(values.values, other.values)], BOOL)
    return _map(values, lambda v: v == other, BOOL)


def if_else(condition: Array, when_true: object, when_false: object) -> Array:
    n = len(condition)

    def column(x: object) -> list:
        if isinstance(x, Array):
            return x.values.tolist()
        return [x.value if isinstance(x, Scalar) else x] * n

    yes, no = column(when_true), column(when_false)
    kind = next((x.type for x in (when_true, when_false) if isinstance(x, Array)), STRING)
    return Array([None if c is None else (y if c else f) for c, y, f in zip(condition.values, yes, no)], kind)


def any_(values: Array) -> Scalar:
    return Scalar(any(bool(v) for v in values.values if v is not None))


def fill_null(values: Array, value: object) -> Array:
    return values.fill_null(value)


def utf8_trim_whitespace(values: Array) -> Array:
    return _map(values, str.strip, STRING)


def utf8_lower(values: Array) -> Array:
    return _map(values, str.lower, STRING)


def utf8_slice_codeunits(values: Array, start: int, stop: int) -> Array:
    return _map(values, lambda v: v[start:stop], STRING)


def match_substring(values: Array, pattern: str) -> Array:
    return _map(values, lambda v: pattern in v, BOOL)


def match_substring_regex(values: Array, pattern: str) -> Array:
    regex = _regex(pattern)
    return _map(values, lambda v: regex.search(v) is not None, BOOL)


def ends_with(values: Array, pattern: str) -> Array:
    return _map(values, lambda v: v.endswith(pattern), BOOL)


def replace_substring(values: Array, pattern: str, replacement: str) -> Array:
    return _map(values, lambda v: v.replace(pattern, replacement), STRING)


def replace_substring_regex(values: Array, pattern: str, replacement: str) -> Array:
    regex = _regex(pattern)
    return _map(values, lambda v: regex.sub(replacement, v), STRING)


def replace_with_mask(values: Array, mask: Array, replacements: Array) -> Array:
    out = values.values.copy()
    out[_bools(mask)] = replacements.values
    return Array(out, values.type)


def extract_regex(values: Array, pattern: str) -> StructArray:
    regex = _regex(pattern)
    matches = [None if v is None else regex.search(v) for v in values.values]
    valid = np.array([m is not None for m in matches], dtype=bool)
    fields = {name: _objects([m.group(name) if m else None for m in matches]) for name in regex.groupindex}
    return StructArray(fields, valid)


def struct_field(parts: StructArray, name: str) -> Array:
    return Array(parts.fields[name], STRING)


pc = SimpleNamespace(cast=cast, is_in=is_in, index_in=index_in, take=take, equal=equal, if_else=if_else, any=any_,
                     fill_null=fill_null, utf8_trim_whitespace=utf8_trim_whitespace, utf8_lower=utf8_lower,
                     utf8_slice_codeunits=utf8_slice_codeunits, match_substring=match_substring,
                     match_substring_regex=match_substring_regex, ends_with=ends_with,
                     replace_substring=replace_substring, replace_substring_regex=replace_substring_regex,
                     replace_with_mask=replace_with_mask, extract_regex=extract_regex, struct_field=struct_field)
