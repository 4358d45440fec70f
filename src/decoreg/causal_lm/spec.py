"""`CausalLMSpec`: everything besides the weights that defines how a causal LM regresses."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from decoreg.causal_lm.heads import HeadSpec
from decoreg.causal_lm.numbers import AffineScaler, DecimalFormat
from decoreg.causal_lm.prompts import PromptTemplate
from decoreg.errors import ConfigError


@dataclass(frozen=True)
class CausalLMSpec:
    """Everything besides the weights that defines how a causal LM regresses.

    Attributes:
        base_model: Built-in name or folder the weights started from (for the record).
        template: Prompt template; the rendered prompt ends right before the number.
        decimals: Decimals used when writing targets as text.
        grid: Grid values (in target space) for RAFT and the grid decoders; each must be
            written exactly with `decimals` (multi-token numbers are scored by a prefix trie).
        scaler: Affine map from raw targets to the target space the model writes.
        max_prompt_tokens: Longer inputs have their text shortened to fit.
        fallback: Raw-space prediction used where the output cannot be parsed (counted).
        head: A predictive head read instead of decoding (None: the model only decodes).
    """

    base_model: str
    template: str
    decimals: int = 0
    grid: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0, 5.0)
    scaler: AffineScaler = field(default_factory=AffineScaler)
    max_prompt_tokens: int = 256
    fallback: float = 0.0
    head: HeadSpec | None = None

    def __post_init__(self) -> None:
        PromptTemplate(self.template)  # validates the placeholder and trailing space
        DecimalFormat(self.decimals)
        if len(self.grid) < 2 or len(set(self.grid)) != len(self.grid):
            raise ConfigError(f"grid needs at least two distinct values, got {self.grid}")
        if self.max_prompt_tokens < 8:
            raise ConfigError(f"max_prompt_tokens must be >= 8, got {self.max_prompt_tokens}")

    def to_dict(self) -> dict:
        values = asdict(self)
        values["grid"] = list(self.grid)
        return values

    @classmethod
    def from_dict(cls, values: dict) -> CausalLMSpec:
        values = dict(values)
        values["grid"] = tuple(values["grid"])
        values["scaler"] = AffineScaler(**values["scaler"])
        if values.get("head") is not None:
            values["head"] = HeadSpec(**values["head"])
        return cls(**values)
