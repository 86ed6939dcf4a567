"""The meta-gradient critic of LPG must track its targets: a critic that oscillates turns the
meta-gradient's advantages into noise (meta-training then drove the rule below random)."""

import torch

from search.learned.lpg import LPGConfig, critic_update
from tasks.rl.agents import gae, gather, rollout
from tasks.base import generator as seeded
from tasks.rl.gridworld import CPU_LEVELS, GridWorld, sample_levels

torch.set_num_threads(1)


def test_critic_stays_bounded_and_fits_its_targets_on_small_levels():
    cfg = LPGConfig()
    g = seeded("test-critic")
    env = GridWorld(sample_levels(CPU_LEVELS, 8, g), 16, g)
    v = torch.zeros(8, env.n_states)
    pi = torch.zeros(8, env.n_states, env.n_actions)  # uniform policy: fixed targets' law
    errors = []
    for n in range(120):
        ro = rollout(env, pi, cfg.rollout_len, g)
        if n >= 60:
            values = gather(v, ro.obs)
            _, target = gae(ro.rewards, ro.dones, values, cfg.gamma, cfg.lam)
            errors.append((values[..., :-1] - target).abs().mean())
        v = critic_update(v, ro, cfg)
    # returns of these levels are below ~2 in size; the old lr-40 SGD critic reached |V| ~ 15
    # and a mean error ~ 1.9 here
    assert v.abs().max() < 4.0
    assert torch.stack(errors).mean() < 0.2


def test_critic_step_moves_a_state_by_the_share_of_its_mean_error():
    cfg = LPGConfig(critic_step=0.5, gamma=0.0, lam=0.0)  # targets = rewards
    obs = torch.zeros(1, 2, 4, dtype=torch.long)           # state 0 throughout
    rewards = torch.ones(1, 2, 3)
    ro = type("R", (), {})()
    ro.obs, ro.rewards, ro.dones = obs, rewards, torch.zeros(1, 2, 3)
    v = critic_update(torch.zeros(1, 3), ro, cfg)
    torch.testing.assert_close(v, torch.tensor([[0.5, 0.0, 0.0]]))
