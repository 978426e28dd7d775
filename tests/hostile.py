"""Generated hostile inputs for every file the engine reads: a seeded generator mutates a valid
file (a cell set to a hostile value, bytes inserted, the file truncated, its structure broken)
so each case is reproducible from its seed and index.

Each generator returns :class:`Case` objects; ``tests/test_hostile_input.py`` runs them as a
user would and checks the outcome against the README's exit codes.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from engine.sbg import simulate_tenure_table
from engine.simulate import randomised_log

ROOT = Path(__file__).resolve().parents[1]
CHANNELS = ROOT / "experiments" / "dunning_channels.yaml"
ROUTER = ROOT / "experiments" / "collection_router.yaml"
MODEL = ROOT / "experiments" / "models" / "collection_router.json"

#: Cell values an operator's export or an attacker's file may hold.
HOSTILE_CELLS = (
    "",
    " ",
    "x" * 129,
    "y" * 65,
    "z" * 5_000,
    "a\x00b",
    "\x00",
    "[/x]",
    "[bold]red[/bold]",
    "inf",
    "-inf",
    "nan",
    "NaN",
    "1e999",
    "-1",
    "0",
    "1e308",
    "2026-02-30",
    "0000-00-00",
    "9999-12-31T23:59:59",
    "1677-01-01",
    "2026-03-01T25:00:00",
    "\u202egnp.exe",
    "\U0001f600",
    "\uff11\uff12",  # fullwidth digits
    "'; DROP TABLE assignment; --",
    '=HYPERLINK("http://x")',
    '"',
    "a,b",
    "line\nbreak",
    "\r",
    "%s%n%x",
    "../../etc/passwd",
    "null",
    "None",
    "true",
    "7" * 400,
    "payment",
    "PAYMENT",
    "WAOE|DICE",
)
#: Byte strings inserted into a text file.
HOSTILE_BYTES = (
    b"\x00",
    b"\xff\xfe",
    b"\xc3",
    b'"',
    b"\r\n",
    b",,,",
    b"\xef\xbb\xbf",
    b"\t",
    b"\n\n\n",
    b"\x1b[31m",
    b"'",
    b"\\",
)
#: YAML values put in place of a scalar of a valid experiment file.
HOSTILE_YAML = (
    ".inf",
    "-.inf",
    ".nan",
    "1e999",
    "-1",
    "0",
    "null",
    "~",
    "[]",
    "{}",
    '"a\\0b"',
    '"\\x00"',
    "*undefined",
    "&a [*a]",
    "!!python/object/apply:os.system ['true']",
    "!!binary AAAA",
    "'" + "x" * 10_000 + "'",
    "2026-02-30",
    "yes",
    "0x1F",
    "[" * 200 + "]" * 200,
    "{a: " * 60 + "1" + "}" * 60,
    "1_000",
    "'[/x]'",
    "99999999999999999999999999",
    "-99999999999999999999",
    "|\n  multi\n  line",
)


@dataclass(frozen=True)
class Case:
    """One run of a verb on a generated file.

    ``named`` must appear in the output when the verb refuses the file (exit 2) or sets rows
    aside (exit 3); ``with_line`` asks for a position too (``file:LINE:``, ``file: row N``).
    """

    name: str
    verb: str
    args: list[str]
    files: dict[Path, bytes] = field(default_factory=dict)
    named: Path | None = None
    with_line: bool = False

    def write(self) -> None:
        for path, content in self.files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)


Mutation = Callable[[np.random.Generator, bytes], tuple[str, bytes]]


def _pick(rng: np.random.Generator, items: tuple[str, ...] | tuple[bytes, ...]) -> object:
    return items[int(rng.integers(len(items)))]


def _bytes_insert(rng: np.random.Generator, data: bytes) -> tuple[str, bytes]:
    chunk = _pick(rng, HOSTILE_BYTES)
    assert isinstance(chunk, bytes)
    at = int(rng.integers(len(data) + 1))
    return f"insert {chunk!r} at {at}", data[:at] + chunk + data[at:]


def _truncate(rng: np.random.Generator, data: bytes) -> tuple[str, bytes]:
    at = int(rng.integers(len(data) + 1))
    return f"truncate at {at}", data[:at]


def _garbage(rng: np.random.Generator, data: bytes) -> tuple[str, bytes]:
    size = int(rng.integers(0, 2_000))
    return f"{size} random bytes", rng.bytes(size)


def _duplicate_line(rng: np.random.Generator, data: bytes) -> tuple[str, bytes]:
    lines = data.splitlines(keepends=True)
    i = int(rng.integers(len(lines)))
    return f"line {i + 1} twice", b"".join([*lines[: i + 1], lines[i], *lines[i + 1 :]])


def _drop_line(rng: np.random.Generator, data: bytes) -> tuple[str, bytes]:
    lines = data.splitlines(keepends=True)
    i = int(rng.integers(len(lines)))
    return f"line {i + 1} dropped", b"".join(lines[:i] + lines[i + 1 :])


BYTE_MUTATIONS: tuple[Mutation, ...] = (
    _bytes_insert,
    _bytes_insert,
    _truncate,
    _garbage,
    _duplicate_line,
    _drop_line,
)


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, quoting=csv.QUOTE_MINIMAL)
    return buffer.getvalue().encode("utf-8", "surrogateescape")


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def mutate_table(rng: np.random.Generator, frame: pd.DataFrame, suffix: str) -> tuple[str, bytes]:
    """A valid table made hostile: some cells set to hostile values, then (for CSV) perhaps a
    byte-level mutation; for Parquet, perhaps a column of another type or broken bytes."""
    frame = frame.astype(object).copy()
    notes = []
    for _ in range(int(rng.integers(1, 4))):
        row, column = int(rng.integers(len(frame))), str(_pick(rng, tuple(frame.columns)))
        value = _pick(rng, HOSTILE_CELLS)
        frame.iloc[row, frame.columns.get_loc(column)] = value
        notes.append(f"{column}[{row}] = {value!r:.40}")
    roll = rng.random()
    if roll < 0.1 and len(frame.columns) > 1:
        dropped = str(_pick(rng, tuple(frame.columns)))
        frame = frame.drop(columns=dropped)
        notes.append(f"column {dropped} dropped")
    if suffix == ".parquet":
        if 0.1 <= roll < 0.3:
            column = str(_pick(rng, tuple(frame.columns)))
            kind = int(rng.integers(4))
            values: list[object] = [
                [1, 2] if kind == 0 else (b"\xff\xfe" if kind == 1 else (None if kind == 2 else 7))
                for _ in range(len(frame))
            ]
            table = pa.Table.from_pandas(frame.astype(str), preserve_index=False)
            array = pa.array(values)
            table = table.set_column(table.column_names.index(column), column, array)
            buffer = io.BytesIO()
            pq.write_table(table, buffer)
            notes.append(f"column {column} of type {array.type}")
            data = buffer.getvalue()
        else:
            data = _parquet_bytes(frame.astype(str))
        if roll >= 0.85:
            note, data = _truncate(rng, data)
            notes.append(note)
        return "; ".join(notes), data
    data = _csv_bytes(frame)
    if roll >= 0.5:
        note, data = BYTE_MUTATIONS[int(rng.integers(len(BYTE_MUTATIONS)))](rng, data)
        notes.append(note)
    return "; ".join(notes), data


def debtor_frame(rng: np.random.Generator, n: int = 12) -> pd.DataFrame:
    types = np.array(["WAOE", "WACE", "WAOR", "DICE", "DICR"])
    return pd.DataFrame(
        {
            "debtor_id": [f"h{rng.integers(10**9)}" for _ in range(n)],
            "debtor_type": types[rng.integers(len(types), size=n)],
            "amount_owed": np.round(rng.uniform(5, 500, n), 2).astype(str),
        }
    )


def event_frame(rng: np.random.Generator, n: int = 12) -> pd.DataFrame:
    kinds = np.array(["payment", "reminder", "collection_case", "churn", "inquiry"])
    kind = kinds[rng.integers(len(kinds), size=n)]
    return pd.DataFrame(
        {
            "event_id": [f"ev{rng.integers(10**9)}" for _ in range(n)],
            "debtor_id": [f"h{rng.integers(10**9)}" for _ in range(n)],
            "kind": kind,
            "amount": np.where(kind == "payment", "10.5", ""),
            "occurred_at": "2026-03-04T10:00:00Z",
        }
    )


def batch_cases(rng: np.random.Generator, folder: Path, count: int, key: str) -> list[Case]:
    """``count`` hostile debtor and event files (CSV and Parquet), for assign and ingest."""
    cases = []
    for i in range(count):
        suffix = ".csv" if i % 2 == 0 else ".parquet"
        if i % 4 < 2:
            path = folder / f"debtors{i}{suffix}"
            note, data = mutate_table(rng, debtor_frame(rng), suffix)
            out = folder / f"treatments{i}.csv"
            args = ["assign", key, "-i", str(path), "-o", str(out), "--as-of", "2026-03-03"]
        else:
            path = folder / f"events{i}{suffix}"
            note, data = mutate_table(rng, event_frame(rng), suffix)
            args = ["ingest", str(path)]
        cases.append(Case(f"{path.name}: {note}", args[0], args, {path: data}, path, True))
    return cases


def _yaml_scalar_lines(text: str) -> list[int]:
    """Indices of lines ``key: value`` with a plain value (candidates for a hostile value)."""
    return [
        i
        for i, line in enumerate(text.splitlines())
        if ": " in line and not line.lstrip().startswith("#") and line.split(": ", 1)[1].strip()
    ]


def mutate_yaml(rng: np.random.Generator, text: str) -> tuple[str, bytes]:
    lines = text.splitlines()
    roll = rng.random()
    if roll < 0.6:
        i = int(_pick(rng, tuple(map(str, _yaml_scalar_lines(text)))))
        key = lines[i].split(": ", 1)[0]
        value = str(_pick(rng, HOSTILE_YAML))
        lines[i] = f"{key}: {value}"
        return f"line {i + 1} = {value!r:.40}", ("\n".join(lines) + "\n").encode()
    if roll < 0.7:
        bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"{chr(98 + k)}: &{chr(98 + k)} [{', '.join([f'*{chr(97 + k)}'] * 10)}]\n"
            for k in range(7)
        )
        return "alias bomb", (text + bomb).encode()
    if roll < 0.8:
        depth = int(rng.integers(30, 3_000))
        return f"nested {depth} deep", (text + "deep: " + "[" * depth + "]" * depth + "\n").encode()
    note, data = BYTE_MUTATIONS[int(rng.integers(len(BYTE_MUTATIONS)))](rng, text.encode())
    return note, data


def yaml_cases(rng: np.random.Generator, folder: Path, count: int) -> list[Case]:
    """``count`` hostile experiment files, each validated and synced."""
    text = CHANNELS.read_text(encoding="utf-8")
    cases = []
    for i in range(count):
        path = folder / f"experiment{i}.yaml"
        note, data = mutate_yaml(rng, text)
        verb = "sync" if i % 2 == 0 else "validate"
        cases.append(
            Case(f"{path.name}: {note}", verb, [verb, str(path)], {path: data}, path, True)
        )
    return cases


def _hostile_json(rng: np.random.Generator) -> object:
    options: tuple[object, ...] = (
        float("nan"),
        float("inf"),
        1e308,
        -1,
        "x" * 1_000,
        None,
        [],
        {},
        [[[[[]]]]],
        True,
        "[/x]",
        10**40,
    )
    return options[int(rng.integers(len(options)))]


def _set_random_leaf(rng: np.random.Generator, data: object, value: object) -> str:
    path = []
    node = data
    while isinstance(node, dict | list) and node:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        key = keys[int(rng.integers(len(keys)))]
        child = node[key]  # type: ignore[index]
        if not isinstance(child, dict | list) or not child or rng.random() < 0.3:
            node[key] = value  # type: ignore[index]
            return ".".join(map(str, [*path, key]))
        path.append(key)
        node = child
    return "(root)"


def router_cases(rng: np.random.Generator, folder: Path, count: int) -> list[Case]:
    """``count`` hostile router model files beside a copy of the router experiment."""
    experiment = ROUTER.read_text(encoding="utf-8")
    model_text = MODEL.read_text(encoding="utf-8")
    cases = []
    for i in range(count):
        base = folder / f"router{i}"
        model_path = base / "models" / "collection_router.json"
        roll = rng.random()
        if roll < 0.6:
            data = json.loads(model_text)
            value = _hostile_json(rng)
            where = _set_random_leaf(rng, data, value)
            note, content = f"{where} = {value!r:.30}", json.dumps(data).encode()
        elif roll < 0.7:
            note, content = "nested 100,000 deep", b"[" * 100_000 + b"]" * 100_000
        elif roll < 0.75:
            note, content = "5 MB of spaces", b" " * (5 << 20)
        else:
            note, content = BYTE_MUTATIONS[int(rng.integers(len(BYTE_MUTATIONS)))](
                rng, model_text.encode()
            )
        yaml_path = base / "router.yaml"
        verb = "sync" if i % 2 == 0 else "validate"
        files = {yaml_path: experiment.encode(), model_path: content}
        cases.append(Case(f"model {i}: {note}", verb, [verb, str(yaml_path)], files, yaml_path))
    return cases


def tenure_cases(rng: np.random.Generator, folder: Path, count: int, key: str) -> list[Case]:
    """``count`` tenure tables, each with a defect the validation must catch (a valid one
    would start an MCMC fit of several seconds)."""
    table = simulate_tenure_table(
        alpha=0.7, beta=3.8, customers=40, periods=6, rng=np.random.default_rng(4)
    ).astype(object)
    defects: tuple[tuple[str, str], ...] = (
        ("recency", "-1"),
        ("recency", "99"),
        ("recency", "2.5"),
        ("recency", "inf"),
        ("T", "nan"),
        ("T", "1e999"),
        ("T", "[/x]"),
        ("customer_id", ""),
        ("cohort", ""),
        ("T", "1"),
    )
    cases = []
    for i in range(count):
        frame = table.copy()
        column, value = defects[i % len(defects)]
        row = int(rng.integers(len(frame)))
        frame.loc[row, column] = value
        suffix = ".csv" if i % 3 else ".parquet"
        path = folder / f"tenure{i}{suffix}"
        data = _csv_bytes(frame) if suffix == ".csv" else _parquet_bytes(frame.astype(str))
        if i % 5 == 4:
            note, data = _garbage(rng, data)
        else:
            note = f"{column}[{row}] = {value!r}"
        args = ["analyze", key, "--tenure", str(path)]
        cases.append(Case(f"{path.name}: {note}", "analyze", args, {path: data}, path))
    return cases


def ope_cases(rng: np.random.Generator, folder: Path, count: int) -> list[Case]:
    """``count`` hostile logs and targets of ``dunning ope``, and logs of ``uplift fit``."""
    log = randomised_log(300, rng=np.random.default_rng(9))
    arms = sorted(set(log["action"]))
    target = pd.DataFrame({arm: np.full(len(log), 1 / len(arms)) for arm in arms})
    cases = []
    for i in range(count):
        suffix = ".csv" if i % 2 == 0 else ".parquet"
        kind = i % 3
        if kind == 2:
            path = folder / f"uplift{i}{suffix}"
            note, data = mutate_table(rng, log, suffix)
            args = ["uplift", "fit", str(path), "-o", str(folder / f"router{i}.json")]
            cases.append(Case(f"{path.name}: {note}", "uplift fit", args, {path: data}, path, True))
            continue
        log_path = folder / f"log{i}{suffix if kind == 0 else '.csv'}"
        target_path = folder / f"target{i}{suffix if kind == 1 else '.csv'}"
        hostile, clean = (log, target) if kind == 0 else (target, log)
        hostile_path, clean_path = (log_path, target_path) if kind == 0 else (target_path, log_path)
        note, data = mutate_table(rng, hostile, hostile_path.suffix)
        files = {hostile_path: data, clean_path: _csv_bytes(clean)}
        args = ["ope", str(log_path), "--target", str(target_path)]
        cases.append(Case(f"{hostile_path.name}: {note}", "ope", args, files, hostile_path, True))
    return cases


def argument_cases(rng: np.random.Generator, folder: Path, count: int, key: str) -> list[Case]:
    """``count`` runs of every verb with hostile arguments (keys, ids, times, paths)."""
    weird = (
        "[/x]",
        "x" * 300,
        "nope",
        "../" * 10,
        "-",
        "\u202e",
        "WAOE|DICE",
        "' OR 1=1 --",
        str(folder),
        "/dev/null",
        "/etc",
    )
    times = ("1900-01-01", "9999-12-31", "2026-02-30", "0001-01-01", "yesterday", "2026-03-03")
    numbers = ("-1", "0", "999999999999999999999", "nan", "1e3", "abc")

    def w() -> str:
        return str(_pick(rng, weird))

    def t() -> str:
        return str(_pick(rng, times))

    def n() -> str:
        return str(_pick(rng, numbers))

    makers: tuple[Callable[[], tuple[str, list[str]]], ...] = (
        lambda: ("history", ["history", w()]),
        lambda: ("report", ["report", w(), "--as-of", t()]),
        lambda: ("report", ["report", key, "--as-of", t()]),
        lambda: ("analyze", ["analyze", key, "--segment", w()]),
        lambda: ("analyze", ["analyze", w(), "--by-segment"]),
        lambda: ("outcomes", ["outcomes", key, "-d", w(), "--limit", n()]),
        lambda: ("outcomes", ["outcomes", key, "-o", w()]),
        lambda: ("update", ["update", w(), "--seed", n()]),
        lambda: ("update", ["update", key, "--as-of", t()]),
        lambda: ("promote", ["promote", w(), "--dry-run"]),
        lambda: ("promote", ["promote", key, "--as-of", t(), "--dry-run"]),
        lambda: ("run-cycle", ["run-cycle", "--as-of", t()]),
        lambda: ("rollback", ["rollback", key, "--to", n()]),
        lambda: ("rollback", ["rollback", w(), "--to", "1"]),
        lambda: ("schedule", ["schedule", "--now", t(), "--max-cycles", "1"]),
        lambda: ("list", ["list", w()]),
        lambda: ("validate", ["validate", w()]),
        lambda: ("schema", ["schema", "-o", w()]),
        lambda: ("sync", ["sync", w()]),
        lambda: ("assign", ["assign", key, "-i", w(), "-o", str(folder / "a.csv")]),
        lambda: ("ingest", ["ingest", w()]),
        lambda: ("ope", ["ope", w(), "--target", w()]),
        lambda: ("uplift fit", ["uplift", "fit", w(), "-o", str(folder / "m.json")]),
        lambda: ("demo", ["demo", "--experiment", w(), "--days", n()]),
        lambda: ("pause", ["pause", w(), "--note", w()]),
        lambda: ("resume", ["resume", w(), "--as-of", t()]),
        lambda: ("stop", ["stop", key, "--as-of", t(), "--by", w()]),
        lambda: ("db current", ["db", "current", "--json"]),
        lambda: ("db upgrade", ["db", "upgrade"]),
    )
    cases = []
    for i in range(count):
        verb, args = makers[i % len(makers)]()
        cases.append(Case(f"{verb} {args[1:]!r:.80}", verb, args))
    return cases
