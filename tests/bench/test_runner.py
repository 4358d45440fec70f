"""The runner end to end on a tiny local model: rows, sharing, failures, resume, report, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from decoreg.bench.publish import write_report
from decoreg.bench.rows import RESULTS_FILE, RUNS_FILE, read_rows
from decoreg.bench.runner import run_suite
from decoreg.bench.suite import load_suite
from decoreg.cli import main
from decoreg.errors import ConfigError


def _write_suite(folder: Path, model_dir: Path, raft_params: dict | None = None) -> Path:
    texts = [f"item {i} is {'good' if i % 2 else 'bad'}" for i in range(200)]
    pd.DataFrame({"text": texts, "score": [4 if i % 2 else 2 for i in range(200)]}).to_csv(
        folder / "toy.csv", index=False
    )
    suite = {
        "name": "toy",
        "description": "tiny end-to-end suite",
        "seeds": [0, 1],
        "quick": {"train_rows": 12, "validation_rows": 12, "test_rows": 5, "seeds": [0],
                  "params": {"max_steps": 1}},
        "grids": [{
            "name": "toy",
            "datasets": {"toy.csv": {"train_rows": 20, "validation_rows": 12, "test_rows": 6,
                                     "target_column": "score", "text_column": "text",
                                     "template": "Q: {text}\nA: "}},
            "methods": ["zero-shot-rail-grid", "ce-greedy", "ce-rail", "head-token", "raft", "mean",
                        "ridge-tfidf", "gbdt-cqr-tfidf"],
            "models": [str(model_dir)],
            "params": {"max_steps": 2, "batch_size": 4, "eval_every": 1, "bf16": False,
                       "learning_rate": 1e-2, "warmup_steps": 0},
            "method_params": {"raft": raft_params or {}},
        }],
    }  # fmt: skip
    path = folder / "toy.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


def _silent(line: str) -> None:
    pass


def test_run_records_rows_shares_fits_and_survives_a_failed_cell(tmp_path, tiny_model_dir):
    # grid [1.0] cannot be a RAFT grid: that cell fails, the others go on.
    suite = load_suite(_write_suite(tmp_path, tiny_model_dir, raft_params={"grid": [1.0]}))
    output = tmp_path / "out"
    summary = run_suite(suite, output, echo=_silent)
    rows = read_rows(output / RESULTS_FILE)
    assert summary.run == len(rows) == 16 and summary.failed == 2 and summary.skipped == 0
    by_cell = {r["cell"]: r for r in rows}
    failed = by_cell[f"toy/toy.csv/raft/{tiny_model_dir}/0"]
    assert failed["status"] == "failed" and "grid" in failed["error"]["message"]
    assert "Traceback" in failed["error"]["traceback"]
    ok = [r for r in rows if r["status"] == "ok"]
    for row in ok:
        assert set(row["metrics"]) >= {"rmse", "mae", "r2", "spearman", "unparseable_share"}
        assert row["rows"] == {"train": 20, "validation": 12, "test": 6}
        assert row["peak_rss_mb"] > 0 and row["wall_seconds"] >= row["fit_seconds"]
        assert row["environment"]["versions"]["torch"]
        assert row["config"]["dataset"]["name"] == "toy.csv"
        predictions = pd.read_csv(output / row["predictions"])
        assert len(predictions) == 6
        assert list(predictions.columns)[:3] == ["y_true", "y_pred", "parsed"]
    greedy = by_cell[f"toy/toy.csv/ce-greedy/{tiny_model_dir}/0"]
    rail = by_cell[f"toy/toy.csv/ce-rail/{tiny_model_dir}/0"]
    assert rail["shared_fit_with"] == greedy["cell"] and rail["fit_seconds"] == 0.0
    assert "shared_fit_with" not in greedy and greedy["train"]["steps_run"] == 2
    assert len(greedy["train"]["evaluations"]) == 2
    assert by_cell["toy/toy.csv/mean/-/1"]["train"] is None
    head = by_cell[f"toy/toy.csv/head-token/{tiny_model_dir}/0"]
    assert head["status"] == "ok" and head["metrics"]["unparseable_share"] == 0.0
    runs = read_rows(output / RUNS_FILE)
    assert len(runs) == 1 and runs[0]["run"] == 16 and runs[0]["failed"] == 2
    # distributions: grid decoders scored before and after CQR on the 12 validation rows
    scores = rail["uncertainty"]
    assert {"crps", "nll", "coverage_90", "width_90"} <= set(scores) and "note" not in scores
    assert 0 <= scores["conformal_coverage_90"] <= 1 and scores["conformal_width_90"] > 0
    assert list(pd.read_csv(output / rail["predictions"]).columns)[3:] == [
        "pit", "lower", "upper", "conformal_lower", "conformal_upper"]  # fmt: skip
    assert greedy["uncertainty"] is None and head["uncertainty"] is None
    cqr = by_cell["toy/toy.csv/gbdt-cqr-tfidf/-/0"]["uncertainty"]
    assert cqr["crps"] is None and 0 <= cqr["conformal_coverage_90"] <= 1


def test_resume_skips_finished_cells_and_reruns_failed_ones(tmp_path, tiny_model_dir):
    suite = load_suite(_write_suite(tmp_path, tiny_model_dir, raft_params={"grid": [1.0]}))
    output = tmp_path / "out"
    run_suite(suite, output, quick=True, echo=_silent)
    first = read_rows(output / RESULTS_FILE)
    assert len(first) == 8  # quick: one seed
    with pytest.raises(ConfigError, match="--resume"):
        run_suite(suite, output, quick=True, echo=_silent)
    again = run_suite(suite, output, quick=True, resume=True, echo=_silent)
    assert again.skipped == 7 and again.run == 1 and again.failed == 1  # only the failed cell
    rows = read_rows(output / RESULTS_FILE)
    assert [r["method"] for r in rows[8:]] == ["raft"]
    # A fixed suite: the raft cell now runs, the rest is still skipped.
    fixed = load_suite(_write_suite(tmp_path, tiny_model_dir))
    third = run_suite(fixed, output, quick=True, resume=True, echo=_silent)
    assert (third.run, third.skipped, third.failed) == (1, 7, 0)
    # The full (non-quick) cells have other keys: none of them counts as finished.
    full = run_suite(fixed, output, resume=True, echo=_silent)
    assert full.skipped == 0 and full.run == 16


def test_report_renders_tables_plots_and_failures(tmp_path, tiny_model_dir):
    suite = load_suite(_write_suite(tmp_path, tiny_model_dir, raft_params={"grid": [1.0]}))
    output = tmp_path / "out"
    run_suite(suite, output, echo=_silent)
    path = write_report(suite, output)
    text = path.read_text()
    assert "# Benchmark suite `toy`" in text and "## toy: toy.csv" in text
    assert "| CE + RAIL |" in text and "| Ridge (TF-IDF) |" in text
    assert "2/2" in text and "Failed cells:" in text and "toy/toy.csv/raft" in text
    assert "14 finished, 2 failed" in text
    assert "| MAPIE CQR (GBR, TF-IDF) | - | - | - | - |" in text
    assert "paired bootstrap" in text or not suite.orderings
    plots = sorted(p.name for p in (output / "plots").iterdir())
    assert plots == ["toy--toy.csv-intervals.png", "toy--toy.csv-learning-curves.png",
                     "toy--toy.csv-pred-vs-true.png", "toy--toy.csv-reliability.png",
                     "toy--toy.csv-rmse.png"]  # fmt: skip
    for name in plots:
        assert f"(plots/{name})" in text
        assert (output / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_cli_quick_end_to_end_and_report_only(tmp_path, tiny_model_dir, capsys):
    suite_path = _write_suite(tmp_path, tiny_model_dir)
    output = tmp_path / "cli-out"
    assert main(["bench", str(suite_path), "--quick", "--output", str(output)]) == 0
    assert "8 cells run (0 failed)" in capsys.readouterr().out
    rows = read_rows(output / RESULTS_FILE)
    assert all(r["status"] == "ok" and r["quick"] for r in rows)
    assert json.loads((output / RUNS_FILE).read_text().splitlines()[0])["command"].startswith(
        "decoreg bench"
    )
    (output / "results.md").unlink()
    assert main(["bench", str(suite_path), "--quick", "--output", str(output),
                 "--report-only"]) == 0  # fmt: skip
    assert (output / "results.md").exists()
    assert main(["bench", "no-such-suite"]) == 2
    assert "built-in suites: " in capsys.readouterr().err


_STAGED_PARAMS = {"family": "causal-lm", "objective": "raft", "decoder": "grid-mean"}


def _count_fits(monkeypatch) -> list[tuple[str, Path | None]]:
    """Every fit the runner makes from now on: (method name, the folder it starts from)."""
    import decoreg.bench.cell_run as cell_run

    fits = []
    real_fit = cell_run._fit

    def counting_fit(cell, data, output, placement, init_from=None, **options):
        fits.append((cell.method.name, init_from))
        return real_fit(cell, data, output, placement, init_from, **options)

    monkeypatch.setattr(cell_run, "_fit", counting_fit)
    return fits


def _staged_suite(tmp_path, tiny_model_dir, methods: list[str]) -> tuple[Path, dict]:
    """The toy suite with `methods` and no method parameters, written to staged.yaml."""
    data = yaml.safe_load(_write_suite(tmp_path, tiny_model_dir).read_text())
    data["grids"][0]["methods"] = methods
    data["grids"][0]["method_params"] = {}
    path = tmp_path / "staged.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, data


def test_warm_started_method_reuses_its_first_stage(tmp_path, tiny_model_dir, monkeypatch):
    from decoreg.bench.methods import METHODS, Method

    staged = Method("ce-then-raft", "CE then RAFT", "RAFT from the CE model", ("text",),
                    _STAGED_PARAMS, warm_start="ce-greedy")  # fmt: skip
    monkeypatch.setitem(METHODS, "ce-then-raft", staged)
    fits = _count_fits(monkeypatch)
    path, data = _staged_suite(tmp_path, tiny_model_dir, ["ce-then-raft", "ce-greedy"])
    suite = load_suite(path)
    cells = suite.cells(quick=True)
    assert cells[0].warm_start.method.name == "ce-greedy"
    assert cells[0].config()["warm_start"] == cells[1].config()
    summary = run_suite(suite, tmp_path / "out", quick=True, echo=_silent)
    assert summary.failed == 0
    # The CE cell runs first (its group), then RAFT starts from its saved model: 2 fits.
    assert [name for name, _ in fits] == ["ce-greedy", "ce-then-raft"]
    assert fits[1][1] is not None and (fits[1][1] / "decoreg.json").exists()
    rows = read_rows(tmp_path / "out" / RESULTS_FILE)
    staged_row = next(r for r in rows if r["method"] == "ce-then-raft")
    assert staged_row["warm_start"]["cell"] == cells[1].cell_id
    # Alone in another folder, the staged method finds its first stage saved: no CE fit.
    data["grids"][0]["methods"] = ["ce-then-raft"]
    path.write_text(yaml.safe_dump(data))
    fits.clear()
    run_suite(load_suite(path), tmp_path / "out2", quick=True, echo=_silent)
    assert [name for name, _ in fits] == ["ce-then-raft"]
    assert read_rows(tmp_path / "out2" / RESULTS_FILE)[0]["warm_start_seconds"] == 0.0


def test_bench_device_and_precision_override_the_suite(tmp_path, tiny_model_dir, monkeypatch):
    """`bench --precision fp32` replaces a suite's `bf16: false` (no refusal for both) and
    `--device` reaches every cell's estimator."""
    import decoreg.bench.cell_run as cell_run

    seen = []
    real_fit = cell_run._fit

    def recording_fit(cell, data, output, placement, init_from=None, **options):
        estimator = real_fit(cell, data, output, placement, init_from, **options)
        if not cell.method.is_baseline:
            seen.append({k: estimator.get_params()[k] for k in ("device", "precision", "bf16")})
        return estimator

    monkeypatch.setattr(cell_run, "_fit", recording_fit)
    data = yaml.safe_load(_write_suite(tmp_path, tiny_model_dir).read_text())
    data["grids"][0]["methods"] = ["ce-greedy"]
    data["grids"][0]["method_params"] = {}
    path = tmp_path / "one.yaml"
    path.write_text(yaml.safe_dump(data))
    placement = {"device": "cpu", "precision": "bf16-mixed"}
    summary = run_suite(load_suite(path), tmp_path / "out", quick=True, echo=_silent,
                        placement=placement)  # fmt: skip
    assert summary.failed == 0
    assert seen == [{"device": "cpu", "precision": "bf16-mixed", "bf16": None}]


def test_another_decoder_of_a_warm_started_model_reuses_its_fit(
    tmp_path, tiny_model_dir, monkeypatch
):
    from decoreg.bench.methods import METHODS, Method

    staged = Method("ce-then-raft", "CE then RAFT", "RAFT from the CE model", ("text",),
                    _STAGED_PARAMS, warm_start="ce-greedy")  # fmt: skip
    median = Method("ce-then-raft-median", "CE then RAFT (median)", "the same, median",
                    ("text",), {**_STAGED_PARAMS, "decoder": "grid-median"},
                    warm_start="ce-greedy")  # fmt: skip
    monkeypatch.setitem(METHODS, staged.name, staged)
    monkeypatch.setitem(METHODS, median.name, median)
    fits = _count_fits(monkeypatch)
    path, _ = _staged_suite(tmp_path, tiny_model_dir, ["ce-then-raft", "ce-then-raft-median"])
    summary = run_suite(load_suite(path), tmp_path / "out", quick=True, echo=_silent)
    assert summary.failed == 0
    assert [name for name, _ in fits] == ["ce-greedy", "ce-then-raft"]  # first stage, RAFT once
    rows = {r["method"]: r for r in read_rows(tmp_path / "out" / RESULTS_FILE)}
    assert rows["ce-then-raft-median"]["shared_fit_with"] == rows["ce-then-raft"]["cell"]
    assert rows["ce-then-raft-median"]["fit_seconds"] == 0.0


def test_a_cell_killed_mid_training_continues_from_its_checkpoint(
    tmp_path, tiny_model_dir, monkeypatch
):
    """A run that dies at step 3 of a 4-step cell leaves checkpoints of steps 1-2; `--resume`
    trains steps 3-4 only and ends with the uninterrupted run's losses and predictions."""
    import decoreg.training as training
    from decoreg.bench.cell_run import checkpoint_folder

    path, data = _staged_suite(tmp_path, tiny_model_dir, ["ce-greedy"])
    data["grids"][0]["params"]["max_steps"] = 4
    data["seeds"] = [0]
    path.write_text(yaml.safe_dump(data))
    suite = load_suite(path)
    run_suite(suite, tmp_path / "whole", echo=_silent, checkpoint_every=1)
    whole = read_rows(tmp_path / "whole" / RESULTS_FILE)[0]
    cell = suite.cells()[0]
    assert not checkpoint_folder(cell).exists()  # removed once the fit is done
    real_step = training._optimizer_step

    def dying_step(engine, objective, train, order, step, *args):
        if step == 3:
            raise RuntimeError("killed")
        return real_step(engine, objective, train, order, step, *args)

    monkeypatch.setattr(training, "_optimizer_step", dying_step)
    run_suite(suite, tmp_path / "killed", echo=_silent, checkpoint_every=1)
    assert read_rows(tmp_path / "killed" / RESULTS_FILE)[0]["status"] == "failed"
    assert (checkpoint_folder(cell) / "step-00000002.ckpt").exists()
    steps_run = []
    monkeypatch.setattr(
        training, "_optimizer_step",
        lambda engine, objective, train, order, step, *args: (
            steps_run.append(step) or real_step(engine, objective, train, order, step, *args)
        ),
    )  # fmt: skip
    run_suite(suite, tmp_path / "killed", resume=True, echo=_silent, checkpoint_every=1)
    resumed = read_rows(tmp_path / "killed" / RESULTS_FILE)[-1]
    assert resumed["status"] == "ok" and resumed["resumed_from_step"] == 2
    assert steps_run == [3, 4]
    assert resumed["train"]["loss"] == whole["train"]["loss"]  # steps 1-4, bit for bit
    assert resumed["metrics"] == whole["metrics"]
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "killed" / resumed["predictions"]),
        pd.read_csv(tmp_path / "whole" / whole["predictions"]),
    )


def test_the_cli_default_checkpoint_interval_is_the_harness_default():
    import decoreg.bench.cell_run as cell_run
    import decoreg.cli.bench as cli_bench

    assert cli_bench.DEFAULT_CHECKPOINT_EVERY == cell_run.DEFAULT_CHECKPOINT_EVERY


def test_datasets_and_methods_options_run_only_those_cells(tmp_path, tiny_model_dir):
    path, data = _staged_suite(tmp_path, tiny_model_dir, ["mean"])
    other = dict(data["grids"][0]["datasets"]["toy.csv"])
    (tmp_path / "toy2.csv").write_bytes((tmp_path / "toy.csv").read_bytes())
    data["grids"][0]["datasets"]["toy2.csv"] = other
    path.write_text(yaml.safe_dump(data))
    suite = load_suite(path)
    summary = run_suite(suite, tmp_path / "out", echo=_silent, datasets=["toy2.csv"])
    rows = read_rows(tmp_path / "out" / RESULTS_FILE)
    assert summary.run == 2 and {row["dataset"] for row in rows} == {"toy2.csv"}
    rest = run_suite(suite, tmp_path / "out", resume=True, echo=_silent)
    assert (rest.run, rest.skipped) == (2, 2)
    with pytest.raises(ConfigError, match=r"no dataset nope.*it has toy.csv, toy2.csv"):
        run_suite(suite, tmp_path / "out", resume=True, echo=_silent, datasets=["nope"])
    with pytest.raises(ConfigError, match=r"--methods: suite toy has no method raft; it has mean"):
        run_suite(suite, tmp_path / "out", resume=True, echo=_silent, methods=["raft"])
    only = run_suite(suite, tmp_path / "out", resume=True, rerun=True, echo=_silent,
                     datasets=["toy.csv"], methods=["mean"])  # fmt: skip
    assert (only.run, only.skipped) == (2, 0)


def test_rerun_runs_finished_cells_again_first_stages_included(
    tmp_path, tiny_model_dir, monkeypatch
):
    from decoreg.bench.methods import METHODS, Method

    staged = Method("ce-then-raft", "CE then RAFT", "RAFT from the CE model", ("text",),
                    _STAGED_PARAMS, warm_start="ce-greedy")  # fmt: skip
    monkeypatch.setitem(METHODS, "ce-then-raft", staged)
    path, _ = _staged_suite(tmp_path, tiny_model_dir, ["ce-then-raft", "mean"])
    suite = load_suite(path)
    fits = _count_fits(monkeypatch)
    run_suite(suite, tmp_path / "out", quick=True, echo=_silent)
    assert sorted(name for name, _ in fits) == ["ce-greedy", "ce-then-raft", "mean"]
    again = run_suite(suite, tmp_path / "out", quick=True, resume=True, echo=_silent)
    assert (again.run, again.skipped) == (0, 2)
    fits.clear()
    rerun = run_suite(suite, tmp_path / "out", quick=True, resume=True, rerun=True, echo=_silent)
    assert (rerun.run, rerun.skipped, rerun.failed) == (2, 0, 0)
    # the saved first stage was forgotten: CE is trained again, not read from the old run
    assert sorted(name for name, _ in fits) == ["ce-greedy", "ce-then-raft", "mean"]
    rows = read_rows(tmp_path / "out" / RESULTS_FILE)
    assert len(rows) == 4 and {r["key"] for r in rows[2:]} == {r["key"] for r in rows[:2]}
