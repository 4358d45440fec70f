"""Copy the current tables of the committed benchmark suites into README.md.

Usage (from the repository root, after `decoreg bench SUITE ...` has written
benchmarks/results/SUITE/results.md):

    python benchmarks/bench_readme.py

Everything between the README markers ``<!-- bench:start -->`` and ``<!-- bench:end -->`` is
replaced: for each suite its tables and orderings (each table linked to its result file) and,
for the first suite, one plot.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITES = ("raft-cpu", "genre2-cpu")
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
PLOT = "plots/ratings--clothing-reviews-rmse.png"


def suite_block(name: str) -> list[str]:
    folder = Path("benchmarks", "results", name)
    markdown = ROOT / folder / "results.md"
    if not markdown.exists():
        return [f"### `{name}`", "", "Not run yet.", ""]
    text = markdown.read_text()
    lines = [f"### `{name}` ([results.md]({folder}/results.md), "
             f"[raw rows]({folder}/results.jsonl))", ""]  # fmt: skip
    status = [line for line in text.splitlines() if line.startswith(("- Cells:", "- Compute"))]
    lines += [*status, ""]
    for section in re.split(r"\n(?=## )", text)[1:]:
        heading, _, body = section.partition("\n")
        if heading.startswith("## The papers' orderings"):
            lines += ["Orderings (mean test RMSE over seeds):", ""]
            lines += [line for line in body.splitlines() if line.startswith("- ")] + [""]
            continue
        table = [line for line in body.splitlines() if line.startswith("|")]
        lines += [f"**{heading[3:]}**", "", *table, ""]
    if name == SUITES[0] and (ROOT / folder / PLOT).exists():
        lines += [f"![RMSE by method on clothing reviews]({folder}/{PLOT})", ""]
    return lines


def main() -> int:
    readme = ROOT / "README.md"
    text = readme.read_text()
    if START not in text or END not in text:
        print(f"README.md has no {START} ... {END} block", file=sys.stderr)
        return 1
    block = [START, ""]
    for name in SUITES:
        block += suite_block(name)
    block.append(END)
    head, rest = text.split(START, 1)
    readme.write_text(head + "\n".join(block) + rest.split(END, 1)[1])
    print("updated README.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
