"""Grid-worlds, value iteration and tabular agents (tasks.rl.gridworld,
tasks.rl.value_iteration, tasks.rl.agents)."""

import itertools
from functools import lru_cache

import pytest
import torch

from tasks.rl.agents import A2CConfig, episode_return, rollout, train_a2c
from tasks.rl.gridworld import (CPU_LEVELS, DelayedChain, GridWorld, LevelDistribution, Levels,
                                lpg_levels, next_cells, sample_levels)
from tasks.rl.value_iteration import optimal_return

TINY = LevelDistribution(size=(2, 3), max_size=3, n_walls=2, objects=(1, 2), episode=(3, 4),
                         lifetime=(10, 10))


def _deterministic(levels):
    levels.obj_term = (levels.obj_term > 0.1).float()
    levels.obj_respawn = (levels.obj_respawn > 0.03).float()
    return levels


def test_value_iteration_matches_brute_force_over_action_sequences():
    g = torch.Generator().manual_seed(1)
    levels = _deterministic(sample_levels(TINY, 8, g))
    horizon = int(levels.max_steps.max())
    seqs = torch.tensor(list(itertools.product(range(5), repeat=horizon)))  # every plan
    env = GridWorld(levels, len(seqs), g)
    ret = torch.zeros(len(levels), len(seqs))
    alive = torch.ones_like(ret, dtype=torch.bool)
    for t in range(horizon):
        _, r, d = env.step(seqs[:, t][None].expand(len(levels), -1))
        ret += r * alive
        alive &= ~d
    torch.testing.assert_close(optimal_return(levels).float(), ret.max(1).values)


def _expectimax(levels: Levels, b: int) -> float:
    """Plain-Python expectimax over every random outcome (term and each respawn)."""
    nxt = next_cells(levels.walls)[b].tolist()
    pos, rew = levels.obj_pos[b].tolist(), levels.obj_reward[b].tolist()
    term, resp = levels.obj_term[b].tolist(), levels.obj_respawn[b].tolist()
    valid = levels.obj_valid[b].tolist()
    n = len(pos)

    @lru_cache(None)
    def value(cell, present, left):
        if left == 0:
            return 0.0
        best = -1e9
        for a in range(5):
            c = nxt[cell][a]
            hit = [present[o] and valid[o] and pos[o] == c for o in range(n)]
            r = sum(rew[o] for o in range(n) if hit[o])
            p_survive = 1.0
            for o in range(n):
                p_survive *= 1 - term[o] if hit[o] else 1.0
            after = [present[o] and not hit[o] for o in range(n)]
            future = 0.0
            for outcome in itertools.product([False, True], repeat=n):
                p = 1.0
                for o in range(n):
                    if after[o]:
                        p *= 1.0 if outcome[o] else 0.0
                    else:
                        q = resp[o] if valid[o] else 0.0
                        p *= q if outcome[o] else 1 - q
                if p > 0:
                    future += p * value(c, outcome, left - 1)
            best = max(best, r + p_survive * future)
        return best

    return value(int(levels.start[b]), tuple(valid), int(levels.max_steps[b]))


def test_value_iteration_matches_expectimax_on_stochastic_levels():
    levels = sample_levels(TINY, 4, torch.Generator().manual_seed(2))
    levels.obj_respawn = torch.full_like(levels.obj_respawn, 0.3)
    vi = optimal_return(levels)
    for b in range(len(levels)):
        assert float(vi[b]) == pytest.approx(_expectimax(levels, b), abs=1e-9)


def test_batched_levels_step_like_single_levels():
    g = torch.Generator().manual_seed(3)
    levels = _deterministic(sample_levels(CPU_LEVELS, 4, g))
    together = GridWorld(levels, 6, g)
    alone = [GridWorld(levels.select(slice(b, b + 1)), 6, g) for b in range(4)]
    for _ in range(30):
        a = torch.randint(0, 5, (4, 6), generator=g)
        obs, r, d = together.step(a)
        for b, env in enumerate(alone):
            o1, r1, d1 = env.step(a[b:b + 1])
            assert torch.equal(o1[0], obs[b]) and torch.equal(r1[0], r[b]) and torch.equal(d1[0], d[b])


def test_a2c_reaches_most_of_the_optimal_return():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    walls = torch.ones(1, 4, 4, dtype=torch.bool)
    walls[0, :3, :3] = False
    level = Levels(walls, torch.tensor([0]), torch.tensor([[10, 6]]), torch.tensor([[1.0, -1.0]]),
                   torch.tensor([[1.0, 0.5]]), torch.tensor([[0.0, 0.0]]),
                   torch.tensor([[True, True]]), torch.tensor([12]), torch.tensor([100]))
    best = float(optimal_return(level)[0])
    assert best == pytest.approx(1.0)
    params = train_a2c(GridWorld(level, 16, g), A2CConfig(lifetime=100), g)
    assert float(episode_return(GridWorld(level, 64, g), params["pi"], g)[0]) >= 0.8 * best


def test_lpg_levels_and_sampled_levels_are_well_formed():
    g = torch.Generator().manual_seed(4)
    for levels in (lpg_levels(), sample_levels(CPU_LEVELS, 16, g)):
        assert not levels.walls.flatten(1).gather(1, levels.start[:, None]).any()  # start free
        env = GridWorld(levels, 4, g)
        ro = rollout(env, torch.zeros(len(levels), env.n_states, 5), 50, g)
        assert ro.obs.max() < env.n_states and ro.obs.min() >= 0
    assert lpg_levels().obj_valid.sum(1).tolist() == [4, 2, 4, 7, 4]


def test_delayed_chain_pays_the_first_choice_at_the_end():
    g = torch.Generator().manual_seed(5)
    env = DelayedChain(3, 2, g, length=(5, 8))
    total = torch.zeros(3, 2)
    good = env.good[:, None].expand(3, 2)
    for _ in range(int(env.length.max()) + 1):
        _, r, d = env.step(good)
        total += r
    assert (total >= 1).all()
