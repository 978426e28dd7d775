"""Hostile experiment files: numbers must be finite, nesting and sizes are bounded, NUL escapes
are refused, and a router model is read only from the experiment's folder (or an allowed models
folder) with a size cap; every message names the file and the line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.loader import MAX_DEPTH, ConfigError, load_all, load_experiment, parse_experiment
from engine.model_files import MAX_MODEL_BYTES
from tests.conftest import CHANNELS, ROOT
from tests.safety import invoke

ROUTER = ROOT / "experiments" / "collection_router.yaml"
MODEL = ROOT / "experiments" / "models" / "collection_router.json"


def issues(text: str, tmp_path: Path, name: str = "x.yaml") -> list[str]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
    return [str(issue) for issue in info.value.issues]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("cost: 9.50", "cost: .inf", r"arms.1.cost: must be a finite number"),
        ("cost: 9.50", "cost: -.INF", r"arms.1.cost: must be a finite number"),
        (
            "monthly_margin: 14.0",
            "monthly_margin: .nan",
            "clv.monthly_margin: must be a finite number",
        ),
        (
            "monthly_margin: 14.0",
            "monthly_margin: 1e400",
            "clv.monthly_margin: must be a finite number",
        ),
    ],
)
def test_numbers_must_be_finite(tmp_path: Path, old: str, new: str, expected: str) -> None:
    text = CHANNELS.read_text()
    assert old in text
    line = text[: text.index(old)].count("\n") + 1
    [issue] = issues(text.replace(old, new), tmp_path)
    assert issue.startswith(f"{tmp_path / 'x.yaml'}:{line}:")
    assert expected in issue


def test_deep_nesting_is_refused_with_its_line(tmp_path: Path) -> None:
    deep = "key: x\nname: " + "[" * 50_000 + "]" * 50_000 + "\n"
    [issue] = issues(deep, tmp_path)
    assert f"x.yaml:2:{6 + MAX_DEPTH}: YAML syntax: nested more than {MAX_DEPTH} levels" in issue
    block = "key: x\na:\n" + "".join("  " * i + "- \n" for i in range(1, 60))
    [issue] = issues(block, tmp_path)
    assert f"nested more than {MAX_DEPTH} levels" in issue


def test_nul_escapes_and_big_files_are_refused(tmp_path: Path) -> None:
    text = CHANNELS.read_text()
    name_line = next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith("name:"))
    nul = "\n".join(
        'name: "Dunning\\0 test"' if i == name_line else line
        for i, line in enumerate(text.splitlines(), 1)
    )
    [issue] = issues(nul, tmp_path)
    assert f"x.yaml:{name_line}:7: name: NUL character" in issue
    [issue] = issues(text + '\n"a\\x00b": 1\n', tmp_path)
    assert "NUL character (\\0 escape) in a key" in issue
    [issue] = issues(text + "#" * (1 << 20), tmp_path)
    assert "file is larger than 1,048,576 bytes" in issue
    with pytest.raises(ConfigError, match="not a regular file"):
        load_experiment("/dev/zero")


def router_setup(tmp_path: Path, model: str) -> Path:
    folder = tmp_path / "experiments"
    folder.mkdir(exist_ok=True)
    path = folder / "router.yaml"
    path.write_text(ROUTER.read_text().replace("models/collection_router.json", model))
    return path


def test_a_router_model_is_read_only_from_allowed_folders(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(MODEL, outside / "model.json")
    line = (
        ROUTER.read_text()
        .splitlines()
        .index("      model: models/collection_router.json   # relative to this file")
        + 1
    )
    for model in (
        "/etc/passwd",
        "/dev/zero",
        "../elsewhere/model.json",
        str(outside / "model.json"),
    ):
        path = router_setup(tmp_path, model)
        with pytest.raises(ConfigError) as info:
            load_experiment(path)
        [issue] = info.value.issues
        assert str(issue).startswith(f"{path}:{line}:7: arms.2.router.model: router model ")
        assert "is outside" in str(issue)
    # A symlink inside the folder that points outside is outside too.
    path = router_setup(tmp_path, "link.json")
    (path.parent / "link.json").symlink_to("/dev/zero")
    with pytest.raises(ConfigError, match="is outside"):
        load_experiment(path)
    # An allowed models folder (DUNNING_MODELS_DIR) admits it.
    path = router_setup(tmp_path, str(outside / "model.json"))
    assert load_experiment(path, model_dirs=[outside]).experiment.routers
    assert load_all([path], model_dirs=[outside])
    # Inside the folder: a device or an oversized file is refused before it is read whole.
    big = path.parent / "big.json"
    big.write_bytes(b" " * (MAX_MODEL_BYTES + 1))
    path = router_setup(tmp_path, "big.json")
    with pytest.raises(ConfigError, match="is larger than 4,194,304 bytes"):
        load_experiment(path)
    (path.parent / "dir.json").mkdir()
    path = router_setup(tmp_path, "dir.json")
    with pytest.raises(ConfigError, match="not a regular file"):
        load_experiment(path)


def test_deeply_nested_model_json_is_an_invalid_model(tmp_path: Path) -> None:
    path = router_setup(tmp_path, "deep.json")
    (path.parent / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ConfigError, match="JSON nested too deeply"):
        load_experiment(path)


def test_the_cli_honours_the_models_folder(tmp_path: Path) -> None:
    outside = tmp_path / "models"
    outside.mkdir()
    shutil.copy(MODEL, outside / "model.json")
    path = router_setup(tmp_path, str(outside / "model.json"))
    code, output = invoke("validate", str(path))
    assert (code, "is outside" in output) == (2, True), output
    code, output = invoke("validate", str(path), env={"DUNNING_MODELS_DIR": str(outside)})
    assert (code, "ok" in output) == (0, True), output


def test_an_empty_folder_is_a_problem_not_silence(tmp_path: Path) -> None:
    code, output = invoke("validate", str(tmp_path))
    assert code == 2
    assert f"{tmp_path}:0:0: no .yaml or .yml files in this folder" in output


def test_parse_experiment_refuses_a_nul_in_any_string() -> None:
    with pytest.raises(ConfigError, match="NUL character"):
        parse_experiment(
            CHANNELS.read_text().replace("owner: ", 'owner: "\\x00"\n#'), file="x.yaml"
        )
