"""OpenAI-ES with antithetic pairs (search.learned.es)."""

import pytest
import torch

from search.learned.es import OpenES, flatten, unflatten


@pytest.mark.parametrize("shaping", ["pairwise", "rank"])
def test_es_improves_fitness_on_a_quadratic(shaping):
    target = torch.linspace(-1, 1, 10)

    def fitness(x):
        return -(x - target).pow(2).sum(-1)

    es = OpenES(dim=10, pairs=16, sigma=0.1, lr=0.05, shaping=shaping)
    state = es.init(torch.zeros(10))
    g = torch.Generator().manual_seed(0)
    start = float(fitness(state.mean))
    for _ in range(150):
        pop, state = es.ask(state, g)
        assert torch.allclose(pop[0::2] + pop[1::2], 2 * state.mean[None])  # antithetic
        state = es.tell(state, fitness(pop))
    assert float(fitness(state.mean)) > 0.1 * start  # most of the gap closed


def test_pairwise_shaping_keeps_only_the_sign_within_pairs():
    es = OpenES(dim=1, pairs=3)
    shaped = es.shape(torch.tensor([5.0, -100.0, 0.0, 0.1, 2.0, 2.0]))
    assert shaped.tolist() == [1.0, 0.0, 0.0, 1.0, 0.5, 0.5]


def test_flatten_round_trip_with_population_dim():
    like = {"a": torch.zeros(2, 3), "b": torch.zeros(4)}
    flat = torch.randn(5, 10)
    back = unflatten(flat, like)
    assert back["a"].shape == (5, 2, 3)
    assert torch.equal(torch.stack([flatten({k: v[i] for k, v in back.items()})
                                    for i in range(5)]), flat)
