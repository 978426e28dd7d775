"""The Arrow fast path of CSV reading gives the same cells, lines and set-aside records as the
``csv`` module alone, whatever the file holds: it reads plain blocks and hands every other
block, and the rest of the file, to the ``csv`` module."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.batchio import fastcsv, stream

HEADER = "debtor_id,debtor_type,amount_owed"
PLAIN = [f"d{i},WAOE,{i}.5" for i in range(40)]

#: Lines that the csv module reads differently from their bytes, or sets aside.
ODD = {
    "blank": "",
    "spaces": "   ",
    "empty cells": ",,",
    "quoted comma": '"d,x",WAOE,10',
    "quoted newline": '"d\ny",WAOE,10',
    "wide": "d1,WAOE,10,extra",
    "trailing delimiter": "d2,WAOE,10,",
    "narrow": "d3,WAOE",
    "not utf-8": "d4,W\udcffOE,10",
    "nul": "d5,WA\x00OE,10",
    "lone cr": "d6,WAOE,10\rd7,WAOE,11",
    "padded": "  d8 , WAOE ,  12  ",
    "unicode": "dé9,WAOE,13",
    "space before quote": 'd10, "WAOE",10',
    "quote inside": 'd"11,WAOE,10',
    "text after quote": '"d12"x,WAOE,10',
    "doubled quote": '"d""13",WAOE,10',
    "all quoted": '"d14","WAOE","10"',
    "quoted empty": '"",WAOE,10',
    "quoted padding": '" d15 ",WAOE,10',
}


def _write(path: Path, lines: list[str], *, ending: str = "\n", bom: bool = False) -> Path:
    text = ending.join(lines) + ending
    data = text.encode("utf-8", errors="surrogateescape")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


Read = tuple[list[str], list[list[str]], list[int], list[tuple[int, str]]]


def _read(path: Path, rows: int) -> Read:
    chunks = list(stream.open_csv(path, ["debtor_id"], rows=rows).chunks())
    table = stream.concat(chunks)
    cells = table.frame.to_numpy(dtype=object).tolist()
    assert all(len(chunk.frame) <= rows for chunk in chunks)
    columns = list(table.frame.columns)
    return columns, cells, table.lines.tolist(), [(i.line, i.message) for i in table.malformed]


def _both(
    path: Path, monkeypatch: pytest.MonkeyPatch, rows: int = 7, block: int = 64
) -> tuple[Read, Read]:
    monkeypatch.setattr(fastcsv, "BLOCK_BYTES", block)
    fast = _read(path, rows)
    with monkeypatch.context() as m:
        m.setattr(fastcsv, "parse_block", lambda block, width: None)
        slow = _read(path, rows)
    return fast, slow


def test_a_plain_file_is_read_by_arrow_with_the_csv_modules_cells(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path / "plain.csv", [HEADER, *PLAIN])
    calls: list[int] = []
    real = fastcsv.parse_block

    def counted(block: bytes, width: int) -> object:
        result = real(block, width)
        calls.append(result is not None)
        return result

    monkeypatch.setattr(fastcsv, "parse_block", counted)
    fast, slow = _both(path, monkeypatch)
    assert fast == slow
    assert calls
    assert all(calls), "every block of a plain file goes through Arrow"
    columns, cells, lines, malformed = fast
    assert columns == HEADER.split(",")
    assert lines == list(range(2, 2 + len(PLAIN)))
    assert cells[0] == ["d0", "WAOE", "0.5"]
    assert malformed == []


def test_a_file_with_every_string_quoted_is_read_by_arrow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    quoted = [f'"d{i}","WAOE",{i}.5' for i in range(40)]
    path = _write(tmp_path / "quoted.csv", ['"debtor_id","debtor_type","amount_owed"', *quoted])
    monkeypatch.setattr(stream, "_csv_chunks", None)  # the csv module must not be needed
    columns, cells, lines, _ = _read(path, rows=7)
    assert columns == HEADER.split(",")
    assert cells[0] == ["d0", "WAOE", "0.5"]
    assert lines == list(range(2, 42))


@pytest.mark.parametrize("odd", sorted(ODD))
@pytest.mark.parametrize("where", [0, 20, 39])
def test_an_odd_line_anywhere_gives_the_csv_modules_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, odd: str, where: int
) -> None:
    lines = [HEADER, *PLAIN[:where], ODD[odd], *PLAIN[where:]]
    path = _write(tmp_path / "odd.csv", lines)
    fast, slow = _both(path, monkeypatch)
    assert fast == slow


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
@pytest.mark.parametrize("bom", [False, True])
def test_line_endings_and_a_byte_order_mark(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ending: str, bom: bool
) -> None:
    path = _write(tmp_path / "e.csv", ["", HEADER, *PLAIN], ending=ending, bom=bom)
    fast, slow = _both(path, monkeypatch)
    assert fast == slow
    assert fast[2][0] == 3  # a blank line, then the header


def test_a_header_with_a_quoted_newline_and_no_final_newline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "h.csv"
    path.write_text('debtor_id,"debtor\ntype",amount_owed\n' + "\n".join(PLAIN))
    fast, slow = _both(path, monkeypatch)
    assert fast == slow
    assert fast[0][1] == "debtor\ntype"
    assert fast[2][:2] == [3, 4]


def test_a_header_only_file_gives_one_empty_chunk(tmp_path: Path) -> None:
    path = _write(tmp_path / "h.csv", [HEADER])
    chunks = list(stream.open_csv(path, ["debtor_id"]).chunks())
    assert len(chunks) == 1
    assert chunks[0].frame.empty
    assert list(chunks[0].frame.columns) == HEADER.split(",")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    picks=st.lists(st.sampled_from(sorted(ODD) + ["plain"] * 6), min_size=0, max_size=30),
    rows=st.integers(1, 9),
    block=st.sampled_from([16, 64, 200, 1 << 20]),
)
def test_any_mix_of_lines_chunks_and_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, picks: list[str], rows: int, block: int
) -> None:
    lines = [HEADER] + [PLAIN[i % 40] if p == "plain" else ODD[p] for i, p in enumerate(picks)]
    path = _write(tmp_path / "mix.csv", lines)
    fast, slow = _both(path, monkeypatch, rows=rows, block=block)
    assert fast == slow


def test_progress_reaches_the_files_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fastcsv, "BLOCK_BYTES", 100)
    path = _write(tmp_path / "p.csv", [HEADER, *PLAIN])
    table = stream.open_csv(path, ["debtor_id"], rows=5)
    seen = [table.done() for _ in table.chunks()]
    assert seen == sorted(seen)
    assert seen[-1] == path.stat().st_size
    assert np.all(np.diff(seen) >= 0)
