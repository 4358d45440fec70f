"""Model folders from elsewhere: no pickle, nothing outside the folder, no code unless asked."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from decoreg.causal_lm.folder_safety import UnsafeModelFolderError, check_model_folder
from decoreg.cli import main
from decoreg.errors import ConfigError
from decoreg.estimator import DecodingRegressor

TEXTS = [f"text {i}" for i in range(12)]
TARGETS = np.arange(12) % 5 + 1.0
SOURCE = Path(__file__).resolve().parents[2] / "src" / "decoreg"


@pytest.fixture
def saved_model(tiny_model_dir, tmp_path) -> Path:
    est = DecodingRegressor(
        model=str(tiny_model_dir), template="Q: {text}\nA: ", max_steps=0, verbose=False
    )
    return est.fit(TEXTS, TARGETS).save(tmp_path / "saved")


def test_a_clean_saved_model_passes(saved_model):
    assert check_model_folder(saved_model) == saved_model.resolve()
    DecodingRegressor.load(saved_model)


@pytest.mark.parametrize("name", ["lm/pytorch_model.bin", "training_args.bin", "extra/w.pkl"])
def test_a_pickle_file_is_refused(saved_model, name):
    path = saved_model / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(b"\x80\x04K\x01.")  # a valid pickle of the number 1
    with pytest.raises(UnsafeModelFolderError, match=r"pickle file.*safetensors only"):
        DecodingRegressor.load(saved_model)


def test_a_file_name_climbing_out_with_dotdot_is_refused(saved_model, tmp_path):
    (tmp_path / "secret.json").write_text("{}")
    config_path = saved_model / "lm" / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config["tokenizer_file"] = "../../secret.json"
    config_path.write_text(json.dumps(config))
    with pytest.raises(UnsafeModelFolderError, match=r"tokenizer_file='../../secret.json'"):
        DecodingRegressor.load(saved_model)


def test_an_absolute_file_name_is_refused(saved_model):
    (saved_model / "lm" / "extra.json").write_text(json.dumps({"vocab_file": "/etc/passwd"}))
    with pytest.raises(UnsafeModelFolderError, match="points outside the model folder"):
        check_model_folder(saved_model)


def test_a_file_name_inside_the_folder_is_fine(saved_model):
    (saved_model / "lm" / "extra.json").write_text(json.dumps({"merges_file": "./merges.txt"}))
    check_model_folder(saved_model)


def test_a_symlink_out_of_the_folder_is_refused(saved_model, tmp_path):
    weights = saved_model / "lm" / "model.safetensors"
    outside = tmp_path / "elsewhere.safetensors"
    shutil.move(weights, outside)
    weights.symlink_to(outside)
    with pytest.raises(UnsafeModelFolderError, match=r"is a link to .* outside the model folder"):
        DecodingRegressor.load(saved_model)


def test_a_symlink_inside_the_folder_is_fine(saved_model):
    weights = saved_model / "lm" / "model.safetensors"
    shutil.move(weights, saved_model / "weights.safetensors")
    weights.symlink_to(Path("..") / "weights.safetensors")
    DecodingRegressor.load(saved_model)


def test_custom_code_needs_the_callers_flag_not_the_folders(saved_model):
    """The folder even claims trust_remote_code=True in its saved parameters: ignored."""
    config_path = saved_model / "lm" / "config.json"
    config = json.loads(config_path.read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "evil.EvilModel"}
    config_path.write_text(json.dumps(config))
    meta_path = saved_model / "decoreg.json"
    meta = json.loads(meta_path.read_text())
    meta["params"]["trust_remote_code"] = True
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(UnsafeModelFolderError, match=r"auto_map.*trust_remote_code"):
        DecodingRegressor.load(saved_model)
    check_model_folder(saved_model, trust_remote_code=True)  # the explicit flag allows it


def test_a_base_model_folder_is_checked_too(tiny_model_dir):
    (tiny_model_dir / "pytorch_model.bin").write_bytes(b"\x80\x04K\x01.")
    est = DecodingRegressor(model=str(tiny_model_dir), template="Q: {text}\nA: ", max_steps=0)
    with pytest.raises(UnsafeModelFolderError, match=r"pytorch_model\.bin is a pickle file"):
        est.fit(TEXTS, TARGETS)


def test_the_cli_reports_an_unsafe_folder(saved_model, tmp_path, capsys):
    (saved_model / "model.pt").write_bytes(b"")
    data = tmp_path / "d.csv"
    data.write_text("text\nhello\n")
    code = main(["predict", str(saved_model), str(data), "--output", str(tmp_path / "p.csv")])
    assert code == 2
    assert "model.pt is a pickle file" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content", ["{not json", "[" * 100 + "]" * 100, "[" * 100_000 + "]" * 100_000]
)
def test_broken_or_absurdly_nested_json_is_refused(saved_model, content):
    (saved_model / "lm" / "odd.json").write_text(content)
    with pytest.raises(UnsafeModelFolderError, match=r"odd\.json"):
        check_model_folder(saved_model)


def test_unknown_saved_parameters_are_a_clear_error(saved_model):
    meta_path = saved_model / "decoreg.json"
    meta = json.loads(meta_path.read_text())
    meta["params"]["run_this"] = "rm -rf /"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="unknown parameters"):
        DecodingRegressor.load(saved_model)


def _torch_load_calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if node.func.attr == "load" and isinstance(owner, ast.Name) and owner.id == "torch":
                yield node


def test_every_torch_load_in_the_package_is_weights_only():
    calls = 0
    for path in SOURCE.rglob("*.py"):
        for call in _torch_load_calls(ast.parse(path.read_text(), filename=str(path))):
            calls += 1
            flags = {k.arg: k.value for k in call.keywords}
            value = flags.get("weights_only")
            assert isinstance(value, ast.Constant) and value.value is True, (
                f"{path}:{call.lineno} calls torch.load without weights_only=True"
            )
    assert calls >= 1  # the checkpoint reader; the scan does see calls


def test_no_module_imports_pickle():
    offenders = []
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            if any(n.split(".")[0] in ("pickle", "dill", "joblib", "cloudpickle") for n in names):
                offenders.append(str(path))
    assert offenders == []
