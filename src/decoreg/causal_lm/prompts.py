"""Prompt templates: the text around an input, ending right before the number."""

from __future__ import annotations

from dataclasses import dataclass

from decoreg.errors import ConfigError

PLACEHOLDER = "{text}"
DEFAULT_TEMPLATE = "Input: {text}\nValue: "


@dataclass(frozen=True)
class PromptTemplate:
    """A template with exactly one `{text}` placeholder.

    The rendered prompt must end with the space before the number: after "Rating:" a
    tokenizer predicts a space token, and digits get almost no mass (see SOURCES.md).

    Attributes:
        template: The template text, e.g. "Review: {text}\\nRating (1 to 5 stars): ".
    """

    template: str = DEFAULT_TEMPLATE

    def __post_init__(self) -> None:
        count = self.template.count(PLACEHOLDER)
        if count != 1:
            raise ConfigError(
                f"prompt template must contain the placeholder {PLACEHOLDER} exactly once "
                f"(found {count}): {self.template!r}"
            )
        if not self.template.endswith(" "):
            raise ConfigError(
                "prompt template must end with a space so that the number follows directly "
                f"(e.g. 'Rating: '), got {self.template!r}"
            )

    @property
    def prefix(self) -> str:
        return self.template.split(PLACEHOLDER)[0]

    @property
    def suffix(self) -> str:
        return self.template.split(PLACEHOLDER)[1]

    def render(self, text: str) -> str:
        return self.prefix + text + self.suffix
