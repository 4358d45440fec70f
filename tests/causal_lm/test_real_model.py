"""End to end on the real embedded model (SmolLM2-135M): a few steps through the CLI.

These run in CI; they convert the GGUF file once into the decoreg cache (about 30 s).
"""

import json

import numpy as np
import pandas as pd
import pytest

from decoreg.cli import main
from decoreg.estimator import DecodingRegressor

pytestmark = pytest.mark.real_model

REVIEWS = pd.DataFrame(
    {
        "review": [
            "Love this dress, fits perfectly and the fabric is soft.",
            "Terrible quality, it ripped after one wash.",
            "It is okay, nothing special but fine for the price.",
            "Absolutely gorgeous, I bought it in two colors.",
            "Runs very small and the color is not as pictured.",
            "Nice top, a little see-through but comfortable.",
            "Worst purchase ever, returned it immediately.",
            "Great jeans, flattering and stretchy.",
        ]
        * 2,
        "rating": [5, 1, 3, 5, 2, 4, 1, 5] * 2,
    }
)
TEMPLATE = "Review: {text}\nRating (1 to 5 stars): "


@pytest.mark.parametrize(("objective", "decoder"), [("raft", "grid-mean"), ("ce", "greedy")])
def test_cli_fine_tunes_the_embedded_model(tmp_path, capsys, objective, decoder):
    data = tmp_path / "reviews.csv"
    REVIEWS.to_csv(data, index=False)
    out = tmp_path / "model"
    code = main(
        [
            "train",
            str(data),
            "--text-column",
            "review",
            "--target-column",
            "rating",
            "--objective",
            objective,
            "--decoder",
            decoder,
            "--model",
            "smollm2-135m",
            "--output",
            str(out),
            "--max-steps",
            "3",
            "--batch-size",
            "4",
            "--eval-every",
            "3",
            "--template",
            TEMPLATE,
            "--seed",
            "1",
            "--learning-rate",
            "5e-5",
        ]
    )
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps_run"] == 3
    assert np.isfinite(metrics["best_validation"]["rmse"])

    preds = tmp_path / "preds.csv"
    assert main(["predict", str(out), str(data), "--output", str(preds)]) == 0
    frame = pd.read_csv(preds)
    assert len(frame) == len(REVIEWS)
    assert frame["parsed"].mean() > 0.5  # the model writes numbers after the answer cue

    capsys.readouterr()
    assert main(["evaluate", str(out), str(data), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == len(REVIEWS)


def test_raft_puts_the_grid_mass_where_the_ratings_are():
    """Zero-shot, SmolLM2 puts most of the answer-token mass on the digits 1-5 (SOURCES.md:
    about 0.8); the grid-mean prediction therefore lies inside the grid's range."""
    est = DecodingRegressor(model="smollm2-135m", template=TEMPLATE, max_steps=0, verbose=False)
    est.fit(REVIEWS["review"], REVIEWS["rating"])
    details = est.predict_details(REVIEWS["review"][:4])
    masses = [float(t.split("grid mass ")[1].rstrip(")")) for t in details.texts]
    assert min(masses) > 0.5
    assert np.all((details.values >= 1.0) & (details.values <= 5.0))
