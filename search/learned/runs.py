"""Meta-training runs of the learned rules: ``meta_train("lpg" | "ta-lpg" | "groove" | "es-lpg")``.

- ``lpg``: meta-gradients (:mod:`search.learned.lpg`) on random levels (domain randomisation);
- ``groove``: the same, with levels from :class:`search.learned.groove.LevelBuffer` scored by
  algorithmic regret against an A2C antagonist trained in lockstep on each agent's level;
- ``ta-lpg``: temporally-aware LPG by OpenAI-ES (:mod:`search.learned.es`): each antithetic pair
  shares a level and a lifetime drawn log-uniformly from ``ta_lifetimes``; a generation trains every
  candidate's agent for its whole lifetime (forward only, all candidates in one batch);
- ``es-lpg``: the same ES run without the lifetime inputs (plain LPG inputs): the control that
  separates lifetime conditioning from the change of meta-optimiser (ES vs meta-gradients).

CPU scale (the defaults; GROOVE's is 512 lifetimes x 64 envs, GRU-256, lifetimes of 1000 updates):
16 lifetimes x 16 envs, GRU-64, m = 8, 5x5 grids with <= 2 objects, lifetime 250 updates, K = 5,
meta Adam lr 1e-3; ES: 8 pairs, sigma 0.1, lr 0.01, lifetimes 10-250. The first lifetimes of a
run are staggered (uniform in [K, lifetime]) so agents do not all restart at once.

A run writes ``run_dir/``: ``config.json``, ``log.jsonl`` (one line per logged step),
``checkpoint.pt`` (every ``checkpoint_every`` steps and at the end: tensors and plain data,
written to a temporary file, fsynced and renamed, the one before kept as ``checkpoint.prev.pt``;
``resume=True`` continues from it, or from the previous one when it is damaged; both are read
with ``torch.load(weights_only=True)``, so a shared run never runs code), ``params.pt`` (the
meta-parameters) and ``eval.json``: the trained rule and the run's initial (untrained)
meta-network scored by :mod:`tasks.rl.protocol` on ``eval_levels`` held-out levels at the run's
lifetime, per-level returns and A2C-normalised returns, median and share >= 0.75. It is the
figure ``discover eval --suite rl --rules RUN --levels EVAL_LEVELS --lifetime LIFETIME`` reports
for the run (at the defaults, 64 and 250: plain ``discover eval --suite rl --rules RUN``).

The settings are :class:`search.learned.config.MetaTrainConfig`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pickle  # only for its UnpicklingError: files are read with weights_only=True
import sys
import time
from pathlib import Path

import torch

from primitives.errors import InvalidValue
from tasks.base import generator as seeded, resolve_device
from tasks.rl.agents import A2CConfig, a2c_update, init_a2c, mean_reward, rollout
from tasks.rl.gridworld import CPU_LEVELS, GridWorld, Levels, sample_levels
from tasks.rl.protocol import RLSuite, evaluate_learners

from ..checkpoint import CheckpointError, atomic_write
from ..paths import outputs_dir
from .config import ES_KINDS, MetaTrainConfig
from .es import OpenES, flatten, unflatten
from .groove import LevelBuffer, algorithmic_regret
from .lpg import LPGConfig, RuleLearner, init_agent, init_params, meta_loss, train_agents

__all__ = ["meta_train", "initial_params", "held_out_suite", "evaluate_run", "load_rule"]

CHECKPOINT, PREVIOUS = "checkpoint.pt", "checkpoint.prev.pt"

#: what reading a damaged or hostile ``.pt`` file can raise (weights_only refuses any object
#: that is not a tensor, number, string or container of them: pickle.UnpicklingError)
_UNREADABLE = (OSError, EOFError, RuntimeError, ValueError, KeyError, TypeError, IndexError,
               AttributeError, pickle.UnpicklingError)


def _atomic_save(obj, path: Path, previous: Path | None = None) -> None:
    """``torch.save`` of plain tensors and containers, written atomically
    (:func:`search.checkpoint.atomic_write`); the file it replaces becomes ``previous``."""
    atomic_write(path, lambda fh: torch.save(obj, fh), previous)


def _load(path: Path):
    """A ``.pt`` file read with ``weights_only=True``: tensors and plain data, never code."""
    return torch.load(path, map_location="cpu", weights_only=True)


def _restore(make_run, run_dir: Path):
    """``(run, step)`` from ``checkpoint.pt``, else ``checkpoint.prev.pt`` with a one-line
    warning; a one-line error when neither can be used."""
    problems = []
    for name in (CHECKPOINT, PREVIOUS):
        path = run_dir / name
        if not path.exists():
            problems.append(f"{name} is missing")
            continue
        try:
            saved = _load(path)
            run = make_run()
            run.load_state_dict(saved["run"])
            step = int(saved["step"])
        except _UNREADABLE as exc:
            problems.append(f"{name} is unreadable ({str(exc).splitlines()[0][:120]})")
            continue
        if name != CHECKPOINT:
            print(f"discover: warning: {run_dir}: {problems[0]}; resuming from {name}, one "
                  "checkpoint older", file=sys.stderr, flush=True)
        return run, step
    raise CheckpointError(f"meta-train: {run_dir} has no usable checkpoint: "
                          f"{'; '.join(problems)}")


def _log(run_dir: Path, line: dict) -> None:
    with open(run_dir / "log.jsonl", "a") as f:
        f.write(json.dumps(line) + "\n")


def _put(levels: Levels, mask: torch.Tensor, new: Levels) -> Levels:
    return levels.to("cpu").put(mask.cpu(), new).to(levels.start.device)


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
        self.like = initial_params(cfg)
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


def initial_params(cfg: MetaTrainConfig) -> dict:
    """The meta-network a run starts from (its seed's initialisation): the untrained rule."""
    return init_params(cfg.lpg(), seeded("meta-train", cfg.seed, "init"))


def held_out_suite(cfg: MetaTrainConfig) -> RLSuite:
    """The protocol settings that score a run: ``discover eval --suite rl``'s, with
    ``--levels cfg.eval_levels --lifetime cfg.lifetime``."""
    return RLSuite(levels=cfg.eval_levels, lifetime=cfg.lifetime)


def evaluate_run(params: dict, cfg: MetaTrainConfig) -> dict:
    """``eval.json``: the rule ``params`` and the run's initial network by :mod:`tasks.rl.protocol`
    on :func:`held_out_suite`; ``rule_median`` is the headline figure."""
    lcfg = cfg.lpg()
    table = evaluate_learners({"rule": RuleLearner(params, lcfg),
                               "untrained": RuleLearner(initial_params(cfg), lcfg)},
                              held_out_suite(cfg))
    summary = {f"{name}_{stat}": value for name in ("rule", "untrained")
               for stat, value in table.summary(name).items()}
    saved = table.to_dict()
    return {**summary, "per_level": saved.pop("rows"), **saved}


def load_rule(run_dir) -> tuple[dict, LPGConfig]:
    """The meta-parameters and LPG config of a finished ``meta-train`` run directory."""
    run_dir = Path(run_dir)
    params_path, config_path = run_dir / "params.pt", run_dir / "config.json"
    if not params_path.exists() or not config_path.exists():
        raise FileNotFoundError(f"{run_dir}: not a finished meta-train run (needs params.pt and "
                                f"config.json)")
    try:
        params = _load(params_path)
        if not isinstance(params, dict) or not all(isinstance(v, torch.Tensor)
                                                   for v in params.values()):
            raise TypeError("not a dict of tensors")
    except _UNREADABLE as exc:
        raise CheckpointError(f"{params_path} is unreadable: "
                              f"{str(exc).splitlines()[0][:120]}") from None
    return params, MetaTrainConfig.load(config_path).lpg()


def meta_train(kind: str, config: MetaTrainConfig | None = None, run_dir=None,
               resume: bool = False) -> dict:
    """Meta-train a learned rule in ``run_dir`` (default: ``meta-train`` under the outputs
    root); returns the held-out evaluation (also in ``eval.json``)."""
    cfg = config or MetaTrainConfig(kind=kind)
    if cfg.kind != kind:
        cfg = dataclasses.replace(cfg, kind=kind)
    torch.set_num_threads(1)  # 2-core machines are shared; one thread is the faster choice here
    device = resolve_device(cfg.device)
    run_dir = Path(run_dir) if run_dir is not None else outputs_dir() / "meta-train"
    if resume and not (run_dir / CHECKPOINT).exists() and not (run_dir / PREVIOUS).exists():
        raise InvalidValue(f"meta-train: no checkpoint in {run_dir} to resume from")
    run_dir.mkdir(parents=True, exist_ok=True)
    def make_run():
        return (_ESRun if kind in ES_KINDS else _GradientRun)(cfg, device)

    start, ckpt = 0, run_dir / CHECKPOINT
    if resume:
        run, start = _restore(make_run, run_dir)
        _truncate_log(run_dir, start)
    else:
        run = make_run()
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
            _atomic_save({"step": step, "run": run.state_dict()}, ckpt, run_dir / PREVIOUS)
    _atomic_save(run.params(), run_dir / "params.pt")
    result = evaluate_run(run.params(), cfg)  # on the CPU, as `discover eval --suite rl`
    (run_dir / "eval.json").write_text(json.dumps(result, indent=1))
    print(f"meta-train {kind}: held-out median A2C-normalised return "
          f"{result['rule_median']:.2f} (untrained {result['untrained_median']:.2f}) over "
          f"{result['rule_n']} of {cfg.eval_levels} levels", file=sys.stderr)
    return result


def _truncate_log(run_dir: Path, step: int) -> None:
    log = run_dir / "log.jsonl"
    if log.exists():
        keep = [line for line in log.read_text().splitlines()
                if line and json.loads(line)["step"] <= step]
        log.write_text("".join(line + "\n" for line in keep))
