"""LPG meta-network and meta-gradient (search.learned.lpg)."""

import torch

from search.learned.lpg import (LPGConfig, init_agent, init_params, meta_loss, targets,
                                train_agents)
from tasks.rl.agents import rollout
from tasks.rl.gridworld import CPU_LEVELS, GridWorld, sample_levels


def _loss(eta, cfg):
    g = torch.Generator().manual_seed(7)
    levels = sample_levels(CPU_LEVELS, 2, g).map(
        lambda x: x.double() if x.is_floating_point() else x)
    env = GridWorld(levels, 2, g)
    agent = init_agent(2, env.n_states, env.n_actions, cfg)
    agent = {k: v.double() for k, v in agent.items()}
    agent["pi"] = torch.randn(agent["pi"].shape, generator=g, dtype=torch.float64)
    progress = (torch.tensor([3, 5]), torch.tensor([10, 20]))
    return meta_loss(eta, agent, env, cfg, g, progress)[0]


def test_meta_gradient_matches_finite_differences():
    cfg = LPGConfig(hidden=4, m=3, rollout_len=4, updates=2, temporal=True,
                    stop_input_gradient=False)
    eta0 = {k: v.double() for k, v in
            init_params(cfg, torch.Generator().manual_seed(0), population=1).items()}
    eta = {k: v.clone().requires_grad_() for k, v in eta0.items()}
    grads = torch.autograd.grad(_loss(eta, cfg), list(eta.values()))
    g = torch.Generator().manual_seed(1)
    direction = {k: torch.randn(v.shape, generator=g, dtype=torch.float64) for k, v in eta0.items()}
    analytic = sum((gr * direction[k]).sum() for gr, k in zip(grads, eta))
    eps = 1e-6
    plus = _loss({k: v + eps * direction[k] for k, v in eta0.items()}, cfg)
    minus = _loss({k: v - eps * direction[k] for k, v in eta0.items()}, cfg)
    assert abs(float(analytic)) > 1e-4  # the gradient reaches eta through the K-step unroll
    torch.testing.assert_close(analytic.detach(), (plus - minus) / (2 * eps), rtol=1e-5, atol=1e-8)


def test_population_forward_matches_one_member_at_a_time():
    cfg = LPGConfig(hidden=8, temporal=True)
    g = torch.Generator().manual_seed(2)
    pop = init_params(cfg, g, population=3)
    env = GridWorld(sample_levels(CPU_LEVELS, 6, g), 4, g)
    agent = init_agent(6, env.n_states, env.n_actions, cfg)
    agent["y"] = torch.randn(agent["y"].shape, generator=g)
    ro = rollout(env, agent["pi"], 10, g)
    progress = (torch.arange(6), torch.full((6,), 50))
    pi_hat, y_hat = targets(pop, agent, ro, cfg, progress)
    for p in range(3):
        one = {k: v[p:p + 1] for k, v in pop.items()}
        part = slice(2 * p, 2 * p + 2)
        sub = {k: v[part] for k, v in agent.items()}
        ro_p = type(ro)(*(x[part] for x in ro))
        a, b = targets(one, sub, ro_p, cfg, (progress[0][part], progress[1][part]))
        torch.testing.assert_close(a, pi_hat[part])
        torch.testing.assert_close(b, y_hat[part])


def test_frozen_rule_trains_agents_within_their_lifetimes():
    cfg = LPGConfig(hidden=8)
    g = torch.Generator().manual_seed(3)
    env = GridWorld(sample_levels(CPU_LEVELS, 2, g), 4, g)
    eta = init_params(cfg, g, population=1)
    agent = train_agents(eta, env, cfg, torch.tensor([0, 3]), g)
    assert torch.all(agent["pi"][0] == 0) and agent["pi"][1].abs().sum() > 0
