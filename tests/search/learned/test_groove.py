"""GROOVE level buffer (search.learned.groove)."""

import torch

from search.learned.groove import LevelBuffer, algorithmic_regret
from tasks.rl.gridworld import CPU_LEVELS, sample_levels


def test_replay_prefers_high_regret_levels_and_uniform_never_replays():
    g = torch.Generator().manual_seed(0)
    buf = LevelBuffer(CPU_LEVELS, capacity=8, replay_prob=1.0, min_scored=4)
    levels = sample_levels(CPU_LEVELS, 8, g)
    buf.record(levels, torch.full((8,), -1), torch.arange(8.0))
    picked, ids = buf.sample(400, g)
    counts = torch.bincount(ids, minlength=8)
    assert (ids >= 0).all() and counts[7] > 2 * counts[0]
    assert torch.equal(picked.start[ids == 7], levels.start[7].expand(int(counts[7])))
    uniform = LevelBuffer(CPU_LEVELS, replay_prob=0.0)
    uniform.record(levels, torch.full((8,), -1), torch.arange(8.0))
    assert (uniform.sample(16, g)[1] == -1).all()


def test_full_buffer_keeps_the_highest_scores_and_updates_replayed_ones():
    g = torch.Generator().manual_seed(1)
    buf = LevelBuffer(CPU_LEVELS, capacity=4)
    buf.record(sample_levels(CPU_LEVELS, 6, g), torch.full((6,), -1),
               torch.tensor([5.0, 1.0, 4.0, 0.0, 3.0, 2.0]))
    assert sorted(buf.scores.tolist()) == [2.0, 3.0, 4.0, 5.0]
    buf.record(sample_levels(CPU_LEVELS, 1, g), torch.tensor([0]), torch.tensor([-1.0]))
    assert buf.scores[0] == -1.0
    assert torch.equal(algorithmic_regret(torch.tensor([1.0]), torch.tensor([0.25])),
                       torch.tensor([0.75]))
