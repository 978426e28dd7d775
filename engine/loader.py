"""Load experiment YAML into :class:`engine.config.Experiment`, reporting every error at once.

Each problem is reported as ``file:line:column: field.path: message``. Line numbers come from
PyYAML's node marks, kept while the document is turned into plain data, so a pydantic error at
``arms.1.cost`` can be traced back to the line that holds it. Duplicate mapping keys, which PyYAML
silently collapses, are errors here: an analyst who writes ``cost`` twice meant one of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from engine.config import Experiment
from engine.crosscheck import cross_field_issues
from engine.issues import Found, Loc, describe_all, dotted
from engine.model_files import FileTooLargeError, read_bounded, read_router_models


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in one file, with its position (1-based; 0 when unknown)."""

    file: str
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        field = f" {self.field}:" if self.field else ""
        return f"{self.file}:{self.line}:{self.column}:{field} {self.message}"


class ConfigError(Exception):
    """Raised when one or more experiment files are invalid; carries every issue found."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues = tuple(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


@dataclass(frozen=True)
class LoadedExperiment:
    """A validated experiment with the text it came from (kept for the audit trail)."""

    path: Path
    experiment: Experiment
    source: str


# -- YAML to data, keeping positions ------------------------------------------------------


#: Nodes a document may expand to through aliases ("billion laughs" protection).
MAX_NODES = 100_000
#: Nesting of mappings and lists (an experiment needs about 5); PyYAML composes recursively,
#: so a hostile file nested thousands deep would otherwise end in a RecursionError.
MAX_DEPTH = 40
#: Size of an experiment file (the shipped ones are a few KB).
MAX_FILE_BYTES = 1 << 20


class _Loader(yaml.SafeLoader):
    """SafeLoader that leaves dates and times as text and bounds the nesting depth.

    PyYAML turns ``2026-02-30`` into a ``ValueError`` deep inside its constructor; as text, the
    field's own validation reports it ("valid date") with the line, like any other bad value.
    """

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_DEPTH} levels deep", mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _Positions:
    """Maps a field path to the (line, column) of its key or value in the file."""

    def __init__(self) -> None:
        self._marks: dict[Loc, tuple[int, int]] = {}
        self.active: set[int] = set()  # ids of the nodes on the current path (alias cycles)
        self.visited = 0

    def add(self, loc: Loc, node: yaml.Node) -> None:
        self._marks.setdefault(loc, (node.start_mark.line + 1, node.start_mark.column + 1))

    def find(self, loc: Loc) -> tuple[int, int]:
        """Position of the longest prefix of ``loc`` that exists in the file."""
        for end in range(len(loc), -1, -1):
            mark = self._marks.get(loc[:end])
            if mark is not None:
                return mark
        return (1, 1)


def _to_data(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    loc: Loc,
    positions: _Positions,
    issues: list[Found],
) -> Any:
    positions.add(loc, node)
    positions.visited += 1
    if positions.visited > MAX_NODES:
        raise _TooLarge
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
        if id(node) in positions.active:
            issues.append((loc, "recursive alias: the node contains itself", None))
            return None
        positions.active.add(id(node))
        try:
            return _collection(loader, node, loc, positions, issues)
        finally:
            positions.active.discard(id(node))
    try:
        value = loader.construct_object(node, deep=True)
    except (ValueError, TypeError, OverflowError) as exc:  # an explicit tag with a bad value
        issues.append((loc, f"cannot read value: {exc}", _mark(node)))
        return None
    if isinstance(value, str) and "\x00" in value:
        # A "\0" or "\x00" escape: no database stores it in text.
        issues.append((loc, "NUL character (\\0 escape) is not allowed", _mark(node)))
        return None
    return value


def _mark(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _TooLarge(Exception):
    """The document expands to more than :data:`MAX_NODES` nodes."""


def _collection(
    loader: yaml.SafeLoader,
    node: yaml.MappingNode | yaml.SequenceNode,
    loc: Loc,
    positions: _Positions,
    issues: list[Found],
) -> Any:
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            try:
                key = loader.construct_object(key_node, deep=True)
            except (ValueError, TypeError, OverflowError) as exc:
                issues.append((loc, f"cannot read key: {exc}", _mark(key_node)))
                continue
            if not isinstance(key, str | int | float | bool) or key is None:
                issues.append((loc, f"mapping keys must be plain scalars, got {key!r}", None))
                continue
            if isinstance(key, str) and "\x00" in key:
                issues.append((loc, "NUL character (\\0 escape) in a key", _mark(key_node)))
                continue
            child: Loc = (*loc, str(key))
            if key in result:
                first = positions.find(child)[0]
                again = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                issues.append(
                    (child, f"duplicate key {key!r} (first defined on line {first})", again)
                )
                continue
            positions.add(child, key_node)
            result[key] = _to_data(loader, value_node, child, positions, issues)
        return result
    return [
        _to_data(loader, item, (*loc, index), positions, issues)
        for index, item in enumerate(node.value)
    ]


# -- public API ---------------------------------------------------------------------------


def parse_experiment(
    text: str, *, file: str, base_dir: Path | None = None, model_dirs: Sequence[Path] = ()
) -> Experiment:
    """Validate the YAML ``text`` of one experiment; ``file`` is only used in messages.

    Router model files (``arms.N.router.model``) are read relative to ``base_dir`` (the
    experiment file's directory; default: the working directory) and must lie inside it or
    inside one of ``model_dirs``.

    Raises
    ------
    ConfigError
        With every problem found: YAML syntax, duplicate keys, unknown or missing fields,
        wrong types and cross-field rules, each with its line and column.
    """
    if "\x00" in text:
        raise ConfigError([ConfigIssue(file, 1, 1, "", "file is binary, not YAML text")])
    loader: yaml.SafeLoader | None = None
    try:
        # The constructor already scans for unprintable characters: keep it inside the try.
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is None:
            raise ConfigError([ConfigIssue(file, 1, 1, "", "file is empty; expected a mapping")])
        positions = _Positions()
        structural: list[Found] = []
        data = _to_data(loader, node, (), positions, structural)
    except _TooLarge:
        message = f"document expands to more than {MAX_NODES:,} nodes through aliases"
        raise ConfigError([ConfigIssue(file, 1, 1, "", message)]) from None
    except yaml.MarkedYAMLError as exc:
        where = exc.problem_mark or exc.context_mark
        line, column = (where.line + 1, where.column + 1) if where is not None else (1, 1)
        problem = exc.problem or "invalid YAML"
        if "\t" in problem or "'\\t'" in problem:
            problem = "tab character: YAML indentation must use spaces"
        raise ConfigError(
            [ConfigIssue(file, line, column, "", f"YAML syntax: {problem}")]
        ) from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        message = f"character #x{exc.character:04x} is not allowed in YAML (binary?)"
        if isinstance(exc.character, str):
            message = f"character {exc.character!r} is not allowed in YAML (binary?)"
        raise ConfigError([ConfigIssue(file, line, column, "", message)]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigIssue(file, 1, 1, "", f"YAML error: {exc}")]) from None
    finally:
        if loader is not None:
            loader.dispose()

    if not isinstance(data, dict):
        kind = type(data).__name__
        raise ConfigError(
            [ConfigIssue(file, 1, 1, "", f"expected a mapping of experiment fields, got a {kind}")]
        )

    found: list[Found] = list(structural)
    read_router_models(data, base_dir or Path.cwd(), model_dirs, found)
    experiment: Experiment | None = None
    try:
        experiment = Experiment.model_validate(data)
    except ValidationError as exc:
        # A value already reported as unreadable (or a model file reported as unusable) would
        # only add noise such as "valid string".
        reported = {loc for loc, _, _ in found}
        errors = exc.errors()
        found.extend(f for f in describe_all(errors) if f[0] not in reported)
        # The rules between fields too, in the same run (pydantic skips them after an error).
        known = {(loc, message) for loc, message, _ in found}
        found.extend(f for f in cross_field_issues(data, errors) if (f[0], f[1]) not in known)
    if found or experiment is None:
        issues = []
        for loc, message, mark in found:
            line, column = mark if mark is not None else positions.find(loc)
            issues.append(ConfigIssue(file, line, column, dotted(loc), message))
        issues.sort(key=lambda issue: (issue.line, issue.column))
        raise ConfigError(issues)
    return experiment


def load_experiment(path: str | Path, *, model_dirs: Sequence[Path] = ()) -> LoadedExperiment:
    """Read and validate one experiment file (at most :data:`MAX_FILE_BYTES`); router model
    files may also lie in ``model_dirs``."""
    path = Path(path)
    try:
        raw = read_bounded(path, MAX_FILE_BYTES)
    except OSError as exc:
        raise ConfigError(
            [ConfigIssue(str(path), 0, 0, "", f"cannot read: {exc.strerror}")]
        ) from None
    except FileTooLargeError:
        message = f"file is larger than {MAX_FILE_BYTES:,} bytes; an experiment file is small"
        raise ConfigError([ConfigIssue(str(path), 0, 0, "", message)]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            [ConfigIssue(str(path), line, 1, "", "file is not UTF-8 text (binary?)")]
        ) from None
    experiment = parse_experiment(text, file=str(path), base_dir=path.parent, model_dirs=model_dirs)
    return LoadedExperiment(path, experiment, text)


def _is_folder(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # a name too long: reading it reports the problem
        return False


def experiment_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand directories into their ``*.yaml``/``*.yml`` files, sorted; keep files as given."""
    files: list[Path] = []
    for entry in map(Path, paths):
        if _is_folder(entry):
            files.extend(sorted(p for p in entry.iterdir() if p.suffix in {".yaml", ".yml"}))
        else:
            files.append(entry)
    return files


def load_all(
    paths: Iterable[str | Path], *, model_dirs: Sequence[Path] = ()
) -> list[LoadedExperiment]:
    """Load every file, then raise one :class:`ConfigError` with the issues of all of them."""
    entries = [Path(p) for p in paths]
    loaded: list[LoadedExperiment] = []
    issues = [
        ConfigIssue(str(folder), 0, 0, "", "no .yaml or .yml files in this folder")
        for folder in entries
        if _is_folder(folder) and not experiment_files([folder])
    ]
    for path in experiment_files(entries):
        try:
            loaded.append(load_experiment(path, model_dirs=model_dirs))
        except ConfigError as exc:
            issues.extend(exc.issues)
    if issues:
        raise ConfigError(issues)
    return loaded
