"""The fast path of CSV reading: a block of whole lines parsed by Arrow's C++ reader.

The ``csv`` module (:mod:`engine.batchio.stream`) costs about 25 µs a record in Python, most of
a million-row file's load. Arrow parses the same block in well under 1 µs a record, but it does
not report where a record starts: it skips blank lines, and a quoted field may span lines. So a
block goes to Arrow only when the physical line of each record follows from its position: every
line a record (as many records as line ends: no blank line, no quoted line end) and every record
of the header's width. Quotes must enclose whole fields (``"d1","WAOE",10``, as most exporters
write them): the ``csv`` module, with ``skipinitialspace``, reads a quote after a space or
inside a field differently from Arrow. The block must also be UTF-8 without NUL bytes, which the
``csv`` module would refuse or set aside. Any other block returns None and the caller reads the
rest of the file with the ``csv`` module, which knows every case; the two give the same cells
and lines (tests/batchio/test_fastcsv.py).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

#: Bytes read per block: about 100,000 records of a debtor file, a few MB of Arrow memory.
BLOCK_BYTES = 8 * 1024 * 1024

_QUOTE, _COMMA, _CR, _LF = (ord(c) for c in '",\r\n')


def _quotes_enclose_fields(block: bytes) -> bool:
    """Every quote opens a field (after a delimiter or a line start), closes one (before a
    delimiter or a line end) or is one of a doubled pair: a vectorised look at its neighbours,
    for the ``csv`` module and Arrow read such quotes alike."""
    data = np.frombuffer(block, dtype=np.uint8)
    at = np.flatnonzero(data == _QUOTE)
    if not at.size:
        return True
    before = np.where(at > 0, data[np.maximum(at - 1, 0)], _LF)
    after = np.where(at < data.size - 1, data[np.minimum(at + 1, data.size - 1)], _LF)
    opens = (before == _COMMA) | (before == _LF)
    closes = (after == _COMMA) | (after == _CR) | (after == _LF)
    doubled = (before == _QUOTE) | (after == _QUOTE)
    return bool(np.all(opens | closes | doubled))


def parse_block(block: bytes, width: int) -> list[pa.Array] | None:
    """The stripped text cells of ``block`` (whole lines, the header not among them), one
    array per column; None when the block needs the ``csv`` module (see the module doc)."""
    if not block or b"\x00" in block or b"\r" in block.replace(b"\r\n", b""):
        return None
    if not _quotes_enclose_fields(block):
        return None
    names = [f"c{i}" for i in range(width)]
    try:
        table = pa_csv.read_csv(
            pa.py_buffer(block),
            read_options=pa_csv.ReadOptions(column_names=names, use_threads=False),
            # Quoted line ends are parsed as such, so that the count of records below sees them.
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                check_utf8=True,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None  # a record of another width, or bytes that are not UTF-8
    lines = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
    if table.num_rows != lines:
        return None  # Arrow skipped blank lines: positions no longer give the lines
    cells = [pc.utf8_trim_whitespace(column.combine_chunks()) for column in table.columns]
    blank = pc.equal(cells[0], "")
    for column in cells[1:]:
        blank = pc.and_(blank, pc.equal(column, ""))
    if pc.any(blank).as_py():
        return None  # a line of spaces or empty cells only: the csv module skips it
    return cells
