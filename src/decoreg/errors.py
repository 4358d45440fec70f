"""Exceptions with messages meant for the person who gave the bad input."""


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
