"""The targets of the `genre2-tabular` suite, judged on its committed results.

Reads the suite's result rows and per-row test predictions (`decoreg bench genre2-tabular
--output benchmarks/results/genre2-tabular --resume`) and judges, per dataset and over the
panel, the targets of GenRe2's comparison (issue "GenRe2's comparison at real size") and of
the conformal intervals (issue "Predictive distributions with guaranteed coverage"):

* decoding vs gradient boosting: the better of CE and NTL (default decoder, the mean of 16
  samples), chosen by validation RMSE (the best evaluation of each run, mean over seeds), is
  at or above gradient boosting's test R^2 within the paired bootstrap's interval (the
  interval of RMSE(model) - RMSE(gbdt) over test rows is not entirely above 0), on at least
  5 of the 10 sets;
* RL over its CE start: the best of ReMax, expert-guided ReMax and ReMax with the CRPS reward,
  chosen on validation the same way, has a higher mean test R^2 than CE on at least 8 of the
  10 sets, and raises the panel's mean R^2 by at least 0.02;
* the CRPS reward at or above ReMax's mean test R^2 on at least 6 of the 10;
* conformal 90% intervals of CE: mean test coverage over seeds within 0.87-0.93 on every set
  (before calibration, the model's own 5%-95% sample quantiles; after, CQR on the validation
  rows), and the calibrated width narrower than MAPIE's conformalized gradient-boosting
  baseline on at least half of the sets.

A dataset counts for a target only when every method the target needs has every seed; the
report says how many datasets each target could be judged on.

Usage:
    python benchmarks/genre2_tabular_targets.py [--results benchmarks/results/genre2-tabular]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from decoreg.bench.publish import current_rows
from decoreg.bench.report import paired_difference
from decoreg.bench.suite import load_suite

RESULTS = Path(__file__).resolve().parent / "results" / "genre2-tabular"
DECODING = ("tab-ce", "tab-ntl")
RL = ("tab-remax", "tab-genre2", "tab-crps")
COVERAGE = (0.87, 0.93)


def by_dataset(rows: list[dict], seeds: int) -> dict[str, dict[str, list[dict]]]:
    """dataset -> method -> its ok rows, keeping only methods with every seed."""
    tables: dict[str, dict[str, list[dict]]] = {}
    for row in rows:
        if row.get("status") == "ok":
            tables.setdefault(row["dataset"], {}).setdefault(row["method"], []).append(row)
    return {d: {m: r for m, r in methods.items() if len(r) == seeds}
            for d, methods in tables.items()}  # fmt: skip


def validation_rmse(runs: list[dict]) -> float:
    """Mean over seeds of each run's best validation RMSE."""
    return float(np.mean([min(e["rmse"] for e in r["train"]["evaluations"]) for r in runs]))


def test_mean(runs: list[dict], key: str) -> float:
    return float(np.mean([r["metrics"][key] for r in runs]))


def paired(better: list[dict], worse: list[dict], folder: Path) -> dict:
    """RMSE(better) - RMSE(worse) with its bootstrap interval, as the suite's report judges it."""
    judged = paired_difference([better, worse], folder)
    if isinstance(judged, str):
        raise SystemExit(f"cannot judge: {judged}")
    return judged.result.to_dict()


def judge(tables: dict[str, dict[str, list[dict]]], folder: Path) -> dict[str, dict]:
    """Per dataset: the chosen models' test scores and each target's verdict there."""
    datasets: dict[str, dict] = {}
    for name, methods in tables.items():
        entry: dict = {}
        if all(m in methods for m in (*DECODING, "gbdt")):
            chosen = min(DECODING, key=lambda m: validation_rmse(methods[m]))
            versus_gbdt = paired(methods[chosen], methods["gbdt"], folder)
            entry["decoding"] = {
                "chosen": chosen,
                "r2": test_mean(methods[chosen], "r2"),
                "gbdt_r2": test_mean(methods["gbdt"], "r2"),
                "rmse_minus_gbdt": versus_gbdt,
                "at_or_above_gbdt": versus_gbdt["verdict"] != "did not hold",
            }
        if all(m in methods for m in (*RL, "tab-ce")):
            chosen = min(RL, key=lambda m: validation_rmse(methods[m]))
            entry["rl"] = {
                "chosen": chosen,
                "r2": test_mean(methods[chosen], "r2"),
                "ce_r2": test_mean(methods["tab-ce"], "r2"),
                "rmse_minus_ce": paired(methods[chosen], methods["tab-ce"], folder),
            }
            entry["rl"]["raises"] = entry["rl"]["r2"] > entry["rl"]["ce_r2"]
            crps, remax = (test_mean(methods[m], "r2") for m in ("tab-crps", "tab-remax"))
            entry["crps_vs_remax"] = {"crps_r2": crps, "remax_r2": remax, "at_or_above":
                                      crps >= remax}  # fmt: skip
        if all(m in methods for m in ("tab-ce", "gbdt-cqr")):
            scores = [r["uncertainty"] for r in methods["tab-ce"]]
            baseline = [r["uncertainty"] for r in methods["gbdt-cqr"]]
            before = float(np.mean([s["coverage_90"] for s in scores]))
            after = float(np.mean([s["conformal_coverage_90"] for s in scores]))
            width = float(np.mean([s["conformal_width_90"] for s in scores]))
            baseline_width = float(np.mean([s["conformal_width_90"] for s in baseline]))
            entry["intervals"] = {
                "coverage_before": before,
                "coverage_after": after,
                "width_after": width,
                "gbdt_cqr_coverage": float(np.mean([s["conformal_coverage_90"] for s in baseline])),
                "gbdt_cqr_width": baseline_width,
                "after_in_range": COVERAGE[0] <= after <= COVERAGE[1],
                "before_in_range": COVERAGE[0] <= before <= COVERAGE[1],
                "narrower_than_gbdt_cqr": width < baseline_width,
            }
        datasets[name] = entry
    return datasets


def targets(datasets: dict[str, dict], total: int) -> dict[str, dict]:
    """Each target's count and whether it is met (judged only once all `total` sets are in)."""

    def count(part: str, flag: str) -> tuple[int, int]:
        judged = [e[part][flag] for e in datasets.values() if part in e]
        return sum(judged), len(judged)

    rl = [e["rl"] for e in datasets.values() if "rl" in e]
    gain = float(np.mean([e["r2"] - e["ce_r2"] for e in rl])) if rl else float("nan")
    results = {}
    for claim, (part, flag, share) in {
        "decoding model at or above gradient boosting on >= 5 of 10": ("decoding",
                                                                       "at_or_above_gbdt", 0.5),
        "RL raises CE's test R^2 on >= 8 of 10": ("rl", "raises", 0.8),
        "crps at or above ReMax on >= 6 of 10": ("crps_vs_remax", "at_or_above", 0.6),
        "CE's conformal 90% coverage within 0.87-0.93 on every set": ("intervals",
                                                                     "after_in_range", 1.0),
        "CE's calibrated width narrower than MAPIE's on >= half": ("intervals",
                                                                   "narrower_than_gbdt_cqr", 0.5),
    }.items():  # fmt: skip
        met, judged = count(part, flag)
        need = math.ceil(share * total - 1e-9)  # the share of the panel's sets, e.g. 8 of 10
        results[claim] = {"count": met, "judged": judged, "met": judged == total and met >= need}
    results["RL raises the panel's mean R^2 by >= 0.02"] = {
        "gain": gain, "judged": len(rl), "met": len(rl) == total and gain >= 0.02,
    }  # fmt: skip
    return results


def markdown(report: dict, command: str, total: int) -> str:
    lines = ["# Targets of the `genre2-tabular` suite", "", f"Command: `{command}`", "",
             f"Seeds judged: {report['seeds']} (a dataset counts where every method a target "
             "needs has all of them); R² is the mean over those seeds.", "",
             "| dataset | CE/NTL chosen | R² | GBDT R² | RMSE − GBDT [95%] | RL chosen | RL R² | "
             "CE R² | crps R² | ReMax R² | coverage before → after | width | MAPIE width |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, e in report["datasets"].items():
        d, r, c, i = (e.get(k) for k in ("decoding", "rl", "crps_vs_remax", "intervals"))
        cells = [name]
        if d:
            p = d["rmse_minus_gbdt"]
            interval = f"{p['difference']:+.4g} [{p['low']:+.4g}, {p['high']:+.4g}] {p['verdict']}"
            cells += [d["chosen"], f"{d['r2']:.4f}", f"{d['gbdt_r2']:.4f}", interval]
        else:
            cells += ["-"] * 4
        cells += [r["chosen"], f"{r['r2']:.4f}", f"{r['ce_r2']:.4f}"] if r else ["-"] * 3
        cells += [f"{c['crps_r2']:.4f}", f"{c['remax_r2']:.4f}"] if c else ["-"] * 2
        cells += ([f"{i['coverage_before']:.3f} → {i['coverage_after']:.3f}",
                   f"{i['width_after']:.4g}", f"{i['gbdt_cqr_width']:.4g}"] if i
                  else ["-"] * 3)  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Targets", ""]
    for claim, result in report["targets"].items():
        measured = (f"gain {result['gain']:+.4f}" if "gain" in result
                    else f"{result['count']} of {result['judged']}")  # fmt: skip
        verdict = (
            "met"
            if result["met"]
            else (
                "MISSED"
                if result["judged"] == total
                else f"not judged yet (needs all {total} sets)"
            )
        )
        lines.append(f"- {claim}: {measured} judged sets: **{verdict}**")
    return "\n".join([*lines, ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--suite", default="genre2-tabular")
    parser.add_argument("--quick", action="store_true", help="judge a --quick run's rows")
    parser.add_argument("--seeds", type=int, help="judge the first N seeds only (a run cut short)")
    args = parser.parse_args(argv)
    suite = load_suite(args.suite)
    seed_list = suite.quick["seeds"] if args.quick else suite.seeds
    seed_list = seed_list[: args.seeds] if args.seeds else seed_list
    rows = [r for r in current_rows(suite, args.results, quick=args.quick)
            if r["seed"] in seed_list]  # fmt: skip
    seeds = len(seed_list)
    total = len({entry.name for grid in suite.grids for entry in grid.datasets})
    datasets = judge(by_dataset(rows, seeds), args.results)
    report = {"seeds": seeds, "datasets": datasets, "targets": targets(datasets, total)}
    command = "python benchmarks/genre2_tabular_targets.py " + " ".join(argv or sys.argv[1:])
    text = markdown(report, command.strip(), total)
    (args.results / "targets.json").write_text(json.dumps(report, indent=1) + "\n")
    (args.results / "targets.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
