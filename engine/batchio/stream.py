"""Batch files read in chunks of records, so memory stays bounded whatever the file's size.

:func:`open_table` checks the file as a whole (type, header, required columns) at once, before
any work is done, and raises :class:`~engine.batchio.tables.InputFileError` then; the records
follow chunk by chunk (:meth:`TableStream.chunks`), each a
:class:`~engine.batchio.tables.TextTable` numbered as in the whole file. A problem found later
that spoils the file as a whole (a CSV quote never closed, a truncated Parquet file) raises
:class:`InputFileError` from the iteration: the caller's transaction is rolled back with it.

CSV goes through the ``csv`` module, as :mod:`engine.batchio.tables` explains (physical lines
of records across blank lines and quoted newlines, which Arrow's CSV reader does not keep);
Parquet through ``pyarrow.parquet.ParquetFile.iter_batches``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa

from engine.batchio import fastcsv
from engine.batchio.tables import (
    _NOT_UTF8,
    CSV_SUFFIXES,
    PARQUET_SUFFIXES,
    InputFileError,
    RowIssue,
    TextTable,
    Unit,
    _as_text,
    _check_header,
    file_error,
)

# pyarrow.parquet is imported when a Parquet file is opened: a CSV run does not pay for it.
if TYPE_CHECKING:
    import pyarrow.parquet as pq

#: Records per chunk: large enough for set-based writes to pay off, small enough that a
#: chunk's text cells (about 1 KB per record with pandas' objects) stay far below the budget.
CHUNK_ROWS = 50_000


@dataclass
class TableStream:
    """An open batch file: its header is checked, its records come in :meth:`chunks`.

    ``size`` and :meth:`done` measure progress in the unit of the file: bytes (CSV) or rows
    (Parquet).
    """

    path: Path
    unit: Unit
    header: list[str]
    size: int
    _chunks: Iterator[TextTable]
    _done: list[int] = field(default_factory=lambda: [0])

    def chunks(self) -> Iterator[TextTable]:
        """The records in chunks of at most :data:`CHUNK_ROWS`, in file order; at least one
        chunk (empty for a file with a header only)."""
        return self._chunks

    def done(self) -> int:
        return self._done[0]


def open_table(
    path: str | Path,
    required: Sequence[str],
    columns: Sequence[str] | None = None,
    *,
    rows: int = CHUNK_ROWS,
) -> TableStream:
    """Open a ``.csv`` or ``.parquet`` batch file and check its header.

    ``columns``: the optional columns worth reading from a Parquet file (default: all).

    Raises
    ------
    InputFileError
        When the file as a whole cannot be used (unreadable, unknown type, no header, a
        required column missing).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return open_parquet(path, required, columns, rows=rows)
    if suffix in CSV_SUFFIXES:
        return open_csv(path, required, rows=rows)
    raise file_error(path, f"unsupported file type {suffix!r}; expected .csv or .parquet")


def concat(tables: Sequence[TextTable]) -> TextTable:
    """The chunks of one file as one table."""
    first = tables[0]
    frame = (
        pd.concat([t.frame for t in tables], ignore_index=True)
        if len(tables) > 1
        else (first.frame)
    )
    lines = np.concatenate([t.lines for t in tables])
    malformed = tuple(issue for t in tables for issue in t.malformed)
    return TextTable(first.path, frame, lines, first.unit, malformed)


def open_csv(path: str | Path, required: Sequence[str], *, rows: int = CHUNK_ROWS) -> TableStream:
    """Open a CSV file whatever its name (see :func:`open_table`)."""
    path = Path(path)
    try:
        raw = path.open("rb")
        size = path.stat().st_size
    except FileNotFoundError:
        raise file_error(path, "file not found") from None
    except OSError as exc:
        raise file_error(path, f"cannot read: {exc.strerror}") from None
    # Bytes that are not UTF-8 become lone surrogates (``surrogateescape``): only the records
    # that hold them are set aside, with their lines, instead of the whole file.
    handle = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.reader(handle, skipinitialspace=True)
    header: list[str] | None = None
    start = 1
    try:
        for record in reader:
            first_line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue  # blank line
            if _NOT_UTF8.search("".join(record)):
                raise file_error(path, "the header is not UTF-8 text", first_line)
            header = [cell.strip() for cell in record]
            break
    except csv.Error as exc:
        handle.close()
        raise file_error(path, f"not valid CSV: {exc}", start) from None
    except InputFileError:
        handle.close()
        raise
    if header is None:
        handle.close()
        raise file_error(path, "file is empty", 1)
    try:
        _check_header(path, header, required, 1)
    except InputFileError:
        handle.close()
        raise
    handle.close()
    done = [0]
    chunks = _csv_records(path, header, start, rows, done)
    return TableStream(path, "line", header, size, chunks, done)


def _csv_records(
    path: Path, header: list[str], start: int, rows: int, done: list[int]
) -> Iterator[TextTable]:
    """The records after the header (which ends before line ``start``): by Arrow block by
    block while its lines are plain (:mod:`engine.batchio.fastcsv`), by the ``csv`` module
    from the first block that is not to the end of the file."""
    raw = path.open("rb")
    try:
        prefix = b"".join(raw.readline() for _ in range(start - 1))
        if b"\r" in prefix.replace(b"\r\n", b""):
            # A lone CR ends a line for the csv module, not for readline(): it reads it all.
            raw.seek(0)
            yield from _csv_chunks(path, raw, header, start, rows, done, from_start=True)
            return
        yielded = False
        while True:
            offset = raw.tell()
            block = raw.read(fastcsv.BLOCK_BYTES)
            if block and not block.endswith(b"\n"):
                block += raw.readline()  # whole lines only
            if not block:
                if not yielded:
                    yield _chunk(path, header, [])
                return
            cells = fastcsv.parse_block(block, len(header))
            if cells is None:
                raw.seek(offset)
                yield from _csv_chunks(path, raw, header, start, rows, done)
                return
            done[0] = raw.tell()
            for first in range(0, len(cells[0]), rows):
                part = [column.slice(first, rows) for column in cells]
                yield _arrow_chunk(path, header, part, start + first)
                yielded = True
            start += len(cells[0])
    finally:
        raw.close()


def _arrow_chunk(path: Path, header: list[str], cells: list[pa.Array], first: int) -> TextTable:
    frame = pd.DataFrame(
        {i: column.to_numpy(zero_copy_only=False) for i, column in enumerate(cells)},
        dtype=object,
    )
    frame.columns = pd.Index(header, dtype=object)
    lines = np.arange(first, first + len(frame), dtype=np.int64)
    return TextTable(path, frame, lines, "line")


def _csv_chunks(
    path: Path,
    raw: IO[bytes],
    header: list[str],
    start: int,
    rows: int,
    done: list[int],
    *,
    from_start: bool = False,
) -> Iterator[TextTable]:
    """The records from line ``start`` on by the ``csv`` module: ``raw`` is at the start of
    that line, or at the start of the file (``from_start``: its header is read again)."""
    # Bytes that are not UTF-8 become lone surrogates (``surrogateescape``): only the records
    # that hold them are set aside, with their lines, instead of the whole file.
    encoding = "utf-8-sig" if from_start else "utf-8"
    handle = io.TextIOWrapper(raw, encoding=encoding, errors="surrogateescape", newline="")
    reader = csv.reader(handle, skipinitialspace=True)
    before = 0 if from_start else start - 1  # lines before the reader's first
    yielded = False
    try:
        if from_start:
            for _ in reader:  # the header's records, blank lines before it included
                if reader.line_num >= start - 1:
                    break
        while True:
            found: list[tuple[list[str], int]] = []
            try:
                for record in reader:
                    first_line, start = start, before + reader.line_num + 1
                    if "".join(record).strip():  # else a blank line (or only empty cells)
                        found.append((record, first_line))
                        if len(found) >= rows:
                            break
            except csv.Error as exc:
                raise file_error(path, f"not valid CSV: {exc}", start) from None
            except OSError as exc:
                raise file_error(path, f"cannot read: {exc.strerror}") from None
            if not found and yielded:
                return
            done[0] = raw.tell()
            yielded = True
            yield _chunk(path, header, found)
            if not found:
                return
    finally:
        handle.detach()


def _chunk(path: Path, header: list[str], found: list[tuple[list[str], int]]) -> TextTable:
    """The records of one chunk as text cells; those with bytes that are not UTF-8 or with the
    wrong number of fields go to ``malformed``."""
    width = len(header)
    records: list[list[str]] = []
    lines: list[int] = []
    malformed: list[RowIssue] = []
    # One search over the whole chunk first: a clean chunk (the usual case) costs no
    # per-record search.
    dirty = bool(_NOT_UTF8.search("\x1f".join("\x1f".join(r) for r, _ in found)))
    for record, line in found:
        if dirty and _NOT_UTF8.search("".join(record)):
            malformed.append(RowIssue(str(path), line, "", "not UTF-8 text"))
            continue
        # A trailing delimiter (spreadsheet exports) adds empty cells: harmless.
        while len(record) > width and not record[-1].strip():
            record.pop()
        if len(record) != width:
            message = f"{len(record)} fields, the header has {width}"
            malformed.append(RowIssue(str(path), line, "", message))
            continue
        records.append(record)
        lines.append(line)
    frame = pd.DataFrame(records, columns=header, dtype=object)
    if len(frame):
        frame = frame.apply(lambda column: column.str.strip())
    return TextTable(path, frame, np.asarray(lines, dtype=np.int64), "line", tuple(malformed))


def open_parquet(
    path: Path, required: Sequence[str], columns: Sequence[str] | None, *, rows: int = CHUNK_ROWS
) -> TableStream:
    """Open a Parquet file whatever its name (see :func:`open_table`)."""
    try:
        if not path.is_file():
            raise file_error(path, "file not found")
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path)
        names = [str(name) for name in parquet.schema_arrow.names]
        _check_header(path, names, required, 0)
    except InputFileError:
        raise
    # pyarrow signals a corrupt or truncated file with several exception types.
    except (pa.ArrowException, OSError, ValueError, TypeError) as exc:
        raise file_error(path, f"not a readable Parquet file: {exc}") from None
    wanted = set(required) | set(names if columns is None else columns)
    selected = [name for name in names if name in wanted]
    done = [0]
    total = parquet.metadata.num_rows
    chunks = _parquet_chunks(path, parquet, selected, rows, done)
    return TableStream(path, "row", names, total, chunks, done)


def _parquet_chunks(
    path: Path, parquet: pq.ParquetFile, selected: list[str], rows: int, done: list[int]
) -> Iterator[TextTable]:
    yielded = False
    batches = parquet.iter_batches(batch_size=rows, columns=selected)
    while True:
        try:
            batch = next(batches, None)
        except (pa.ArrowException, OSError, ValueError, TypeError) as exc:
            raise file_error(path, f"not a readable Parquet file: {exc}") from None
        if batch is None:
            if not yielded:  # no rows: one empty chunk with the columns
                empty = pd.DataFrame({name: [] for name in selected}, dtype=object)
                yield TextTable(path, empty, np.zeros(0, dtype=np.int64), "row")
            return
        cells = {}
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            try:
                cells[name] = _as_text(pa.chunked_array([column]))
            except (pa.ArrowException, ValueError, TypeError):
                message = f"column {name!r} has type {column.type}, which cannot be read as text"
                raise file_error(path, message) from None
        frame = pd.DataFrame(cells, columns=list(cells), dtype=object)
        first = done[0]
        done[0] += len(frame)
        yielded = True
        rows_of = np.arange(first + 1, first + len(frame) + 1, dtype=np.int64)
        yield TextTable(path, frame, rows_of, "row")
