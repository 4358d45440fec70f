"""Suite files: strict keys, name checks, quick shrinking, parameter merging, cell keys."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from decoreg.bench.methods import METHODS, Method, available_methods, get_method
from decoreg.bench.suite import builtin_suites, load_suite, parse_suite
from decoreg.errors import ConfigError

BASE = {
    "name": "t",
    "description": "a test suite",
    "seeds": [0, 1],
    "quick": {"train_rows": 4, "validation_rows": 2, "test_rows": 3, "seeds": [0],
              "params": {"max_steps": 1}},
    "grids": [
        {
            "name": "g",
            "datasets": {"clothing-reviews": {"train_rows": 100, "validation_rows": 10,
                                              "test_rows": 50}},
            "methods": ["zero-shot-rail-grid", "ce-greedy", "ce-rail", "mean"],
            "params": {"max_steps": 20, "learning_rate": 1e-4},
            "method_params": {"ce-rail": {"learning_rate": 2e-4}},
        }
    ],
}  # fmt: skip


def suite_data(**changes):
    data = copy.deepcopy(BASE)
    data.update(changes)
    return data


def test_cells_cross_datasets_methods_models_and_seeds() -> None:
    suite = parse_suite(suite_data(), "t.yaml")
    cells = suite.cells()
    # 3 LM methods x 1 model x 2 seeds + mean x 2 seeds; the baseline has no model.
    assert len(cells) == 8
    assert [c.cell_id for c in cells[:2]] == [  # seeds first: a cut-short run has seed 0
        "g/clothing-reviews/zero-shot-rail-grid/smollm2-135m/0",
        "g/clothing-reviews/ce-greedy/smollm2-135m/0",
    ]
    assert cells[-1].cell_id == "g/clothing-reviews/mean/-/1" and cells[-1].params == {}
    assert len({c.key for c in cells}) == 8


def test_parameters_merge_in_documented_order() -> None:
    cells = {c.cell_id: c for c in parse_suite(suite_data(), "t.yaml").cells()}
    zero = cells["g/clothing-reviews/zero-shot-rail-grid/smollm2-135m/0"].params
    assert zero["max_steps"] == 0  # the method's own parameters win over the grid's
    ce = cells["g/clothing-reviews/ce-greedy/smollm2-135m/1"].params
    assert ce["max_steps"] == 20 and ce["learning_rate"] == 1e-4 and ce["random_state"] == 1
    assert ce["text_column"] == "text" and ce["template"].endswith("Rating (1 to 5 stars): ")
    assert cells["g/clothing-reviews/ce-rail/smollm2-135m/0"].params["learning_rate"] == 2e-4


def test_quick_mode_shrinks_sizes_seeds_and_steps_but_not_zero_shot() -> None:
    cells = parse_suite(suite_data(), "t.yaml").cells(quick=True)
    assert len(cells) == 4 and {c.seed for c in cells} == {0}
    entry = cells[0].dataset
    assert (entry.train_rows, entry.validation_rows, entry.test_rows) == (4, 2, 3)
    by_method = {c.method.name: c.params for c in cells}
    assert by_method["zero-shot-rail-grid"]["max_steps"] == 0
    assert by_method["ce-greedy"]["max_steps"] == 1


def test_fit_keys_are_shared_only_across_decoders() -> None:
    cells = {c.cell_id: c for c in parse_suite(suite_data(), "t.yaml").cells()}
    greedy = cells["g/clothing-reviews/ce-greedy/smollm2-135m/0"]
    rail = cells["g/clothing-reviews/ce-rail/smollm2-135m/0"]
    assert greedy.fit_key() != rail.fit_key()  # ce-rail has its own learning rate here
    data = suite_data()
    del data["grids"][0]["method_params"]
    cells = {c.cell_id: c for c in parse_suite(data, "t.yaml").cells()}
    greedy = cells["g/clothing-reviews/ce-greedy/smollm2-135m/0"]
    assert greedy.fit_key() == cells["g/clothing-reviews/ce-rail/smollm2-135m/0"].fit_key()
    assert greedy.fit_key() != cells["g/clothing-reviews/ce-greedy/smollm2-135m/1"].fit_key()
    assert greedy.key != cells["g/clothing-reviews/ce-rail/smollm2-135m/0"].key
    assert cells["g/clothing-reviews/mean/-/0"].fit_key() is None


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(seed=[0]), "unknown key 'seed'"),
        (lambda d: d["quick"].update(test_row=3), "unknown key 'test_row'"),
        (lambda d: d["grids"][0].update(model=["x"]), "unknown key 'model'"),
        (lambda d: d["grids"][0]["datasets"]["clothing-reviews"].update(test_row=1),
         "unknown key 'test_row'"),
        (lambda d: d["grids"][0]["params"].update(learning_rat=1.0), "unknown key 'learning_rat'"),
        (lambda d: d["grids"][0]["method_params"].update(raft={}), "unknown key 'raft'"),
        (lambda d: d["grids"][0]["datasets"]["clothing-reviews"].pop("test_rows"), "test_rows"),
        (lambda d: d.pop("seeds"), "missing required key"),
        (lambda d: d.update(seeds=[]), "non-empty list of integers"),
        (lambda d: d["grids"][0]["datasets"]["clothing-reviews"].update(train_rows=0),
         "train_rows: expected an integer >= 1"),
    ],
)  # fmt: skip
def test_bad_suite_files_name_the_key(mutate, message: str) -> None:
    data = suite_data()
    mutate(data)
    with pytest.raises(ConfigError, match=message):
        parse_suite(data, "t.yaml")


def test_unknown_dataset_and_method_list_the_valid_ones() -> None:
    data = suite_data()
    data["grids"][0]["datasets"] = {"imdb": {"train_rows": 1, "validation_rows": 0,
                                             "test_rows": 1}}  # fmt: skip
    with pytest.raises(ConfigError, match=r"built-in datasets: .*clothing-reviews.*movielens"):
        parse_suite(data, "t.yaml")
    data = suite_data()
    data["grids"][0]["methods"] = ["raftt"]
    with pytest.raises(ConfigError, match=r"'raftt' is unknown; valid methods: .*ce-greedy.*raft"):
        parse_suite(data, "t.yaml")


def test_method_and_dataset_kinds_must_match() -> None:
    data = suite_data()
    data["grids"][0]["methods"] = ["gbdt"]
    with pytest.raises(ConfigError, match="works on tabular data but 'clothing-reviews' is text"):
        parse_suite(data, "t.yaml")


def test_data_files_need_their_columns(tmp_path: Path) -> None:
    (tmp_path / "mine.csv").write_text("t,y\na,1\n")
    data = suite_data()
    sizes = {"train_rows": 1, "validation_rows": 0, "test_rows": 1}
    data["grids"][0]["datasets"] = {"mine.csv": {**sizes, "target_column": "y"}}
    with pytest.raises(ConfigError, match="text_column or feature_columns"):
        parse_suite(data, "t.yaml", base=tmp_path)
    data["grids"][0]["datasets"] = {"mine.csv": {**sizes, "target_column": "y",
                                                 "text_column": "t"}}  # fmt: skip
    cells = parse_suite(data, "t.yaml", base=tmp_path).cells()
    assert cells[0].dataset.path == str(tmp_path / "mine.csv")
    assert cells[0].params["text_column"] == "t" and "template" not in cells[0].params
    data["grids"][0]["datasets"] = {"clothing-reviews": {**sizes, "target_column": "y"}}
    with pytest.raises(ConfigError, match="only apply to data files"):
        parse_suite(data, "t.yaml")


def test_unknown_suite_name_lists_builtin_suites(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"built-in suites: .*raft-cpu"):
        load_suite("raft-gpu")
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(suite_data()))
    assert load_suite(path).name == "t"
    path.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_suite(path)


@pytest.mark.parametrize(
    "name", ["raft-cpu", "genre2-cpu", "genre2-tabular", "genre2-code", "learning-curves"]
)
def test_builtin_suites_parse(name: str) -> None:
    if name not in builtin_suites():
        pytest.skip(f"{name} is not committed yet")
    suite = load_suite(name)
    assert suite.cells() and suite.cells(quick=True)
    assert len(suite.cells(quick=True)) <= len(suite.cells())


def test_method_registry_and_availability(monkeypatch: pytest.MonkeyPatch) -> None:
    assert {"zero-shot-greedy", "ce-rail", "raft", "mean", "ridge-tfidf"} <= set(
        available_methods()
    )
    assert all(m.name == name for name, m in METHODS.items())
    fake = Method("future", "Future", "needs a family that does not exist", ("text",),
                  {"family": "no-such-family", "objective": "x"})  # fmt: skip
    monkeypatch.setitem(METHODS, "future", fake)
    with pytest.raises(ConfigError, match="cannot run yet: family 'no-such-family'"):
        get_method("future")
    assert "future" not in available_methods()
    with pytest.raises(ConfigError, match="either params or a baseline"):
        Method("bad", "Bad", "neither", ("text",))


def test_datasets_cli_list_show_and_unknown_name(capsys) -> None:
    from decoreg.cli import main

    assert main(["datasets", "list"]) == 0
    out = capsys.readouterr().out
    assert "clothing-reviews" in out and "original1" in out and "code-bytecode" in out
    assert main(["datasets", "show", "original1"]) == 0
    out = capsys.readouterr().out
    assert "Original #1" in out and "licence:" in out and "1,600 train" in out
    assert main(["datasets", "show", "imdb"]) == 2
    assert "valid names: abalone" in capsys.readouterr().err
    assert main(["datasets", "fetch", "friedman1", "imdb"]) == 2  # checked before fetching


def test_bench_list_cli(capsys) -> None:
    from decoreg.cli import main

    assert main(["bench", "--list"]) == 0
    out = capsys.readouterr().out
    assert "raft-cpu" in out and "ridge-minilm" in out


def test_orderings_are_parsed_and_checked() -> None:
    suite = parse_suite(suite_data(orderings=["ce-rail < ce-greedy", "mean<zero-shot-rail-grid"]),
                        "t.yaml")  # fmt: skip
    assert suite.orderings == (("ce-rail", "ce-greedy"), ("mean", "zero-shot-rail-grid"))
    with pytest.raises(ConfigError, match="not of the form"):
        parse_suite(suite_data(orderings=["ce-rail > ce-greedy"]), "t.yaml")
    with pytest.raises(ConfigError, match="names 'raft', which no grid runs"):
        parse_suite(suite_data(orderings=["raft < ce-greedy"]), "t.yaml")


TABULAR = {
    "name": "tab",
    "description": "a tabular suite",
    "seeds": [0],
    "budget_minutes": 150,
    "quick": BASE["quick"],
    "grids": [
        {
            "name": "g",
            "datasets": {"abalone": {"train_rows": 50, "validation_rows": 10, "test_rows": 10,
                                     "params": {"tabular_options": {"d_model": 16}}}},
            "methods": ["tab-ce", "tab-crps", "tab-crps-median", "tab-crps-greedy"],
            "params": {"max_steps": 5, "tabular_options": {"layers": 1, "d_model": 8}},
            "method_params": {
                name: {"objective_options": {"num_samples": 4}}
                for name in ("tab-crps", "tab-crps-median", "tab-crps-greedy")
            },
        }
    ],
}  # fmt: skip


def test_dict_parameters_merge_key_by_key_across_layers() -> None:
    suite = parse_suite(copy.deepcopy(TABULAR), "tab.yaml")
    assert suite.budget_minutes == 150
    cells = {c.method.name: c for c in suite.cells()}
    crps = cells["tab-crps"].params
    # the grid's depth, the dataset's width over the grid's, the suite's G, the method's reward
    assert crps["tabular_options"] == {"layers": 1, "d_model": 16}
    assert crps["objective_options"] == {"num_samples": 4, "reward": "crps"}
    assert cells["tab-ce"].params["tabular_options"] == {"layers": 1, "d_model": 16}


def test_other_decoders_of_a_sampled_model_share_its_fit_and_first_stage() -> None:
    cells = {c.method.name: c for c in parse_suite(copy.deepcopy(TABULAR), "tab.yaml").cells()}
    crps, median, greedy = (cells[n] for n in ("tab-crps", "tab-crps-median", "tab-crps-greedy"))
    assert (median.params["decoder"], greedy.params["decoder"]) == ("sample-median", "greedy")
    assert crps.fit_key() == median.fit_key() == greedy.fit_key()
    assert median.warm_start.method.name == "tab-ce" and median.key != crps.key
    assert get_method("tab-ntl-median").label == "NTL (median)"


@pytest.mark.parametrize("budget", [0, "90", True])
def test_budget_minutes_must_be_a_positive_integer(budget) -> None:
    with pytest.raises(ConfigError, match="budget_minutes must be an integer >= 1"):
        parse_suite({**copy.deepcopy(TABULAR), "budget_minutes": budget}, "tab.yaml")
