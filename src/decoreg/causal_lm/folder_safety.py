"""Checks on a model folder from elsewhere before anything in it is loaded.

A model folder is data, and loading it must not run code or read files outside it:

- pickle-based weight files (`*.bin`, `*.pt`, `*.pth`, `*.pkl`, `*.pickle`, `*.ckpt`,
  `*.joblib`) are refused: decoreg loads weights from safetensors only;
- every file and link must stay inside the folder (a symlink to elsewhere is refused);
- file names written in its JSON files (keys ending in `_file` or `_files`, such as a
  tokenizer's `tokenizer_file`) must resolve inside the folder: no absolute paths, no `..`
  climbing out;
- a config that asks for custom code (`auto_map`) is refused unless the caller passed
  `trust_remote_code=True` explicitly (a flag of the call, never a value read from the folder).

Fields that only record where weights came from (`_name_or_path`, `base_model_name_or_path`,
`base_model`) are never opened and are not checked.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from decoreg.errors import ConfigError

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib")
MAX_JSON_DEPTH = 64


class UnsafeModelFolderError(ConfigError):
    """A model folder holds something decoreg refuses to load; the message says what."""


def check_model_folder(directory: str | Path, *, trust_remote_code: bool = False) -> Path:
    """Raise UnsafeModelFolderError unless the folder is safe to load; returns its real path."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(f"{directory} is not a folder")
    root = directory.resolve()
    for current, folders, files in os.walk(directory, followlinks=False):
        for name in [*folders, *files]:
            path = Path(current, name)
            _check_inside(path, root, directory)
            if name in files and path.suffix.lower() in PICKLE_SUFFIXES:
                raise UnsafeModelFolderError(
                    f"{path} is a pickle file, which can run code when loaded; decoreg loads "
                    "weights from safetensors only: delete it or convert it to .safetensors"
                )
            if name in files and path.suffix.lower() == ".json":
                _check_json(path, root, trust_remote_code)
    return root


def _check_inside(path: Path, root: Path, directory: Path) -> None:
    if not path.is_symlink():
        return
    target = path.resolve()
    if not target.is_relative_to(root):
        raise UnsafeModelFolderError(
            f"{path} is a link to {target}, outside the model folder {directory}; copy the "
            "folder with its links dereferenced (cp -rL) to load it"
        )


def _check_json(path: Path, root: Path, trust_remote_code: bool) -> None:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise UnsafeModelFolderError(f"{path} is not valid JSON: {error!r}") from None
    for key, value in _items(content, path):
        if key == "auto_map" and not trust_remote_code:
            raise UnsafeModelFolderError(
                f"{path} asks to run the model's own code (auto_map); pass trust_remote_code "
                "(--trust-remote-code) only if you trust where this folder comes from"
            )
        if key.endswith(("_file", "_files")):
            for name in value if isinstance(value, list) else [value]:
                if isinstance(name, str) and name:
                    _check_file_name(name, key, path, root)


def _check_file_name(name: str, key: str, path: Path, root: Path) -> None:
    base = path.parent.resolve()
    target = (base / name).resolve()
    if Path(name).is_absolute() or not target.is_relative_to(root):
        raise UnsafeModelFolderError(
            f"{path}: {key}={name!r} points outside the model folder; files named in a model "
            "folder must be inside it"
        )


def _items(value, path: Path, depth: int = 0):
    """(key, value) pairs of every object nested in a JSON value."""
    if depth > MAX_JSON_DEPTH:
        raise UnsafeModelFolderError(f"{path} is nested more than {MAX_JSON_DEPTH} levels deep")
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key), item
            yield from _items(item, path, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _items(item, path, depth + 1)
