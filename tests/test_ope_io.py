"""LOG and TARGET files for ``dunning ope``: good files, Parquet, and a table of bad inputs,
each reported with file, line and column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine import ope, ope_io
from engine.batchio import InputFileError

GOOD_LOG = """\
debtor_id,action,reward,propensity,segment,reward_hat_sms,reward_hat_none
D1,sms,1,0.5,WAOE,0.8,0.6
D2,none,0,0.5,DICE,0.2,0.1

D3,sms,1,0.25,WAOR,0.7,0.5
D4,none,1,0.75,WAOE,0.8,0.7
"""
GOOD_TARGET = """\
sms,none
1,0
0.5,0.5
0,1
0.25,0.75
"""


def write(tmp_path: Path, log: str = GOOD_LOG, target: str = GOOD_TARGET) -> tuple[Path, Path]:
    log_path, target_path = tmp_path / "log.csv", tmp_path / "target.csv"
    log_path.write_text(log, encoding="utf-8")
    target_path.write_text(target, encoding="utf-8")
    return log_path, target_path


def test_reads_good_files(tmp_path: Path) -> None:
    inputs = ope_io.read_ope_inputs(*write(tmp_path), estimator="dr")
    assert inputs.arms == ("sms", "none")
    assert inputs.n == 4
    np.testing.assert_array_equal(inputs.actions, [0, 1, 0, 1])
    np.testing.assert_array_equal(inputs.rewards, [1.0, 0.0, 1.0, 1.0])
    np.testing.assert_array_equal(inputs.propensities, [0.5, 0.5, 0.25, 0.75])
    np.testing.assert_array_equal(inputs.target[:, 0], [1.0, 0.5, 0.0, 0.25])
    assert inputs.reward_model is not None
    np.testing.assert_array_equal(inputs.reward_model[:, 1], [0.6, 0.1, 0.5, 0.7])
    assert list(inputs.context.columns) == ["debtor_id", "segment"]
    assert inputs.context["debtor_id"].tolist() == ["D1", "D2", "D3", "D4"]


def test_reward_model_only_for_dr(tmp_path: Path) -> None:
    inputs = ope_io.read_ope_inputs(*write(tmp_path), estimator="snips")
    assert inputs.reward_model is None


def test_arrays_feed_evaluate(tmp_path: Path) -> None:
    inputs = ope_io.read_ope_inputs(*write(tmp_path), estimator="dr")
    est = ope.evaluate(
        inputs.actions,
        inputs.rewards,
        inputs.propensities,
        inputs.target,
        estimator="dr",
        reward_model=inputs.reward_model,
        rng=np.random.default_rng(0),
        n_boot=50,
    )
    # By hand: w = [2, 1, 0, 1]; direct method per row = [0.8, 0.15, 0.5, 0.725]; residuals of
    # the logged arm = [0.2, -0.1, 0.3, 0.3] -> terms [1.2, 0.05, 0.5, 1.025], mean 0.69375.
    assert est.value == pytest.approx(0.69375, abs=1e-12)


def test_parquet_round_trip(tmp_path: Path) -> None:
    log_csv, target_csv = write(tmp_path)
    log_pq, target_pq = tmp_path / "log.parquet", tmp_path / "target.parquet"
    pd.read_csv(log_csv).to_parquet(log_pq)
    pd.read_csv(target_csv).to_parquet(target_pq)
    from_csv = ope_io.read_ope_inputs(log_csv, target_csv, estimator="dr")
    from_pq = ope_io.read_ope_inputs(log_pq, target_pq, estimator="dr")
    assert from_pq.arms == from_csv.arms
    for name in ("actions", "rewards", "propensities", "target", "reward_model"):
        np.testing.assert_array_equal(getattr(from_pq, name), getattr(from_csv, name))


def test_parquet_records_are_numbered_by_row(tmp_path: Path) -> None:
    log_pq = tmp_path / "log.parquet"
    frame = pd.DataFrame(
        {"action": ["sms", "none", None], "reward": [1.0, np.nan, 0.0], "propensity": 0.5}
    )
    frame.to_parquet(log_pq)
    target = tmp_path / "target.csv"
    target.write_text("sms,none\n1,0\n1,0\n1,0\n", encoding="utf-8")
    with pytest.raises(InputFileError) as info:
        ope_io.read_ope_inputs(log_pq, target)
    found = {(i.unit, i.line, i.column, i.message) for i in info.value.issues}
    assert found == {
        ("row", 2, "reward", "not a finite number"),
        ("row", 3, "action", "empty action"),
    }
    assert f"{log_pq}: row 2: reward: not a finite number" in {str(i) for i in info.value.issues}


LOG_HEAD = "action,reward,propensity\n"
TARGET_HEAD = "sms,none\n"
TWO_ROWS_TARGET = TARGET_HEAD + "1,0\n0,1\n"

BAD = [
    # (id, log text, target text, estimator, (file, line, column, message part))
    (
        "unknown action",
        LOG_HEAD + "sms,1,0.5\nletter,1,0.5\n",
        TWO_ROWS_TARGET,
        "ipw",
        ("log", 3, "action", "unknown action 'letter'; TARGET has columns sms, none"),
    ),
    (
        "empty action",
        LOG_HEAD + ",1,0.5\nsms,1,0.5\n",
        TWO_ROWS_TARGET,
        "ipw",
        ("log", 2, "action", "empty action"),
    ),
    (
        "zero propensity",
        LOG_HEAD + "sms,1,0\nsms,1,0.5\n",
        TWO_ROWS_TARGET,
        "ipw",
        ("log", 2, "propensity", "not a number in (0, 1]"),
    ),
    (
        "propensity above 1",
        LOG_HEAD + "sms,1,0.5\nsms,1,1.5\n",
        TWO_ROWS_TARGET,
        "ipw",
        ("log", 3, "propensity", "not a number in (0, 1]"),
    ),
    (
        "propensity not a number",
        LOG_HEAD + "sms,1,half\nsms,1,0.5\n",
        TWO_ROWS_TARGET,
        "ipw",
        ("log", 2, "propensity", "not a number in (0, 1]"),
    ),
    (
        "reward not a number",
        LOG_HEAD + "sms,1,0.5\nsms,yes,0.5\n",
        TWO_ROWS_TARGET,
        "ipw",
        ("log", 3, "reward", "not a finite number"),
    ),
    (
        "line numbers count blank lines",
        LOG_HEAD + "sms,1,0.5\n\n\nsms,,0.5\n",
        TWO_ROWS_TARGET,
        "ipw",
        ("log", 5, "reward", "not a finite number"),
    ),
    (
        "missing LOG column",
        "action,reward\nsms,1\nsms,1\n",
        TWO_ROWS_TARGET,
        "ipw",
        ("log", 1, "", "missing column(s): propensity"),
    ),
    (
        "wrong number of fields",
        LOG_HEAD + "sms,1,0.5\nsms,1\n",
        TWO_ROWS_TARGET,
        "ipw",
        ("log", 3, "", "2 fields, the header has 3"),
    ),
    (
        "target row not summing to 1",
        LOG_HEAD + "sms,1,0.5\nsms,1,0.5\n",
        TARGET_HEAD + "1,0\n0.5,0.4\n",
        "ipw",
        ("target", 3, "", "probabilities sum to 0.9, not 1 (tolerance 1e-06)"),
    ),
    (
        "target rounded too coarsely",
        "action,reward,propensity\nsms,1,0.5\n",
        "sms,none,x\n0.333333,0.333333,0.333333\n",
        "ipw",
        ("target", 2, "", "probabilities sum to 0.999999, not 1"),
    ),
    (
        "target cell not a probability",
        LOG_HEAD + "sms,1,0.5\nsms,1,0.5\n",
        TARGET_HEAD + "1.5,-0.5\n0,1\n",
        "ipw",
        ("target", 2, "sms", "not a probability in [0, 1]"),
    ),
    (
        "duplicate target column",
        LOG_HEAD + "sms,1,0.5\n",
        "sms,sms\n1,0\n",
        "ipw",
        ("target", 1, "sms", "duplicate column 'sms'"),
    ),
    (
        "row count mismatch",
        LOG_HEAD + "sms,1,0.5\nsms,1,0.5\nsms,0,0.5\n",
        TWO_ROWS_TARGET,
        "ipw",
        ("target", 0, "", "2 rows, but LOG"),
    ),
    (
        "dr without reward-hat columns",
        LOG_HEAD + "sms,1,0.5\nsms,1,0.5\n",
        TWO_ROWS_TARGET,
        "dr",
        ("log", 1, "", "missing column(s) reward_hat_sms, reward_hat_none: --estimator dr"),
    ),
    (
        "dr with a bad reward-hat cell",
        "action,reward,propensity,reward_hat_sms,reward_hat_none\n"
        "sms,1,0.5,0.5,0.5\nsms,1,0.5,n/a,0.5\n",
        TWO_ROWS_TARGET,
        "dr",
        ("log", 3, "reward_hat_sms", "not a finite number"),
    ),
]


@pytest.mark.parametrize(
    ("log", "target", "estimator", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD],
)
def test_bad_inputs(
    tmp_path: Path,
    log: str,
    target: str,
    estimator: ope.Estimator,
    expected: tuple[str, int, str, str],
) -> None:
    log_path, target_path = write(tmp_path, log, target)
    with pytest.raises(InputFileError) as info:
        ope_io.read_ope_inputs(log_path, target_path, estimator=estimator)
    file, line, column, message = expected
    path = {"log": log_path, "target": target_path}[file]
    assert any(
        i.file == str(path) and i.line == line and i.column == column and message in i.message
        for i in info.value.issues
    ), [str(i) for i in info.value.issues]


def test_every_problem_at_once_in_file_order(tmp_path: Path) -> None:
    log = LOG_HEAD + "letter,1,0.5\nsms,x,2\n"
    target = TARGET_HEAD + "1,0\n0.2,0.2\n"
    log_path, target_path = write(tmp_path, log, target)
    with pytest.raises(InputFileError) as info:
        ope_io.read_ope_inputs(log_path, target_path)
    where = [(Path(i.file).name, i.line, i.column) for i in info.value.issues]
    assert where == [
        ("log.csv", 2, "action"),
        ("log.csv", 3, "reward"),
        ("log.csv", 3, "propensity"),
        ("target.csv", 3, ""),
    ]
    assert str(info.value).splitlines()[0].endswith("log.csv:2: action: unknown action 'letter'; "
                                                    "TARGET has columns sms, none")  # fmt: skip


@pytest.mark.parametrize(
    ("name", "message"),
    [("log.xlsx", "unsupported file type '.xlsx'"), ("missing.csv", "file not found")],
)
def test_unreadable_log(tmp_path: Path, name: str, message: str) -> None:
    _, target = write(tmp_path)
    if name.endswith(".xlsx"):
        (tmp_path / name).write_bytes(b"PK")
    with pytest.raises(InputFileError, match=message) as info:
        ope_io.read_ope_inputs(tmp_path / name, target)
    assert info.value.issues[0].file == str(tmp_path / name)
