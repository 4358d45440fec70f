"""Exceptions with messages meant for the person who gave the bad input."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class DecoregError(Exception):
    """Base class: anything raised on purpose because of the user's input or environment."""


class DataError(DecoregError, ValueError):
    """Bad data: the message names the file, row and column."""


class ConfigError(DecoregError, ValueError):
    """A bad option: the message names the option and the valid choices."""


class ModelNotAvailableError(DecoregError, RuntimeError):
    """A built-in model's package is missing: the message says how to install it."""


def require(condition: bool, message: str) -> None:
    """Raise a ConfigError with `message` unless `condition` holds (option checks in one line)."""
    if not condition:
        raise ConfigError(message)


def check_keys(
    value: Any,
    allowed: set[str],
    where: str,
    required: set[str] = frozenset(),
    *,
    hint: str = "",
) -> Mapping:
    """`value` if it is a mapping with only `allowed` keys and every `required` one; else a
    ConfigError naming `where`, the first unknown (or the missing) keys and the valid ones,
    followed by `hint`."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r}"
            + (f" (and {unknown[1:]})" if len(unknown) > 1 else "")
            + f"; valid keys: {', '.join(sorted(allowed))}"
            + (f" {hint}" if hint else "")
        )
    missing = sorted(required - set(value))
    if missing:
        raise ConfigError(f"{where}: missing required key(s) {missing}")
    return value
