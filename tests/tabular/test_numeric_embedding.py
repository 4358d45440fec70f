"""Numeric feature embeddings: hand-derived values, the model's wiring, save/load, validation."""

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from decoreg.errors import ConfigError
from decoreg.tabular import (
    TABULAR_DECODERS,
    TabularModelConfig,
    build_tabular_model,
    load_tabular_model,
)
from decoreg.tabular.numeric_embedding import (
    LinearNumericEmbedding,
    PeriodicNumericEmbedding,
    make_numeric_embedding,
)

pytestmark = pytest.mark.usefixtures("one_thread")

PERIODIC = TabularModelConfig(
    d_model=16,
    heads=2,
    layers=1,
    ff_size=32,
    memory_tokens=2,
    numeric_embedding="periodic",
    periodic_frequencies=3,
    numeric_dim=4,
)


def test_periodic_embedding_by_hand():
    """One feature, one frequency 1/4: x = 1 gives angle pi/2, so [cos, sin] = [0, 1]; x = 2
    gives angle pi, [cos, sin] = [-1, 0]. With W = [[1, -1], [2, 0]] (rows: cos, sin) and bias
    [0.5, 0.5] the outputs are relu([0, 1] W + b) = relu([2.5, 0.5]) and
    relu([-1, 0] W + b) = relu([-0.5, 1.5]) = [0, 1.5]."""
    embedding = PeriodicNumericEmbedding(features=1, frequencies=1, scale=1.0, dim=2)
    with torch.no_grad():
        embedding.frequencies.fill_(0.25)
        embedding.weight.copy_(torch.tensor([[[1.0, -1.0], [2.0, 0.0]]]))
        embedding.bias.fill_(0.5)
    out = embedding(torch.tensor([[1.0], [2.0]]))
    torch.testing.assert_close(out, torch.tensor([[2.5, 0.5], [0.0, 1.5]]), atol=1e-6, rtol=0)


def test_periodic_embedding_matches_a_loop_over_features():
    torch.manual_seed(0)
    embedding = PeriodicNumericEmbedding(features=3, frequencies=5, scale=0.7, dim=4)
    x = torch.randn(6, 3)
    out = embedding(x)
    assert out.shape == (6, 3 * 4) and embedding.output_width == 12
    for f in range(3):
        angles = 2 * math.pi * x[:, f : f + 1] * embedding.frequencies[f]  # [6, 5]
        periodic = torch.cat([angles.cos(), angles.sin()], dim=1)  # [6, 10]
        expected = torch.relu(periodic @ embedding.weight[f] + embedding.bias[f])
        torch.testing.assert_close(out[:, 4 * f : 4 * (f + 1)], expected)


def test_initial_frequencies_follow_the_scale():
    torch.manual_seed(0)
    embedding = PeriodicNumericEmbedding(features=50, frequencies=40, scale=0.1, dim=2)
    assert abs(float(embedding.frequencies.detach().std()) - 0.1) < 0.01


def test_linear_embedding_is_the_identity_and_periodic_needs_features():
    x = torch.randn(4, 3)
    assert torch.equal(LinearNumericEmbedding(3)(x), x)
    none = make_numeric_embedding("periodic", 0, frequencies=3, scale=0.1, dim=4)
    assert isinstance(none, LinearNumericEmbedding) and none.output_width == 0


def _frame(n: int = 48) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"a": rng.uniform(-1, 1, n), "b": rng.normal(size=n), "kind": rng.choice(["x", "y"], n)}
    )
    return frame, (np.sign(frame["a"]) + frame["b"]).to_numpy()


def test_the_model_feeds_the_embedding_to_its_encoder(tmp_path):
    frame, y = _frame()
    model = build_tabular_model(frame, y, PERIODIC).eval()
    # 2 numeric columns x 4 wide, plus 1 categorical column x 16
    assert model.encoder[0].in_features == 2 * 4 + 16
    assert model.numeric_embedding.frequencies.shape == (2, 3)
    # the embedding is trained: the loss reaches its frequencies
    batch = model.make_batch(frame, y)
    model.pointwise(batch).sum().backward()
    assert model.numeric_embedding.frequencies.grad.abs().sum() > 0
    model.save(str(tmp_path))
    loaded = load_tabular_model(str(tmp_path))
    assert loaded.config.numeric_embedding == "periodic"
    rows = model.make_batch(frame.iloc[:5], None)
    before = TABULAR_DECODERS["greedy"](model, rows, generator=torch.Generator())
    after = TABULAR_DECODERS["greedy"](
        loaded, loaded.make_batch(frame.iloc[:5], None), generator=torch.Generator()
    )
    np.testing.assert_array_equal(before.values, after.values)


def test_a_config_saved_before_numeric_embeddings_loads_as_linear(tmp_path):
    frame, y = _frame()
    linear = dataclasses.replace(PERIODIC, numeric_embedding="linear")
    model = build_tabular_model(frame, y, linear)
    model.save(str(tmp_path))
    description = json.loads((tmp_path / "tabular.json").read_text())
    for key in ("numeric_embedding", "periodic_frequencies", "periodic_scale", "numeric_dim"):
        del description["config"][key]
    (tmp_path / "tabular.json").write_text(json.dumps(description))
    loaded = load_tabular_model(str(tmp_path))
    assert loaded.config.numeric_embedding == "linear"
    assert model.encoder[0].in_features == loaded.encoder[0].in_features == 2 + 16


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"numeric_embedding": "fourier"}, "numeric_embedding must be one of"),
        ({"periodic_scale": 0.0}, "periodic_scale"),
        ({"periodic_frequencies": 0}, "periodic_frequencies"),
        ({"numeric_dim": -2}, "numeric_dim"),
    ],
)
def test_bad_embedding_options(options: dict, message: str):
    with pytest.raises(ConfigError, match=message):
        TabularModelConfig(**options)
