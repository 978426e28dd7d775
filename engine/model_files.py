"""Files an experiment names: read with a size cap, and only from allowed folders.

A router arm names its model file (``router: {model: models/x.json}``). The path must resolve
(symlinks followed) inside the experiment file's folder or an allowed models folder, so an
experiment file cannot make the engine read ``/etc/passwd``; devices and pipes are refused and
the size is capped, so ``/dev/zero`` cannot exhaust memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.issues import Found, Loc
from engine.uplift.stored import parse_routing_model

#: Size of a router model file (a fitted router is a few KB).
MAX_MODEL_BYTES = 4 << 20


class FileTooLargeError(Exception):
    """A file is larger than the reader's limit."""


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes.

    Raises
    ------
    OSError
        The file cannot be read, or is not a regular file (a device such as ``/dev/zero`` or
        a pipe would never end).
    FileTooLargeError
        The file holds more than ``limit`` bytes.
    """
    if path.exists() and not path.is_file():
        raise IsADirectoryError(21, "not a regular file", str(path))
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise FileTooLargeError
    return data


def _model_path(model: str, base_dir: Path, model_dirs: Sequence[Path]) -> Path | str:
    """The router model file, or why it may not be read: it must lie in the experiment's
    folder or an allowed models folder (symlinks resolved), so that an experiment file cannot
    make the engine read an arbitrary file."""
    path = base_dir / model
    resolved = path.resolve()
    allowed = [base_dir.resolve(), *(d.resolve() for d in model_dirs)]
    if any(resolved.is_relative_to(folder) for folder in allowed):
        return path
    where = " or ".join(str(folder) for folder in allowed)
    return f"router model {model!r} is outside {where}; put the model file there"


def read_router_models(
    data: dict[str, Any], base_dir: Path, model_dirs: Sequence[Path], found: list[Found]
) -> None:
    """Put each router arm's model file content under ``router.fitted`` (see
    :class:`engine.config.Router`), or report why the file cannot be used."""
    arms = data.get("arms")
    for index, arm in enumerate(arms if isinstance(arms, list) else []):
        router = arm.get("router") if isinstance(arm, dict) else None
        if not isinstance(router, dict):
            continue
        where: Loc = ("arms", index, "router", "model")
        if "fitted" in router:
            message = "fitted is read from the model file; do not write it"
            found.append((("arms", index, "router", "fitted"), message, None))
            continue
        model = router.get("model")
        if not isinstance(model, str) or not model.strip():
            continue  # pydantic reports the missing or mistyped field
        path = _model_path(model.strip(), base_dir, model_dirs)
        if isinstance(path, str):
            found.append((where, path, None))
            continue
        try:
            text = read_bounded(path, MAX_MODEL_BYTES).decode("utf-8")
            router["fitted"] = parse_routing_model(text)
        except OSError as exc:
            message = f"cannot read router model {str(path)!r}: {exc.strerror}"
            found.append((where, message, None))
        except FileTooLargeError:
            message = f"router model {str(path)!r} is larger than {MAX_MODEL_BYTES:,} bytes"
            found.append((where, message, None))
        except (UnicodeDecodeError, ValueError) as exc:
            message = f"router model {str(path)!r} is invalid: {exc}"
            found.append((where, message, None))
