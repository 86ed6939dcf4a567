"""LPG: a learned policy gradient (Oh et al., 2020), meta-trained by truncated meta-gradients.

The meta-network reads a rollout backwards in time (a reverse GRU, hidden state reset where an
episode ended) and outputs, per step, a policy target pi_hat (a scalar) and a prediction target
y_hat (a softmax over m). Per-step inputs, as in the paper:

    x_t = [r_t, d_t, gamma, pi(a_t|s_t), phi(y(s_t)), phi(y(s_t+1)) * (1 - d_t)]   (+ n/N, log N)

where phi = Dense(16)-ReLU-Dense(1) embeds a y vector, and the temporally-aware variant (Jackson
et al., 2024) appends lifetime progress n/N and log N (the paper's form; the public code feeds the
raw update count). Inputs are detached (``stop_input_gradient``, as in LPG): the meta-gradient
flows only through the agent update.

The agent (tabular) minimises, per agent,  mean(-log pi(a|s) * pi_hat) + alpha_y mean KL(y || y_hat)
with clipped SGD (pi: lr 40, y: lr 4, per-agent norm clip 0.5, GROOVE's tabular settings).
Meta-loss after K differentiable agent updates and one more rollout, with a separate tabular
critic (GAE, advantages normalised within each lifetime's batch):

    L = -mean(log pi_K(a|s) A) - b0 H(pi) - b1 H(y) + b2 mean(pi_hat^2) + b3 mean(|y_hat|^2)

Network parameters are a dict of tensors with a leading population dimension P (P = 1 for
meta-gradients, P = population for :mod:`search.learned.es`), so one forward pass runs every
candidate.

Example::

    >>> cfg = LPGConfig(hidden=8)
    >>> eta = init_params(cfg, torch.Generator().manual_seed(0))
    >>> sorted(eta)[:3]
    ['bh', 'bi', 'emb1']
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from tasks.rl.agents import Rollout, clipped_sgd, entropy, gae, gather, rollout

__all__ = ["LPGConfig", "init_params", "n_inputs", "targets", "agent_update", "init_agent",
           "critic_update", "meta_loss", "train_agents", "RuleLearner"]


@dataclass
class LPGConfig:
    """Sizes and coefficients of LPG (defaults: GROOVE's, except the CPU-sized core)."""

    hidden: int = 64            # GRU width (paper 256; 64 at CPU scale)
    m: int = 8                  # size of the prediction vector y
    temporal: bool = False      # temporally-aware inputs n/N and log N
    rollout_len: int = 20       # steps per agent update
    updates: int = 5            # K differentiable agent updates per meta-step
    pi_lr: float = 40.0         # tabular SGD learning rate of the policy
    y_lr: float = 4.0           # ... of the prediction vector
    critic_step: float = 0.5    # tabular critic: V(s) moves this share of its mean TD(lambda) error
    max_norm: float = 0.5       # per-agent global-norm clip
    alpha_y: float = 0.5        # weight of the y KL term
    gamma: float = 0.99
    lam: float = 0.95           # GAE lambda of the critic
    beta_pi_entropy: float = 0.05
    beta_y_entropy: float = 0.001
    beta_pi_l2: float = 0.005
    beta_y_l2: float = 0.001
    stop_input_gradient: bool = True  # detach pi and y on the way in (as LPG); False: exact grad


def n_inputs(cfg: LPGConfig) -> int:
    return 6 + (2 if cfg.temporal else 0)


def init_params(cfg: LPGConfig, generator: torch.Generator, population: int = 0) -> dict:
    """Meta-parameters (uniform +-1/sqrt(fan_in), torch's default); ``population`` adds a dim."""
    H, D, m = cfg.hidden, n_inputs(cfg), cfg.m
    shapes = {"emb1": (m, 16), "emb1_b": (16,), "emb2": (16, 1), "emb2_b": (1,),
              "wi": (D, 3 * H), "wh": (H, 3 * H), "bi": (3 * H,), "bh": (3 * H,),
              "pi": (H, 1), "pi_b": (1,), "y": (H, m), "y_b": (m,)}
    fan = {"emb1": m, "emb1_b": m, "emb2": 16, "emb2_b": 16, "wi": H, "wh": H, "bi": H, "bh": H,
           "pi": H, "pi_b": H, "y": H, "y_b": H}
    lead = (population,) if population else ()
    return {k: (torch.rand(*lead, *s, generator=generator) * 2 - 1) / math.sqrt(fan[k])
            for k, s in shapes.items()}


def _embed(eta, y):  # y [P, N, T, m] -> [P, N, T]
    h = torch.relu(torch.einsum("pntm,pmk->pntk", y, eta["emb1"]) + eta["emb1_b"][:, None, None])
    return (torch.einsum("pntk,pko->pnto", h, eta["emb2"]) + eta["emb2_b"][:, None, None])[..., 0]


def _backward_gru(eta, x, dones):
    """x [P, N, T, D], dones [P, N, T] -> hidden states [P, N, T, H], run from T-1 down to 0."""
    P, N, T, _ = x.shape
    H = eta["wh"].shape[-1] // 3
    xi = torch.einsum("pntd,pdh->pnth", x, eta["wi"]) + eta["bi"][:, None, None]
    h, out = x.new_zeros(P, N, H), [None] * T
    for t in reversed(range(T)):
        h = h * (1 - dones[..., t, None])  # a new episode starts after t: forget the future
        hh = torch.einsum("pnh,phk->pnk", h, eta["wh"]) + eta["bh"][:, None]
        r_i, z_i, n_i = xi[:, :, t].chunk(3, -1)
        r_h, z_h, n_h = hh.chunk(3, -1)
        r, z = torch.sigmoid(r_i + r_h), torch.sigmoid(z_i + z_h)
        h = (1 - z) * torch.tanh(n_i + r * n_h) + z * h
        out[t] = h
    return torch.stack(out, 2)


def targets(eta: dict, agent: dict, ro: Rollout, cfg: LPGConfig, progress=None):
    """pi_hat [B, E, T] and y_hat [B, E, T, m] for B agents; B = P x (agents per member).

    ``progress`` is ``(n, N)``, each [B]: the agent's update count and lifetime (temporal only).
    """
    P = eta["wi"].shape[0]
    B, E, T = ro.actions.shape
    with torch.set_grad_enabled(torch.is_grad_enabled() and not cfg.stop_input_gradient):
        logits = gather(agent["pi"], ro.obs[..., :-1])
        pi_a = torch.softmax(logits, -1).gather(-1, ro.actions[..., None])[..., 0]
        y = torch.softmax(gather(agent["y"], ro.obs), -1)                  # [B, E, T+1, m]

    def grouped(z):
        return z.reshape(P, -1, *z.shape[2:])                              # [P, (B/P) E, ...]

    phi = _embed(eta, grouped(y))                                          # [P, N, T+1]
    d = grouped(ro.dones)
    cols = [grouped(ro.rewards), d, torch.full_like(d, cfg.gamma), grouped(pi_a),
            phi[..., :-1], phi[..., 1:] * (1 - d)]
    if cfg.temporal:
        n, N = progress
        frac = (n.float() / N.float())[:, None, None].expand(B, E, T)
        cols += [grouped(frac), grouped(N.float().log()[:, None, None].expand(B, E, T))]
    h = torch.relu(_backward_gru(eta, torch.stack(cols, -1), d))
    pi_hat = (torch.einsum("pnth,pho->pnto", h, eta["pi"]) + eta["pi_b"][:, None, None])[..., 0]
    y_hat = torch.softmax(torch.einsum("pnth,phm->pntm", h, eta["y"])
                          + eta["y_b"][:, None, None], -1)
    return pi_hat.reshape(B, E, T), y_hat.reshape(B, E, T, -1)


def init_agent(n_agents, n_states, n_actions, cfg: LPGConfig, device="cpu") -> dict:
    return {"pi": torch.zeros(n_agents, n_states, n_actions, device=device),
            "y": torch.zeros(n_agents, n_states, cfg.m, device=device),
            "v": torch.zeros(n_agents, n_states, device=device)}


def agent_update(eta, agent, ro, cfg, progress=None, create_graph=False):
    """One LPG agent update; returns (new {"pi", "y"}, pi_hat, y_hat, updated-policy logits)."""
    pi_hat, y_hat = targets(eta, agent, ro, cfg, progress)
    with torch.enable_grad():
        leaves = agent if create_graph else {k: agent[k].detach().requires_grad_()
                                             for k in ("pi", "y")}
        logits = gather(leaves["pi"], ro.obs[..., :-1])
        logp_a = torch.log_softmax(logits, -1).gather(-1, ro.actions[..., None])[..., 0]
        logy = torch.log_softmax(gather(leaves["y"], ro.obs[..., :-1]), -1)
        kl = (logy.exp() * (logy - (y_hat + 1e-8).log())).sum(-1)
        loss = (-logp_a * pi_hat + cfg.alpha_y * kl).mean((1, 2)).sum()
        g_pi, g_y = torch.autograd.grad(loss, [leaves["pi"], leaves["y"]],
                                        create_graph=create_graph)
    new = {**clipped_sgd({"pi": leaves["pi"]}, {"pi": g_pi}, cfg.pi_lr, cfg.max_norm),
           **clipped_sgd({"y": leaves["y"]}, {"y": g_y}, cfg.y_lr, cfg.max_norm)}
    if not create_graph:
        new = {k: v.detach() for k, v in new.items()}
    return new, pi_hat, y_hat


@torch.no_grad()
def critic_update(v: torch.Tensor, ro: Rollout, cfg: LPGConfig) -> torch.Tensor:
    """One tabular step of the critic toward its GAE targets: ``V(s) -= step * mean error at s``.

    The error is averaged over the visits of each state, so the step is stable (``0 < step < 2``)
    however often a state is visited. GROOVE's form, SGD with lr 40 on the error summed per state
    and divided by the batch size, moves a state visited c times by ``40 c / (E T)`` of its error:
    on small levels, where a few states take most visits, that overshoots, and the critic
    oscillated to |V| ~ 15 against returns below 1, which turned the meta-gradient's advantages
    into noise from the critic.
    """
    values = gather(v, ro.obs)
    _, target = gae(ro.rewards, ro.dones, values, cfg.gamma, cfg.lam)
    err = values[..., :-1] - target                                        # [B, E, T]
    obs = ro.obs[..., :-1].flatten(1)
    total = torch.zeros_like(v).scatter_add_(1, obs, err.flatten(1))
    count = torch.zeros_like(v).scatter_add_(1, obs, torch.ones_like(err).flatten(1))
    return v - cfg.critic_step * total / count.clamp(min=1)


def meta_loss(eta, agent, env, cfg: LPGConfig, generator, progress=None):
    """The regularised meta-loss after K differentiable agent updates (see module docstring).

    ``agent`` holds "pi", "y", "v"; returns (loss, the agent after the K updates (detached),
    stats). With ``progress = (n, N)``, n advances by one per update.
    """
    cur = {k: agent[k].detach().requires_grad_() for k in ("pi", "y")}
    v = agent["v"]
    ent_pi, ent_y, l2_pi, l2_y, rewards = [], [], [], [], []
    for k in range(cfg.updates):
        ro = rollout(env, cur["pi"].detach(), cfg.rollout_len, generator)
        rewards.append(ro.rewards.mean())
        v = critic_update(v, ro, cfg)
        prog = None if progress is None else (progress[0] + k, progress[1])
        cur, pi_hat, y_hat = agent_update(eta, cur, ro, cfg, prog, create_graph=True)
        ent_pi.append(entropy(gather(cur["pi"], ro.obs[..., :-1])).mean())
        ent_y.append(entropy(gather(cur["y"], ro.obs[..., :-1])).mean())
        l2_pi.append(pi_hat.pow(2).mean())
        l2_y.append(y_hat.pow(2).sum(-1).mean())
    ro = rollout(env, cur["pi"].detach(), cfg.rollout_len, generator)
    adv, _ = gae(ro.rewards, ro.dones, gather(v, ro.obs), cfg.gamma, cfg.lam)
    # per lifetime (each agent its own batch, as each runs its own vmapped loss in GROOVE): a
    # batch-wide normalisation leaves level-to-level return differences in A, which rewards
    # making whatever a well-off agent did more likely and collapses policies
    adv = (adv - adv.mean((1, 2), keepdim=True)) / (adv.std((1, 2), keepdim=True) + 1e-8)
    logp_a = torch.log_softmax(gather(cur["pi"], ro.obs[..., :-1]), -1) \
        .gather(-1, ro.actions[..., None])[..., 0]
    policy = -(logp_a * adv).mean()

    def mean(xs):
        return torch.stack(xs).mean()

    loss = (policy - cfg.beta_pi_entropy * mean(ent_pi) - cfg.beta_y_entropy * mean(ent_y)
            + cfg.beta_pi_l2 * mean(l2_pi) + cfg.beta_y_l2 * mean(l2_y))
    v = critic_update(v, ro, cfg)
    new = {"pi": cur["pi"].detach(), "y": cur["y"].detach(), "v": v}
    stats = {"reward": float(mean(rewards)), "entropy": float(mean(ent_pi).detach()),
             "policy_loss": float(policy.detach())}
    return loss, new, stats


@torch.no_grad()
def train_agents(eta, env, cfg: LPGConfig, lifetime: torch.Tensor, generator) -> dict:
    """Train fresh agents with the frozen rule ``eta`` for ``lifetime`` [B] updates each.

    Agents of shorter lifetimes stop updating at their lifetime (updates past it are discarded,
    as in the public code), so a batch can mix lifetimes.
    """
    B = lifetime.shape[0]
    agent = init_agent(B, env.n_states, env.n_actions, cfg, lifetime.device)
    for n in range(int(lifetime.max())):
        ro = rollout(env, agent["pi"], cfg.rollout_len, generator)
        prog = (torch.full_like(lifetime, n), lifetime)
        new, _, _ = agent_update(eta, agent, ro, cfg, prog)
        live = (n < lifetime).view(B, 1, 1)
        agent = {k: torch.where(live, new[k], agent[k]) for k in ("pi", "y")}
    return agent


class RuleLearner:
    """A learner of :mod:`tasks.rl.protocol`: fresh agents trained by the frozen rule ``eta``
    (one meta-network, no population dimension) for each level's lifetime."""

    label = "learned rule"

    def __init__(self, eta: dict, cfg: LPGConfig):
        self.eta, self.cfg = eta, cfg

    def __call__(self, env, levels, generator) -> torch.Tensor:
        one = {k: v[None] for k, v in self.eta.items()}
        return train_agents(one, env, self.cfg, levels.lifetime, generator)["pi"]
