import json

import pandas as pd
import pytest

from decoreg.causal_lm.methods import PAPER_METHODS, method_params
from decoreg.cli import main
from tests.cli.test_cli import ROWS, tiny_train_args


@pytest.mark.parametrize(
    "method", ["zero-shot-greedy", "ce-rail", "head-token", "learnable-raft-vocab", "mbr"]
)
def test_paper_methods_train_predict_and_reload(tmp_path, tiny_model_dir, method):
    data = tmp_path / "d.csv"
    ROWS.to_csv(data, index=False)
    out = tmp_path / "model"
    args = tiny_train_args(data, tiny_model_dir, out, "--num-samples", "2")
    args.remove("--max-steps"), args.remove("2")  # the method (or the default) decides
    assert main([*args, "--method", method]) == 0
    saved = json.loads((out / "decoreg.json").read_text())["params"]
    for key, value in PAPER_METHODS[method].params.items():
        assert saved[key] == value
    preds = tmp_path / "p.csv"
    assert main(["predict", str(out), str(data), "--output", str(preds)]) == 0
    assert len(pd.read_csv(preds)) == 20  # a random tiny LM may write no number: NaN rows


def test_predict_writes_an_interval(tmp_path, tiny_model_dir):
    data = tmp_path / "d.csv"
    ROWS.to_csv(data, index=False)
    out = tmp_path / "model"
    assert main(tiny_train_args(data, tiny_model_dir, out, "--grid", "1:5:0.5")) == 0
    preds = tmp_path / "p.csv"
    args = ["predict", str(out), str(data), "--output", str(preds), "--quantiles", "0.1,0.9"]
    assert main(args) == 0
    frame = pd.read_csv(preds)
    assert (frame["q0.1"] <= frame["q0.9"]).all()
    assert set(frame["q0.9"]) <= {1.0 + 0.5 * k for k in range(9)} | set()  # grid values


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--objective", "head", "--decoder", "greedy"], "heads do not decode"),
        (["--grid", "0:5:0"], "grid step must be > 0"),
        (["--grid", "1,2,2"], "duplicate values"),
        (["--grid", "0:1:0.25", "--decimals", "1"], "grid value 0.25 is written '0.2'"),
        (["--method", "zero-shot-greedy", "--decoder", "grid-mean"], "sets decoder='greedy'"),
        (["--objective", "head", "--special-token", "<reg>"], "special_token '<reg>'"),
    ],
)
def test_bad_method_options_are_named(tmp_path, tiny_model_dir, capsys, extra, message):
    data = tmp_path / "d.csv"
    ROWS.to_csv(data, index=False)
    assert main(tiny_train_args(data, tiny_model_dir, tmp_path / "m", *extra)) == 2
    assert message in capsys.readouterr().err


def test_method_params_merge_and_refuse_conflicts():
    merged = method_params("ce-rail", {"objective": None, "learning_rate": 1e-4})
    assert merged == {"objective": "ce", "decoder": "grid-mean", "learning_rate": 1e-4}
