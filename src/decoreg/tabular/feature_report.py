"""What fitting the feature encoder found in the training rows, counted for the fit's log and
the saved model: missing values and how they were handled, constant columns, and categorical
levels folded into the unknown index."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class FitReport:
    """What `FeatureEncoder.fit` counts while it goes through the columns."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.missing: dict[str, int] = {}
        self.constants: list[str] = []
        self.rare: dict[str, dict[str, int]] = {}

    def constant(self, column: str, distinct: int) -> None:
        if distinct == 1 and column not in self.missing:  # call after counting the missing
            self.constants.append(column)

    def as_dict(
        self, nan_policy: str, indicator_columns: list[str], missing_levels: list[str]
    ) -> dict[str, Any]:
        """The JSON-ready report, with how the missing values were handled and "notes": the
        report as lines for a log or a terminal."""
        report = {
            "rows": self.rows,
            "nan_policy": nan_policy,
            "missing": self.missing,
            "indicator_columns": list(indicator_columns),
            "missing_levels": list(missing_levels),
            "constant_columns": self.constants,
            "rare_levels": self.rare,
        }
        return {**report, "notes": describe_fit_report(report)}


def describe_fit_report(report: Mapping[str, Any]) -> list[str]:
    """The report as lines for a log or a terminal (empty when there is nothing to say)."""
    lines = []
    for column, count in report.get("missing", {}).items():
        handling = {
            "indicator": "a missing level" if column in report["missing_levels"] else
                         "the training median plus an indicator",
            "impute": "imputed (training median or unknown category)",
        }.get(report["nan_policy"], "")  # fmt: skip
        lines.append(f"column {column!r}: {count} of {report['rows']} rows missing -> {handling}")
    for column in report.get("constant_columns", []):
        lines.append(f"column {column!r}: one value in every training row (kept; no information)")
    for column, rare in report.get("rare_levels", {}).items():
        lines.append(
            f"column {column!r}: {rare['levels']} levels; the {rare['kept']} most frequent kept, "
            f"the other {rare['rows']} rows share the unknown level (max_categories)"
        )
    return lines
