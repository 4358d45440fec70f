"""Copy the current tables of the committed benchmark suites into docs/benchmarks.md.

Usage (from the repository root, after `decoreg bench SUITE ...` has written
benchmarks/results/SUITE/results.md):

    python benchmarks/bench_readme.py

Everything between the page's markers ``<!-- bench:start -->`` and ``<!-- bench:end -->`` is
replaced: for each suite its tables (metrics and, where recorded, predictive distributions)
and orderings (each suite naming its result files) and,
for the first suite, one plot, copied into docs/assets/ because MkDocs serves only files under
docs/. Result files outside docs/ are named as code paths, not linked, so that
`mkdocs build --strict` does not flag them.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = Path("docs", "benchmarks.md")
SUITES = ("raft-cpu", "genre2-cpu", "genre2-tabular")
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
PLOT = "plots/ratings--clothing-reviews-rmse.png"
PLOT_COPY = Path("docs", "assets", "raft-cpu-clothing-reviews-rmse.png")


DISTRIBUTION_HEADER = "| Method | CRPS |"
DISTRIBUTION_LABEL = (
    "Predictive distributions (CRPS; NLL for grids; the 90% interval's test coverage and "
    "width before and after conformal calibration on the validation rows):"
)


def tables(body: str) -> list[list[str]]:
    """The Markdown tables of a section, each a run of consecutive ``|`` lines."""
    found: list[list[str]] = []
    previous_was_table = False
    for line in body.splitlines():
        is_table = line.startswith("|")
        if is_table and not previous_was_table:
            found.append([])
        if is_table:
            found[-1].append(line)
        previous_was_table = is_table
    return found


def suite_block(name: str) -> list[str]:
    folder = Path("benchmarks", "results", name)
    markdown = ROOT / folder / "results.md"
    if not markdown.exists():
        return [f"### `{name}`", "", "Not run yet.", ""]
    text = markdown.read_text()
    files = f"Results: `{folder}/results.md`; raw rows: `{folder}/results.jsonl`."
    lines = [f"### `{name}`", "", files, ""]
    status = [line for line in text.splitlines() if line.startswith(("- Cells:", "- Compute"))]
    lines += [*status, ""]
    for section in re.split(r"\n(?=## )", text)[1:]:
        heading, _, body = section.partition("\n")
        if heading.startswith("## The papers' orderings"):
            lines += ["Orderings (paired bootstrap over the test rows: the 95% interval of the "
                      "RMSE difference below 0 is held, above 0 did not hold, else not "
                      "separable):", ""]  # fmt: skip
            lines += [line for line in body.splitlines() if line.startswith("- ")] + [""]
            continue
        lines += [f"**{heading[3:]}**", ""]
        for table in tables(body):
            if table[0].startswith(DISTRIBUTION_HEADER):
                lines += [DISTRIBUTION_LABEL, ""]
            lines += [*table, ""]
    if name == SUITES[0] and (ROOT / folder / PLOT).exists():
        image = PLOT_COPY.relative_to(PAGE.parent).as_posix()
        lines += [f"![RMSE by method on clothing reviews]({image})", ""]
        lines += [f"(a copy of `{folder}/{PLOT}`)", ""]
    return lines


def render(text: str) -> str:
    """`text` (the page) with its marked block replaced by the current suite tables."""
    block = [START, ""]
    for name in SUITES:
        block += suite_block(name)
    block.append(END)
    head, rest = text.split(START, 1)
    return head + "\n".join(block) + rest.split(END, 1)[1]


def main() -> int:
    page = ROOT / PAGE
    text = page.read_text()
    if START not in text or END not in text:
        print(f"{PAGE} has no {START} ... {END} block", file=sys.stderr)
        return 1
    page.write_text(render(text))
    plot = ROOT / "benchmarks" / "results" / SUITES[0] / PLOT
    if plot.exists():
        (ROOT / PLOT_COPY).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(plot, ROOT / PLOT_COPY)
    print(f"updated {PAGE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
