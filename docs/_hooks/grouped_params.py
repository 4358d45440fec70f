"""MkDocs hook: griffe's warnings about docstring entries naming several parameters become INFO.

Some docstrings in src/ document related parameters in one `Args:` entry
(`learning_rate, batch_size, ...: Training options; see TrainConfig.`). Griffe's Google-style
parser reads one name per entry, so it warns that the grouped "name" is not in the signature,
and that a group's first lines (the names before the one ending in a colon) lack a
`name: description` pair; under `mkdocs build --strict` each warning would fail the build.
Only warnings whose last quoted text holds a comma are lowered to INFO (and still printed);
every other griffe warning stays a strict-mode failure.
"""

from __future__ import annotations

import logging
import re

GRIFFE_LOGGER = "mkdocs.plugins.griffe"
_GROUPED = re.compile(
    r"(Failed to get 'name: description' pair from"
    r"|Parameter '[^']*' does not appear in the function signature)"
)


class GroupedParameterFilter(logging.Filter):
    """Lowers warnings about multi-name `Args:` entries to INFO; passes every other record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        quoted = re.findall(r"'([^']*)'", message)
        grouped = bool(quoted) and "," in quoted[-1]
        if record.levelno == logging.WARNING and grouped and _GROUPED.search(message):
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def on_startup(command: str, dirty: bool) -> None:
    """Install the filter once per MkDocs process."""
    logger = logging.getLogger(GRIFFE_LOGGER)
    if not any(isinstance(f, GroupedParameterFilter) for f in logger.filters):
        logger.addFilter(GroupedParameterFilter())
