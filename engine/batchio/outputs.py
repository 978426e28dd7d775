"""Files the engine writes: checked before any work is done, written atomically.

Every verb that writes a file (treatments, rejects, outcomes, the JSON Schema, a router model)
describes it as an :class:`Output` and calls :func:`check_outputs` first. A path is refused
when it is an input of the run, another output of the same run, the database (or its journal),
a directory, a folder that cannot be written, or an existing file that is not an earlier output
of the same kind (unless ``overwrite``): an operator's typo must never replace data. Files are
then written to a temporary file beside the target, flushed to disk and renamed over it, so a
reader (or a crash) sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa

from engine.batchio.tables import CSV_SUFFIXES, PARQUET_SUFFIXES, InputFileError, RowIssue

# pyarrow.parquet is imported when a Parquet file is read or written: a CSV run does not pay
# for it.
if TYPE_CHECKING:
    import pyarrow.parquet as pq

TABLE_SUFFIXES = CSV_SUFFIXES + PARQUET_SUFFIXES
JSON_SUFFIXES = (".json",)
#: Bytes of an existing file read to recognise it (a CSV header, a JSON document).
SNIFF_BYTES = 1 << 16
#: JSON outputs larger than this are not parsed to recognise them (router models are small).
JSON_SNIFF_BYTES = 16 << 20


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: Mode of a new output file, as ``open()`` would create it (read once: umask is per process).
_NEW_FILE_MODE = 0o666 & ~_umask()


class OutputWriteError(Exception):
    """A checked output could not be written after all (disk full, permissions changed)."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"cannot write {path}: {reason}")


@dataclass(frozen=True)
class OutputKind:
    """What a verb writes: its name in messages, the file types it may have and how to
    recognise a file of this kind written earlier (which may be replaced without
    ``--overwrite``)."""

    name: str
    suffixes: tuple[str, ...]
    recognise: Callable[[Path], bool]


@dataclass(frozen=True)
class Output:
    path: Path
    kind: OutputKind
    #: The option that names it, for messages ("--rejects").
    option: str = "--output"


def _same(a: Path, b: Path) -> bool:
    """Whether two paths name one file (also through symlinks and hard links)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def _table_columns(path: Path) -> list[str] | None:
    """Column names of a CSV (its first record) or Parquet file; None if unreadable."""
    try:
        if path.suffix.lower() in PARQUET_SUFFIXES:
            import pyarrow.parquet as pq

            return [str(name) for name in pq.read_schema(path).names]
        with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
            first = handle.read(SNIFF_BYTES).splitlines()[:1]
        return next(csv.reader(first), None)
    except (OSError, pa.ArrowException, csv.Error):
        return None


def columns_like(
    required: Collection[str], *, first: Sequence[Sequence[str]] = ()
) -> Callable[[Path], bool]:
    """Recognise a table that has every ``required`` column and, position by position, one of
    the names in ``first`` as its leading columns."""

    def recognise(path: Path) -> bool:
        columns = _table_columns(path)
        if columns is None or not set(required) <= set(columns):
            return False
        return all(i < len(columns) and columns[i] in names for i, names in enumerate(first))

    return recognise


def json_like(required: dict[str, object]) -> Callable[[Path], bool]:
    """Recognise a JSON object whose ``required`` keys have the given values."""

    def recognise(path: Path) -> bool:
        try:
            if path.stat().st_size > JSON_SNIFF_BYTES:
                return False
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):  # unreadable, not JSON, nested too deep
            return False
        return isinstance(data, dict) and all(data.get(k) == v for k, v in required.items())

    return recognise


def _is_blank(path: Path) -> bool:
    """An existing file without content (``touch``, ``mktemp``): nothing to lose."""
    try:
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES + 1)
    except OSError:
        return False
    return len(head) <= SNIFF_BYTES and not head.strip()


def _folder_problem(path: Path) -> str | None:
    """Why the folder of ``path`` cannot receive the file, or None (missing folders are
    created, so the nearest existing one must be writable)."""
    folder = path.parent
    while not folder.exists():
        if folder == folder.parent:
            break
        folder = folder.parent
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"the folder {folder} is not writable"
    return None


def _problem(
    output: Output,
    others: Sequence[Output],
    inputs: Iterable[Path],
    protected: Iterable[Path],
    *,
    overwrite: bool,
) -> str | None:
    path, kind = output.path, output.kind
    for source in inputs:
        if _same(path, source):
            return f"the {kind.name} would overwrite the input"
    for other in others:
        if _same(path, other.path):
            return f"the {kind.name} would overwrite the {other.kind.name} ({other.option})"
    for guarded in protected:
        if _same(path, guarded):
            return f"the {kind.name} would overwrite the database file {guarded}"
    if path.suffix.lower() not in kind.suffixes:
        expected = " or ".join(kind.suffixes)
        return f"unsupported output type {path.suffix!r}; use {expected}"
    if path.is_dir():
        return f"{output.option} names a folder; give a file name"
    if path.exists():
        if not path.is_file():
            return f"{output.option} names a special file, not a regular file"
        if not overwrite and not _is_blank(path) and not kind.recognise(path):
            return (
                f"the file exists and is not a {kind.name} written by dunning; "
                "choose another path or pass --overwrite to replace it"
            )
        if not os.access(path, os.W_OK):
            return "the file exists and is not writable"
    folder = _folder_problem(path)
    return None if folder is None else f"{folder}; name another path with {output.option}"


def check_outputs(
    outputs: Sequence[Output],
    *,
    inputs: Iterable[Path] = (),
    protected: Iterable[Path] = (),
    overwrite: bool = False,
) -> None:
    """Refuse, before any work is done, output paths that could destroy data.

    Parameters
    ----------
    outputs
        The files this run will write.
    inputs
        The files it reads: never overwritten.
    protected
        Files that are never outputs whatever the options (the SQLite database and its
        journal files).
    overwrite
        Replace existing files that are not earlier outputs of the same kind.

    Raises
    ------
    InputFileError
        With one problem per refused path.
    """
    inputs, protected = list(inputs), list(protected)
    issues = []
    for i, output in enumerate(outputs):
        try:
            problem = _problem(output, outputs[:i], inputs, protected, overwrite=overwrite)
        except OSError as exc:  # a name too long, a loop of symlinks, ...
            problem = f"cannot use this path: {exc.strerror or exc}"
        if problem is not None:
            issues.append(RowIssue(str(output.path), 0, "", problem))
    if issues:
        raise InputFileError(issues)


def write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write`` on a temporary file beside ``path``, flush it to disk and rename it over
    ``path``: readers see the old file or the new one.

    Raises
    ------
    OutputWriteError
        When the folder cannot be created or the file cannot be written; nothing is left
        behind.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputWriteError(path, exc.strerror or str(exc)) from None
    os.close(handle)
    partial = Path(name)
    try:
        write(partial)
        with partial.open("rb+") as written:
            os.fsync(written.fileno())
        # mkstemp makes the file private; keep the mode of the file replaced, or the usual one.
        partial.chmod(path.stat().st_mode & 0o777 if path.exists() else _NEW_FILE_MODE)
        partial.replace(path)
    except OSError as exc:
        raise OutputWriteError(path, exc.strerror or str(exc)) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    """Write ``frame`` as CSV or Parquet (by extension), atomically."""
    path = Path(path)
    if path.suffix.lower() in PARQUET_SUFFIXES:
        write_atomic(path, lambda partial: frame.to_parquet(partial, index=False))
    else:
        write_csv(frame, path)


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """Write ``frame`` as CSV whatever the file name, atomically. Text that came from a file
    with bytes that are not UTF-8 is written back as those bytes (``surrogateescape``)."""
    write_atomic(
        Path(path),
        lambda partial: frame.to_csv(partial, index=False, errors="surrogateescape"),
    )


def write_text(text: str, path: str | Path) -> None:
    """Write UTF-8 ``text`` atomically."""
    write_atomic(Path(path), lambda partial: partial.write_text(text, encoding="utf-8"))


def _parquet_writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    import pyarrow.parquet as pq

    return pq.ParquetWriter(path, schema)


class TableWriter:
    """A CSV or Parquet file written chunk by chunk into a temporary file beside ``path``;
    :meth:`finish` flushes it to disk and renames it over ``path`` (as :func:`write_atomic`),
    :meth:`discard` removes it. ``schema`` fixes the Parquet column types, which one chunk
    alone (a column all empty) cannot tell."""

    def __init__(self, path: str | Path, schema: pa.Schema) -> None:
        self.path, self.schema = Path(path), schema
        self.parquet = self.path.suffix.lower() in PARQUET_SUFFIXES
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
            )
        except OSError as exc:
            raise OutputWriteError(self.path, exc.strerror or str(exc)) from None
        os.close(handle)
        self.partial = Path(name)
        self._parquet: pq.ParquetWriter | None = None
        self._rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        try:
            if self.parquet:
                if self._parquet is None:
                    # pandas' metadata (nullable integer and boolean dtypes) from the first
                    # chunk, so the file reads back as a whole written by pandas would.
                    pandas = pa.Schema.from_pandas(frame, preserve_index=False).metadata
                    self.schema = self.schema.with_metadata(pandas)
                    self._parquet = _parquet_writer(self.partial, self.schema)
                table = pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)
                self._parquet.write_table(table)
            else:
                frame.to_csv(
                    self.partial,
                    mode="a",
                    header=self._rows == 0,
                    index=False,
                    errors="surrogateescape",
                )
            self._rows += len(frame)
        except OSError as exc:
            self.discard()
            raise OutputWriteError(self.path, exc.strerror or str(exc)) from None

    def finish(self) -> None:
        try:
            if self.parquet:
                if self._parquet is None:  # no chunk at all: the columns alone
                    self._parquet = _parquet_writer(self.partial, self.schema)
                self._parquet.close()
            elif not self._rows:
                pd.DataFrame(columns=self.schema.names).to_csv(self.partial, index=False)
            with self.partial.open("rb+") as written:
                os.fsync(written.fileno())
            mode = self.path.stat().st_mode & 0o777 if self.path.exists() else _NEW_FILE_MODE
            self.partial.chmod(mode)
            self.partial.replace(self.path)
        except OSError as exc:
            raise OutputWriteError(self.path, exc.strerror or str(exc)) from None
        finally:
            self.discard()

    def discard(self) -> None:
        if self._parquet is not None:
            with contextlib.suppress(Exception):
                self._parquet.close()
        with contextlib.suppress(FileNotFoundError):
            self.partial.unlink()
