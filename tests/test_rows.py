"""Errors about a value name the file and the row as the file counts it (decoreg.rows)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from decoreg.cli import main
from decoreg.data import numeric_targets, read_table
from decoreg.datasets import load_table_dataset
from decoreg.errors import DataError
from decoreg.estimator import DecodingRegressor
from decoreg.rows import describe_row, reset_rows, row_source

TINY = {"d_model": 16, "heads": 2, "layers": 1, "ff_size": 32, "encoder_layers": 1}


def _rows(n: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x": rng.normal(size=n).round(3), "kind": rng.choice(["p", "q"], n),
                         "y": np.arange(n, dtype=float)})  # fmt: skip


def test_csv_lines_count_the_header_quoted_breaks_and_blank_lines(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('x,note\n1,"two\nlines"\n\n2,plain\n3,last\n')
    frame = read_table(path)
    assert len(frame) == 3
    assert [describe_row(frame, i) for i in range(3)] == [f"{path}, line {n}" for n in (2, 5, 6)]
    assert describe_row(frame.iloc[[2]], 0) == f"{path}, line 6"  # labels travel with rows


def test_jsonl_lines_and_parquet_rows(tmp_path):
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text('{"y": 1}\n\n{"y": 2}\n')
    assert describe_row(read_table(jsonl), 1) == f"{jsonl}, line 3"
    parquet = tmp_path / "d.parquet"
    pd.DataFrame({"y": [1.0, 2.0, 3.0]}).to_parquet(parquet)
    assert describe_row(read_table(parquet), 2) == f"{parquet}, row 3"


def test_reset_rows_keeps_the_file_rows_and_frames_still_write_parquet(tmp_path):
    path = tmp_path / "d.csv"
    _rows(6).to_csv(path, index=False)
    shuffled = reset_rows(read_table(path).iloc[[4, 1]])
    assert shuffled.index.tolist() == [0, 1]
    assert [describe_row(shuffled, i) for i in (0, 1)] == [f"{path}, line 6", f"{path}, line 3"]
    shuffled.to_parquet(tmp_path / "copy.parquet")  # the tag is plain JSON
    assert row_source(pd.DataFrame({"a": [1]})) is None
    relabelled = reset_rows(read_table(path).set_axis(list("abcdef")))
    assert row_source(relabelled) is None  # labels the caller set: the mapping is gone


def test_a_target_with_infinities_names_the_file_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("x,y\n1,2\n2,inf\n")
    with pytest.raises(DataError, match=r"t\.csv, line 3, column 'y': the target is infinite"):
        numeric_targets(read_table(path), "y", str(path))
    est = DecodingRegressor(family="tabular", max_steps=1, verbose=False, tabular_options=TINY)
    with pytest.raises(DataError, match=r"row 2, column 'y': the target is infinite"):
        est.fit(pd.DataFrame({"x": [1.0, 2.0]}), [1.0, np.inf])


def _train(tmp_path, data, *options):
    args = ["train", str(data), "--family", "tabular", "--target-column", "y", "--output",
            str(tmp_path / "model"), "--max-steps", "2", "--batch-size", "8", "--num-samples",
            "4", *[a for key in TINY for a in ("--tabular-option", f"{key}={TINY[key]}")],
            *options]  # fmt: skip
    return main(args)


def test_cli_train_names_the_file_and_line_of_a_missing_feature(tmp_path, capsys):
    data = tmp_path / "wages.csv"
    rows = _rows()
    rows.loc[8, "x"] = np.nan  # data row 9: line 10 of the file
    rows.to_csv(data, index=False)
    assert _train(tmp_path, data, "--tabular-option", "nan_policy=error") == 2
    err = capsys.readouterr().err
    assert f"{data}, line 10, column 'x' is missing" in err, err


def test_cli_train_takes_holes_by_default_and_reports_them(tmp_path, capsys):
    data = tmp_path / "wages.csv"
    rows = _rows()
    rows.loc[::5, "kind"] = None  # a categorical column empty in a fifth of the rows
    rows.loc[3, "x"] = np.nan
    rows.to_csv(data, index=False)
    assert _train(tmp_path, data) == 0
    out = capsys.readouterr().out
    assert "inputs: column 'kind':" in out and "a missing level" in out
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text())
    held = metrics["inputs"]["rows"]  # the training rows after the validation holdout
    assert metrics["inputs"]["missing_levels"] == ["kind"] and held == 18
    saved = json.loads((tmp_path / "model" / "tabular.json").read_text())
    assert saved["features"]["fit_report"]["missing"] == metrics["inputs"]["missing"]
    assert saved["config"]["nan_policy"] == "indicator"


def test_predict_and_user_tables_name_the_file_line(tmp_path):
    data = tmp_path / "rows.csv"
    _rows().to_csv(data, index=False)
    frame = read_table(data)
    est = DecodingRegressor(family="tabular", max_steps=1, verbose=False, tabular_options=TINY)
    est.fit(frame.drop(columns="y"), frame["y"])
    bad = tmp_path / "new.csv"
    _rows(5).astype({"x": object}).assign(x=["1", "2", "3", "oops", "5"]).to_csv(bad, index=False)
    with pytest.raises(DataError, match=r"new\.csv, line 5, column 'x' holds 'oops'"):
        est.predict(read_table(bad).drop(columns="y"))
    dataset = load_table_dataset(data, target_column="y", feature_columns=["x", "kind"], seed=1)
    test = dataset.split("test")
    first = int(test.index[0])  # a label of the dataset's frame, not of the file
    line = describe_row(test, 0)
    file_row = int(line.rsplit(" ", 1)[1]) - 2
    assert frame["x"].iloc[file_row] == dataset.frame["x"].iloc[first]
    with pytest.raises(DataError, match="leave the validation split empty"):
        load_table_dataset(data, target_column="y", feature_columns=["x"], max_rows=4)
