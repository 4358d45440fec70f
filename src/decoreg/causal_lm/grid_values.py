"""Grids of target values: parsing `--grid`, and checking that the number format can write them.

A grid is given as a list of numbers (`"1,2,3,4,5"`) or as an inclusive range with a step
(`"0:5:0.1"`, i.e. start:stop:step). Every value must be written by the number format as a
distinct string that reads back as the value itself, otherwise p(str(g) | x) would score a
different number than g.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from decoreg.causal_lm.numbers import DecimalFormat
from decoreg.errors import ConfigError

MAX_GRID_VALUES = 10_000
MAX_DECIMALS = 8


def grid_range(start: float, stop: float, step: float) -> tuple[float, ...]:
    """Values start, start + step, ... up to and including stop (within rounding).

    `grid_range(0, 5, 0.1)` has 51 values 0.0, 0.1, ..., 5.0.
    """
    if not all(math.isfinite(v) for v in (start, stop, step)):
        raise ConfigError(
            f"grid range needs finite start, stop and step, got {start}:{stop}:{step}"
        )
    if step <= 0:
        raise ConfigError(
            f"grid step must be > 0, got {step:g} (in grid {start:g}:{stop:g}:{step:g})"
        )
    if stop < start:
        raise ConfigError(f"grid stop {stop:g} is below its start {start:g}")
    ratio = (stop - start) / step
    count = math.floor(ratio + 1e-9) + 1 if math.isfinite(ratio) else math.inf
    if count > MAX_GRID_VALUES:
        raise ConfigError(
            f"grid {start:g}:{stop:g}:{step:g} has {count} values; at most {MAX_GRID_VALUES}"
        )
    return tuple(round(start + i * step, 10) for i in range(count))


def parse_grid(option: str | Sequence[float]) -> tuple[float, ...]:
    """A grid from `--grid`: "start:stop:step", "v1,v2,...", or already a list of numbers."""
    if not isinstance(option, str):
        values = tuple(float(v) for v in option)
    elif ":" in option:
        parts = option.split(":")
        if len(parts) != 3:
            raise ConfigError(f"grid range must be start:stop:step, got {option!r}")
        start, stop, step = (_number(part, option) for part in parts)
        values = grid_range(start, stop, step)
    else:
        values = tuple(_number(part, option) for part in option.split(",") if part.strip())
    check_grid(values)
    return values


def check_grid(values: Sequence[float]) -> None:
    """At least two values, all finite, no duplicates (each named in the error)."""
    if len(values) < 2:
        raise ConfigError(f"grid needs at least two values, got {list(values)}")
    bad = [v for v in values if not math.isfinite(v)]
    if bad:
        raise ConfigError(f"grid values must be finite, got {bad}")
    seen: set[float] = set()
    duplicates = sorted({v for v in values if v in seen or seen.add(v)})
    if duplicates:
        raise ConfigError(f"grid has duplicate values {duplicates}; each value must appear once")


def writes_exactly(number_format: DecimalFormat, value: float) -> bool:
    """True when `value` is written as a string that reads back as `value` itself."""
    read = number_format.parse(number_format.format(value))
    return read is not None and abs(read - value) <= 1e-9 * max(1.0, abs(value))


def fewest_decimals(values: Sequence[float]) -> int:
    """The fewest decimals (0..8) that write every grid value exactly."""
    for decimals in range(MAX_DECIMALS + 1):
        number_format = DecimalFormat(decimals)
        if all(writes_exactly(number_format, v) for v in values):
            return decimals
    raise ConfigError(
        f"grid values {list(values)[:5]}... need more than {MAX_DECIMALS} decimals to be written"
    )


def check_grid_writable(values: Sequence[float], decimals: int) -> None:
    """Raise a ConfigError naming `grid` and `decimals` when a value cannot be written as itself."""
    number_format = DecimalFormat(decimals)
    written: dict[str, float] = {}
    for value in values:
        text = number_format.format(value)
        if text in written:
            raise ConfigError(
                f"grid values {written[text]:g} and {value:g} are both written {text!r} with "
                f"decimals={decimals}; raise decimals or use a coarser grid"
            )
        written[text] = value
        if not writes_exactly(number_format, value):
            raise ConfigError(
                f"grid value {value:g} is written {text!r} with decimals={decimals}, which reads "
                f"back as a different number; raise decimals (it needs {fewest_decimals([value])})"
            )


def _number(text: str, option: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ConfigError(
            f"grid {option!r}: {text.strip()!r} is not a number; give start:stop:step "
            "(e.g. 0:5:0.1) or comma-separated values (e.g. 1,2,3,4,5)"
        ) from None
