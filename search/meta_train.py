"""Meta-training runs of the learned rules: ``meta_train("lpg" | "ta-lpg" | "groove" | "es-lpg")``.

- ``lpg``: meta-gradients (:mod:`search.lpg`) on random levels (domain randomisation);
- ``groove``: the same, with levels from :class:`search.groove.LevelBuffer` scored by
  algorithmic regret against an A2C antagonist trained in lockstep on each agent's level;
- ``ta-lpg``: temporally-aware LPG by OpenAI-ES (:mod:`search.es`): each antithetic pair shares a
  level and a lifetime drawn log-uniformly from ``ta_lifetimes``; a generation trains every
  candidate's agent for its whole lifetime (forward only, all candidates in one batch);
- ``es-lpg``: the same ES run without the lifetime inputs (plain LPG inputs): the control that
  separates lifetime conditioning from the change of meta-optimiser (ES vs meta-gradients).

CPU scale (the defaults; GROOVE's is 512 lifetimes x 64 envs, GRU-256, lifetimes of 1000 updates):
16 lifetimes x 16 envs, GRU-64, m = 8, 5x5 grids with <= 2 objects, lifetime 250 updates, K = 5,
meta Adam lr 1e-3; ES: 8 pairs, sigma 0.1, lr 0.01, lifetimes 10-250. The first lifetimes of a
run are staggered (uniform in [K, lifetime]) so agents do not all restart at once.

A run writes ``run_dir/``: ``config.json``, ``log.jsonl`` (one line per logged step),
``checkpoint.pt`` (atomic write every ``checkpoint_every`` steps and at the end; ``resume=True``
continues from it), ``params.pt`` (the meta-parameters) and ``eval.json`` (held-out levels: the
trained rule, an untrained rule and A2C, per-level A2C-normalised return).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from tasks.agents import A2CConfig, a2c_update, init_a2c, mean_reward, rollout, train_a2c
from tasks.base import generator as seeded, resolve_device
from tasks.gridworld import CPU_LEVELS, GridWorld, Levels, sample_levels

from .es import OpenES, flatten, unflatten
from .groove import LevelBuffer, _scatter, algorithmic_regret
from .lpg import LPGConfig, init_agent, init_params, meta_loss, train_agents

__all__ = ["KINDS", "MetaTrainConfig", "meta_train", "evaluate_rule"]

KINDS = ("lpg", "ta-lpg", "groove", "es-lpg")
#: the kinds meta-trained by evolution strategies
ES_KINDS = ("ta-lpg", "es-lpg")
#: the CPU-scale run length per kind: about 4-5 minutes of one core for LPG and GROOVE (200-250
#: meta-steps/min) and 6-8 for the ES kinds (13-17 generations/min); the README's figures
DEFAULT_STEPS = {"lpg": 1000, "groove": 1000, "ta-lpg": 100, "es-lpg": 100}


@dataclass
class MetaTrainConfig:
    """Settings of a meta-training run (defaults sized for a 2-core CPU)."""

    kind: str = "lpg"
    steps: int | None = None      # meta-steps (ES: generations); None: DEFAULT_STEPS[kind]
    seed: int = 0
    device: str = "cpu"
    agents: int = 16              # parallel lifetimes
    envs: int = 16                # environments per lifetime
    hidden: int = 64              # GRU width
    m: int = 8                    # prediction vector size
    lifetime: int = 250           # agent updates per lifetime (lpg, groove)
    meta_lr: float = 1e-3         # Adam on the meta-parameters (lpg, groove)
    es_pairs: int = 8             # antithetic pairs (ta-lpg, es-lpg): population 16
    es_sigma: float = 0.1
    es_lr: float = 0.01
    ta_lifetimes: tuple = (10, 250)   # log-uniform lifetime range (ta-lpg, es-lpg)
    buffer_size: int = 1000       # groove
    replay_prob: float = 0.5      # groove
    eval_levels: int = 16         # held-out levels scored at the end
    eval_steps: int = 50          # rollout steps per env when measuring a policy's reward
    log_every: int = 10
    checkpoint_every: int = 50

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"meta-train: unknown kind {self.kind!r}; choose one of {KINDS}")
        if self.steps is None:
            self.steps = DEFAULT_STEPS[self.kind]
        if self.steps < 1:
            raise ValueError(f"meta-train: steps must be >= 1, got {self.steps}")
        self.ta_lifetimes = tuple(self.ta_lifetimes)

    def lpg(self) -> LPGConfig:
        return LPGConfig(hidden=self.hidden, m=self.m, temporal=self.kind == "ta-lpg")


def _atomic_save(obj, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _log(run_dir: Path, line: dict) -> None:
    with open(run_dir / "log.jsonl", "a") as f:
        f.write(json.dumps(line) + "\n")


def _put(levels: Levels, mask: torch.Tensor, new: Levels) -> Levels:
    return _scatter(levels.to("cpu"), mask.cpu(), new).to(levels.start.device)


class _GradientRun:
    """State of an lpg / groove run: the meta-parameters, Adam, agents, envs and levels."""

    def __init__(self, cfg: MetaTrainConfig, device):
        self.cfg, self.lcfg, self.device = cfg, cfg.lpg(), device
        self.g_levels = seeded("meta-train", cfg.kind, cfg.seed, "levels")
        self.g_env = torch.Generator(device=device)
        self.g_env.manual_seed(cfg.seed)
        init = init_params(self.lcfg, seeded("meta-train", cfg.seed, "init"), population=1)
        self.eta = {k: v.to(device).requires_grad_() for k, v in init.items()}
        self.opt = torch.optim.Adam(list(self.eta.values()), lr=cfg.meta_lr)
        self.buffer = LevelBuffer(CPU_LEVELS, cfg.buffer_size,
                                  cfg.replay_prob if cfg.kind == "groove" else 0.0)
        levels, self.ids = self.buffer.sample(cfg.agents, self.g_levels)
        first = torch.randint(self.lcfg.updates, cfg.lifetime + 1, (cfg.agents,),
                              generator=self.g_levels)
        levels.lifetime = first
        self.env = GridWorld(levels.to(device), cfg.envs, self.g_env)
        self.agent = init_agent(cfg.agents, self.env.n_states, 5, self.lcfg, device)
        self.age = torch.zeros(cfg.agents, dtype=torch.long, device=device)
        if cfg.kind == "groove":
            self.a2c_env = GridWorld(levels.to(device), cfg.envs, self.g_env)
            self.a2c = init_a2c(cfg.agents, self.env.n_states, 5, device)

    def step(self) -> dict:
        cfg, lcfg = self.cfg, self.lcfg
        loss, self.agent, stats = meta_loss(self.eta, self.agent, self.env, lcfg, self.g_env)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.age += lcfg.updates
        if cfg.kind == "groove":
            a2c_cfg = A2CConfig()
            for _ in range(lcfg.updates):
                ro = rollout(self.a2c_env, self.a2c["pi"], lcfg.rollout_len, self.g_env)
                self.a2c = a2c_update(self.a2c, ro, a2c_cfg)
        done = self.age >= self.env.levels.lifetime
        if done.any():
            self._new_lifetimes(done, stats)
        return {**stats, "meta_loss": float(loss.detach())}

    def _new_lifetimes(self, done: torch.Tensor, stats: dict) -> None:
        cfg, n = self.cfg, int(done.sum())
        if cfg.kind == "groove":  # score the finished levels by algorithmic regret
            with torch.no_grad():
                rule = mean_reward(self.env, self.agent["pi"], cfg.eval_steps, self.g_env)
                a2c = mean_reward(self.a2c_env, self.a2c["pi"], cfg.eval_steps, self.g_env)
            regret = algorithmic_regret(a2c, rule)[done].cpu()
            finished = self.env.levels.to("cpu").select(done.cpu())
            self.buffer.record(finished, self.ids[done.cpu()], regret)
            stats["regret"] = float(regret.mean())
        new, new_ids = self.buffer.sample(n, self.g_levels)
        new.lifetime = torch.full((n,), cfg.lifetime)
        levels = _put(self.env.levels, done, new)
        self.ids[done.cpu()] = new_ids
        self.env.set_levels(levels)
        self.env.reset(done)
        for k in self.agent:
            self.agent[k][done] = 0
        self.age[done] = 0
        if cfg.kind == "groove":
            self.a2c_env.set_levels(levels)
            self.a2c_env.reset(done)
            for k in self.a2c:
                self.a2c[k][done] = 0

    def params(self) -> dict:
        return {k: v.detach()[0].cpu() for k, v in self.eta.items()}

    def state_dict(self) -> dict:
        out = {"eta": self.params(), "opt": self.opt.state_dict(), "agent": self.agent,
               "age": self.age, "env": self.env.state_dict(), "ids": self.ids,
               "buffer": self.buffer.state_dict(), "g_levels": self.g_levels.get_state(),
               "g_env": self.g_env.get_state()}
        if self.cfg.kind == "groove":
            out.update(a2c=self.a2c, a2c_env=self.a2c_env.state_dict())
        return out

    def load_state_dict(self, s: dict) -> None:
        with torch.no_grad():
            for k, v in s["eta"].items():
                self.eta[k].copy_(v[None])
        self.opt.load_state_dict(s["opt"])
        self.agent, self.age, self.ids = s["agent"], s["age"], s["ids"]
        self.env.load_state_dict(s["env"])
        self.buffer.load_state_dict(s["buffer"])
        self.g_levels.set_state(s["g_levels"])
        self.g_env.set_state(s["g_env"])
        if self.cfg.kind == "groove":
            self.a2c = s["a2c"]
            self.a2c_env.load_state_dict(s["a2c_env"])


class _ESRun:
    """State of a ta-lpg / es-lpg run: OpenES over the flattened meta-parameters."""

    def __init__(self, cfg: MetaTrainConfig, device):
        self.cfg, self.lcfg, self.device = cfg, cfg.lpg(), device
        self.g = seeded("meta-train", cfg.kind, cfg.seed, "es")
        self.g_env = torch.Generator(device=device)
        self.g_env.manual_seed(cfg.seed)
        self.like = init_params(self.lcfg, seeded("meta-train", cfg.seed, "init"))
        self.es = OpenES(dim=flatten(self.like).numel(), pairs=cfg.es_pairs, sigma=cfg.es_sigma,
                         lr=cfg.es_lr)
        self.state = self.es.init(flatten(self.like))

    def step(self) -> dict:
        cfg, P = self.cfg, 2 * self.cfg.es_pairs
        pop, self.state = self.es.ask(self.state, self.g)
        levels = sample_levels(CPU_LEVELS, cfg.es_pairs, self.g)
        lo, hi = cfg.ta_lifetimes
        life = torch.exp(math.log(lo) + torch.rand(cfg.es_pairs, generator=self.g)
                         * (math.log(hi) - math.log(lo))).round().long()
        pair = torch.arange(P) // 2                        # both members of a pair: same level
        env = GridWorld(levels.select(pair).to(self.device), cfg.envs, self.g_env)
        eta = {k: v.to(self.device) for k, v in unflatten(pop, self.like).items()}
        agent = train_agents(eta, env, self.lcfg, life[pair].to(self.device), self.g_env)
        fitness = mean_reward(env, agent["pi"], cfg.eval_steps, self.g_env).cpu()
        self.state = self.es.tell(self.state, fitness)
        return {"reward": float(fitness.mean()), "best": float(fitness.max())}

    def params(self) -> dict:
        return unflatten(self.state.mean.cpu(), self.like)

    def state_dict(self) -> dict:
        return {"es": dataclasses.asdict(self.state), "g": self.g.get_state(),
                "g_env": self.g_env.get_state()}

    def load_state_dict(self, s: dict) -> None:
        for k, v in s["es"].items():
            setattr(self.state, k, v)
        self.g.set_state(s["g"])
        self.g_env.set_state(s["g_env"])


@torch.no_grad()
def evaluate_rule(params: dict, lcfg: LPGConfig, levels: Levels, lifetime: int, envs: int,
                  seed: int = 0, eval_steps: int = 50) -> dict:
    """Per held-out level: mean reward of agents trained by the rule, an untrained rule, A2C and
    a random policy; A2C-normalised return ``(rule - random) / (a2c - random)``."""
    B = len(levels)

    def score(train):
        g = seeded("evaluate-rule", seed)
        env = GridWorld(levels, envs, g)
        return mean_reward(env, train(env, g), eval_steps, g)

    life = torch.full((B,), lifetime)
    one = lambda p: {k: v[None].expand(1, *v.shape) for k, v in p.items()}
    untrained = init_params(lcfg, seeded("evaluate-rule", "untrained", seed))
    out = {"rule": score(lambda e, g: train_agents(one(params), e, lcfg, life, g)["pi"]),
           "untrained": score(lambda e, g: train_agents(one(untrained), e, lcfg, life, g)["pi"]),
           "a2c": score(lambda e, g: train_a2c(e, A2CConfig(lifetime=lifetime), g)["pi"]),
           "random": score(lambda e, g: torch.zeros(B, e.n_states, e.n_actions))}
    gap = out["a2c"] - out["random"]
    usable = gap > 0.01  # levels where A2C learns something measurable
    for name in ("rule", "untrained"):
        out[f"{name}_normalised"] = ((out[name] - out["random"]) / gap.clamp(min=1e-8))
    summary = {f"{n}_{stat}": float(fn(out[f"{n}_normalised"][usable])) if usable.any()
               else float("nan")
               for n in ("rule", "untrained")
               for stat, fn in (("median", torch.median),
                                ("share_ge_0.75", lambda x: (x >= 0.75).float().mean()))}
    return {"per_level": {k: v.tolist() for k, v in out.items()}, "usable": usable.tolist(),
            **summary}


def meta_train(kind: str, config: MetaTrainConfig | None = None, run_dir="outputs/meta-train",
               resume: bool = False) -> dict:
    """Meta-train a learned rule; returns the held-out evaluation (also in ``eval.json``)."""
    cfg = config or MetaTrainConfig(kind=kind)
    if cfg.kind != kind:
        cfg = dataclasses.replace(cfg, kind=kind)
    torch.set_num_threads(1)  # 2-core machines are shared; one thread is the faster choice here
    device = resolve_device(cfg.device)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    run = (_ESRun if kind in ES_KINDS else _GradientRun)(cfg, device)
    start, ckpt = 0, run_dir / "checkpoint.pt"
    if resume:
        if not ckpt.exists():
            raise ValueError(f"meta-train: no checkpoint in {run_dir} to resume from")
        saved = torch.load(ckpt, weights_only=False)
        run.load_state_dict(saved["run"])
        start = saved["step"]
        _truncate_log(run_dir, start)
    else:
        (run_dir / "log.jsonl").unlink(missing_ok=True)
        (run_dir / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=1))
    t0 = time.time()
    for step in range(start + 1, cfg.steps + 1):
        stats = run.step()
        if step % cfg.log_every == 0 or step == cfg.steps:
            rate = (step - start) / max(time.time() - t0, 1e-9) * 60
            _log(run_dir, {"step": step, "time": time.time() - t0, **stats})
            print(f"meta-train {kind} step {step}/{cfg.steps} reward {stats['reward']:.4f} "
                  f"({rate:.1f} steps/min)", file=sys.stderr, flush=True)
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            _atomic_save({"step": step, "run": run.state_dict()}, ckpt)
    _atomic_save(run.params(), run_dir / "params.pt")
    levels = sample_levels(CPU_LEVELS, cfg.eval_levels, seeded("held-out", cfg.seed)).to(device)
    result = evaluate_rule({k: v.to(device) for k, v in run.params().items()}, cfg.lpg(), levels,
                           cfg.lifetime, cfg.envs, cfg.seed, cfg.eval_steps)
    (run_dir / "eval.json").write_text(json.dumps(result, indent=1))
    print(f"meta-train {kind}: held-out median A2C-normalised return "
          f"{result['rule_median']:.2f} (untrained {result['untrained_median']:.2f})",
          file=sys.stderr)
    return result


def _truncate_log(run_dir: Path, step: int) -> None:
    log = run_dir / "log.jsonl"
    if log.exists():
        keep = [l for l in log.read_text().splitlines() if l and json.loads(l)["step"] <= step]
        log.write_text("".join(l + "\n" for l in keep))
