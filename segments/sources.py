"""Reading import files as a stream of records, each with where it came from (line or item number).

Formats, recognised by their first character: JSON lines (one object a line), a JSON array, a
JSON document (one object, or Shopify's `{"orders": [...]}` page), or a CSV export. Nothing reads
a whole file: JSON arrays go through ijson's incremental parser, CSV and JSON lines a row at a
time, so memory stays flat however large the file.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, Mapping

import ijson

from bot.core.errors import WabotError

Progress = Callable[[int], None]  # called with the number of bytes read so far


@dataclass(frozen=True)
class Record:
    where: str  # "line 12" or "item 3"
    value: Any  # a JSON value, or for CSV the list of rows (lower-case keys) of one order/product/customer
    headers: Mapping[str, str] | None = None  # CSV: lower-case key -> the file's own column name


@dataclass(frozen=True)
class Bad:
    where: str
    reason: str


# How rows of one record are grouped in the admin's CSV exports: consecutive rows sharing the key.
CSV_GROUP_KEY = {"orders": "name", "products": "handle", "customers": None}


def detect_format(first_line: bytes, kind: str) -> str:
    """The format of a file from its first line that is not blank."""
    text = first_line.lstrip(b"\xef\xbb\xbf").strip()
    if text.startswith(b"["):
        return "json-array"
    if text.startswith(b"{"):
        try:
            value = json.loads(text)
        except ValueError:
            return "json-document"
        if isinstance(value, dict) and isinstance(value.get(kind), list):
            return "json-document"  # an API page, {"orders": [...]}, on one line
        return "json-lines"
    return "csv"


FIRST_LINE_LIMIT = 1 << 20  # a JSON line longer than this is taken for a one-line document


def _first_line(handle: BinaryIO) -> bytes:
    """The first line with content, read at most FIRST_LINE_LIMIT bytes at a time: a JSON array
    written on one line is the whole file."""
    line = b""
    while True:
        line = handle.readline(FIRST_LINE_LIMIT)
        if not line or line.lstrip(b"\xef\xbb\xbf").strip():
            break
    handle.seek(0)
    return line


def read_records(path: Path, kind: str, progress: Progress | None = None) -> Iterator[Record | Bad]:
    """Records of one kind (orders, customers, products) from the file, in file order."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise WabotError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise WabotError(f"{path}: is a directory") from None
    tick = progress or (lambda _pos: None)
    with handle:
        fmt = "csv" if path.suffix.lower() == ".csv" else detect_format(_first_line(handle), kind)
        if fmt == "json-lines":
            yield from _json_lines(handle, tick)
        elif fmt == "json-array":
            yield from _json_items(handle, "item", tick)
        elif fmt == "json-document":
            yield from _json_document(handle, kind, tick)
        else:
            yield from _csv(handle, kind, tick)


def _json_lines(handle: BinaryIO, tick: Progress) -> Iterator[Record | Bad]:
    for number, raw in enumerate(handle, 1):
        line = raw.decode("utf-8", errors="replace")
        if number == 1:
            line = line.lstrip("\ufeff")
        if not line.strip():
            continue
        try:
            value = json.loads(line, parse_float=Decimal)
        except ValueError as exc:
            yield Bad(f"line {number}", f"not valid JSON ({exc.msg})")
        else:
            yield Record(f"line {number}", value)
        tick(handle.tell())


def _json_items(handle: BinaryIO, prefix: str, tick: Progress) -> Iterator[Record | Bad]:
    number = 0
    try:
        for number, value in enumerate(ijson.items(handle, prefix), 1):
            yield Record(f"item {number}", value)
            tick(handle.tell())
    except ijson.JSONError as exc:
        # An incremental parser cannot resynchronise after broken JSON: the rest of the file is lost.
        yield Bad(f"item {number + 1}", f"not valid JSON, reading stopped here ({exc})")


def _json_document(handle: BinaryIO, kind: str, tick: Progress) -> Iterator[Record | Bad]:
    found = False
    for item in _json_items(handle, f"{kind}.item", tick):
        found = True
        yield item
    if not found:  # a single object, as a webhook body or an API answer for one resource
        handle.seek(0)
        for item in _json_items(handle, "", tick):
            if isinstance(item, Record):
                singular = kind[:-1]
                value = item.value
                if isinstance(value, dict) and isinstance(value.get(singular), dict) and len(value) == 1:
                    value = value[singular]  # {"order": {...}}
                yield Record("item 1", value)
            else:
                yield item


def _csv(handle: BinaryIO, kind: str, tick: Progress) -> Iterator[Record | Bad]:
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", errors="replace", newline="")
    try:
        yield from _csv_rows(csv.reader(text), handle, kind, tick)
    finally:
        text.detach()  # the caller closes the file itself


def _csv_rows(reader, handle: BinaryIO, kind: str, tick: Progress) -> Iterator[Record | Bad]:
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        yield Bad("line 1", f"not CSV ({exc})")
        return
    keys = [h.strip().lower() for h in header]
    headers = {k: h.strip() for k, h in zip(keys, header)}
    group_key = CSV_GROUP_KEY[kind]
    if group_key and group_key not in keys:
        yield Bad("line 1", f"no {headers.get(group_key, group_key.title())!r} column: not a Shopify {kind} export")
        return
    group: list[dict[str, str]] = []
    group_start = 0
    group_value: str | None = None
    last_line = reader.line_num
    while True:
        start = last_line + 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield Bad(f"line {start}", f"not valid CSV ({exc})")
            last_line = reader.line_num
            continue
        last_line = reader.line_num
        if not any(f.strip() for f in fields):
            continue
        if len(fields) > len(keys):
            yield Bad(f"line {start}", f"{len(fields)} fields, but the header has {len(keys)}")
            continue
        row = dict(zip(keys, fields))
        if group_key is None:
            yield Record(f"line {start}", [row], headers)
        else:
            value = row.get(group_key, "").strip()
            if group and value == group_value:
                group.append(row)
                continue
            if group:
                yield Record(f"line {group_start}", group, headers)
            group, group_start, group_value = [row], start, value
        tick(handle.tell())
    if group:
        yield Record(f"line {group_start}", group, headers)
