"""Scripts in benchmarks/ that judge, draw or write suites: genre2 targets, learning curves,
the genre2-tabular tune's suite writer."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _script(name: str):
    """The module benchmarks/<name>.py (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


targets_script = _script("genre2_tabular_targets")

Y = np.arange(40, dtype=float)


def run(folder: Path, method: str, seed: int, offset: float, validation: float, r2: float):
    path = Path("p") / f"{method}-{seed}.csv"
    (folder / "p").mkdir(exist_ok=True)
    pd.DataFrame({"y_true": Y, "y_pred": Y + offset}).to_csv(folder / path, index=False)
    uncertainty = {"coverage_90": 0.8, "conformal_coverage_90": 0.9, "conformal_width_90": 2.0}
    return {"dataset": "d", "method": method, "status": "ok", "predictions": str(path),
            "metrics": {"r2": r2}, "train": {"evaluations": [{"rmse": validation + 1},
                                                             {"rmse": validation}]},
            "uncertainty": uncertainty}  # fmt: skip


def test_models_are_chosen_on_validation_and_judged_on_test(tmp_path):
    rows = [
        run(tmp_path, "tab-ce", 0, 0.5, validation=1.0, r2=0.80),
        run(tmp_path, "tab-ntl", 0, 0.1, validation=0.9, r2=0.90),  # chosen: lower validation
        run(tmp_path, "tab-remax", 0, 0.4, validation=0.8, r2=0.85),
        run(tmp_path, "tab-genre2", 0, 0.1, validation=0.7, r2=0.95),  # chosen
        run(tmp_path, "tab-crps", 0, 0.3, validation=0.75, r2=0.84),
        {**run(tmp_path, "gbdt", 0, 2.0, validation=0, r2=0.5), "train": None},
        {**run(tmp_path, "gbdt-cqr", 0, 2.0, validation=0, r2=0.5), "train": None,
         "uncertainty": {"conformal_coverage_90": 0.9, "conformal_width_90": 3.0}},
        run(tmp_path, "tab-ce", 1, 0.5, validation=1.0, r2=0.80),  # a second seed of one only
    ]  # fmt: skip
    tables = targets_script.by_dataset(rows, seeds=1)
    assert "tab-ce" not in tables["d"]  # two seeds where one is expected: left out
    rows = rows[:-1]
    entry = targets_script.judge(targets_script.by_dataset(rows, seeds=1), tmp_path)["d"]
    # NTL errs by 0.1 on every row, gbdt by 2.0: RMSE difference exactly -1.9
    assert entry["decoding"]["chosen"] == "tab-ntl" and entry["decoding"]["at_or_above_gbdt"]
    assert entry["decoding"]["rmse_minus_gbdt"]["difference"] == pytest.approx(0.1 - 2.0)
    assert entry["rl"]["chosen"] == "tab-genre2" and entry["rl"]["raises"]
    assert entry["crps_vs_remax"]["at_or_above"] is False  # 0.84 < 0.85
    assert entry["intervals"]["after_in_range"] and not entry["intervals"]["before_in_range"]
    assert entry["intervals"]["narrower_than_gbdt_cqr"]  # 2.0 < 3.0
    judged = targets_script.targets({"d": entry}, total=2)
    rl = judged["RL raises CE's test R^2 on >= 8 of 10"]
    assert (rl["count"], rl["judged"], rl["met"]) == (1, 1, False)  # one of two sets is in
    assert judged["RL raises the panel's mean R^2 by >= 0.02"]["gain"] == pytest.approx(0.15)
    assert targets_script.targets({"d": entry, "e": entry}, total=2)[
        "decoding model at or above gradient boosting on >= 5 of 10"]["met"]  # fmt: skip


def test_learning_curves_table_by_training_rows(tmp_path):
    curves_script = _script("learning_curves")

    def cell(label, rows, rmse, status="ok"):
        return {"dataset": "d", "method": label.lower(), "label": label, "status": status,
                "rows": {"train": rows}, "metrics": {"rmse": rmse}}  # fmt: skip

    rows = [cell("RAFT", 250, 1.0), cell("RAFT", 250, 0.8), cell("RAFT", 500, 0.7),
            cell("Ridge", 500, 0.9), cell("Ridge", 250, 5.0, status="failed")]  # fmt: skip
    table = curves_script.curves(rows)
    assert table == {"d": {"RAFT": {250: [1.0, 0.8], 500: [0.7]}, "Ridge": {500: [0.9]}}}
    text = curves_script.markdown(table, "cmd")
    assert "| RAFT | 0.900 ± 0.141 (2) | 0.700 ± 0.000 (1) |" in text  # std sqrt(0.02)
    assert "| Ridge | - | 0.900 ± 0.000 (1) |" in text
    assert curves_script.plot("d", table["d"], tmp_path / "d.png").read_bytes()[:4] == b"\x89PNG"


def test_learning_curves_largest_point_is_raft_cpus_cells_of_the_same_settings():
    """raft-cpu's RAFT and CE + RAIL cells stand in for the curves' largest size: they must
    differ from a learning-curves cell only in the training rows and the warmup."""
    from decoreg.bench.suite import load_suite

    curves_script = _script("learning_curves")
    curves_suite, raft_suite = load_suite("learning-curves"), load_suite("raft-cpu")
    kept = curves_script.same_methods(
        [{"method": "raft"}, {"method": "mbr"}, {"method": "ridge-minilm"}], curves_suite
    )
    assert [row["method"] for row in kept] == ["raft", "ridge-minilm"]
    small = {(c.dataset.name, c.method.name, c.seed): c for c in curves_suite.cells()
             if c.grid == "rows-1000"}  # fmt: skip
    large = [c for c in raft_suite.cells() if c.method.name in {"raft", "ce-rail", "ridge-minilm"}]
    assert len(large) == len(small) == 18
    for cell in large:
        other = small[(cell.dataset.name, cell.method.name, cell.seed)]
        spec_large, spec_small = cell.dataset.spec(), other.dataset.spec()
        assert spec_large.pop("train_rows") > spec_small.pop("train_rows")
        assert spec_large == spec_small
        differing = {k for k in cell.params.keys() | other.params.keys()
                     if cell.params.get(k) != other.params.get(k)}  # fmt: skip
        assert differing <= {"warmup_steps"}


def test_tune_writes_the_suites_dataset_params_and_reproduces_the_committed_file():
    import yaml

    writer = _script("genre2_tabular_tune")
    suite_file = ROOT / "src" / "decoreg" / "bench" / "suites" / "genre2-tabular.yaml"
    committed = suite_file.read_text()
    tuned = yaml.safe_load(
        (ROOT / "benchmarks" / "results" / "genre2-tabular-tune" / "suite_params.yaml").read_text()
    )
    assert writer.suite_with_params(committed, tuned) == committed  # the suite is the study's
    changed = writer.suite_with_params(committed, {"concrete": {"learning_rate": 0.0123456}})
    lines = zip(committed.splitlines(), changed.splitlines(), strict=True)
    diff = [(a, b) for a, b in lines if a != b]
    assert len(diff) == 1 and diff[0][1] == "        params: {learning_rate: 0.01235}"
    assert "concrete" in committed.splitlines()[committed.splitlines().index(diff[0][0]) - 4]
    with pytest.raises(ValueError, match="'nope'"):
        writer.suite_with_params(committed, {"nope": {"learning_rate": 0.1}})


def test_numeric_embedding_cells_differ_from_the_panels_only_in_the_embedding():
    """Each variant's cell is genre2-tabular's CE cell of the same set and seed, except for
    the grid's name and (periodic) the embedding options."""
    import yaml

    from decoreg.bench.suite import load_suite

    script = _script("numeric_embedding")
    document = script.suite_document(["concrete", "ames"], [0, 1])
    assert [g["name"] for g in document["grids"]] == list(script.VARIANTS)
    panel = {(c.dataset.name, c.seed): c for c in load_suite("genre2-tabular").cells()
             if c.method.name == "tab-ce"}  # fmt: skip
    path = ROOT / "build" / "test-numeric-embedding-suite.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    cells = load_suite(path).cells()
    assert len(cells) == 3 * 2 * 2
    for cell in cells:
        other = panel[(cell.dataset.name, cell.seed)]
        assert cell.dataset.spec() == other.dataset.spec() and cell.method.name == "tab-ce"
        options, panel_options = (dict(c.params["tabular_options"]) for c in (cell, other))
        assert {k: v for k, v in cell.params.items() if k != "tabular_options"} == {
            k: v for k, v in other.params.items() if k != "tabular_options"
        }
        added = {k: options.pop(k) for k in set(options) - set(panel_options)}
        assert options == panel_options
        assert added == {
            k: v for k, v in script.VARIANTS[cell.grid].items() if cell.grid != "linear"
        }
    with pytest.raises(SystemExit, match="'nope'"):
        script.suite_document(["nope"], [0])
