"""``discover eval --suite rl``: learned RL rules beside A2C trained by optimizer programs.

Every row trains one fresh tabular agent per held-out level and scores it on that level:

- a **learned rule** (an LPG-family meta-network from ``meta-train``, or an untrained one): agents
  updated toward the rule's pi_hat / y_hat (:func:`search.lpg.train_agents`);
- **A2C trained by a program** (``adam``, ``sgd``, ``lion``, any program file): GROOVE's tabular
  actor-critic loss (:func:`tasks.agents.a2c_loss`), each agent's gradient clipped to global norm
  0.5 (GROOVE's tabular setting, kept as part of the task), then the program's update through
  :meth:`primitives.Executor.batched_update` with one copy per (learning rate, level). The
  learning rate is the best of a small grid by mean return over the levels, as in the protocol.

Score per level: the mean undiscounted return of one full episode, over ``eval_envs`` freshly
reset environments, sampled actions. The **A2C-normalised return** of a row on a level is
``(row - random) / (a2c - random)``, where ``a2c`` is the reference learner (built-in A2C:
SGD lr 40, clip 0.5; mean over ``a2c_seeds`` agents) and ``random`` the uniform policy. Levels
where A2C does not beat random by ``min_gap`` are reported but left out of the summaries (there
is nothing to normalise by). Held-out levels come from :data:`tasks.gridworld.CPU_LEVELS` with a
generator no meta-training run uses.

Each level also gets its exact optimal return (:func:`tasks.value_iteration.optimal_return`) and
a **hardness** that does not depend on any learned rule: ``1 - (a2c - random) / (optimal -
random)``, the share of the attainable improvement that A2C misses.

Example::

    >>> suite = RLSuite(levels=2, lifetime=3, envs=2, eval_envs=2, a2c_seeds=1, lrs=(0.1,))
    >>> table = run_rl_suite({}, {"sgd": "sgd"}, suite, progress=False)
    >>> sorted(table.rows)
    ['a2c', 'random', 'sgd']
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from primitives import Executor, Program
from search.lpg import LPGConfig, init_params, train_agents
from tasks.agents import A2CConfig, a2c_loss, episode_return, rollout, train_a2c
from tasks.base import generator as seeded
from tasks.gridworld import CPU_LEVELS, GridWorld, Levels, sample_levels, with_lifetime
from tasks.value_iteration import optimal_return

__all__ = ["RLSuite", "RLTable", "held_out_levels", "load_rule", "run_rl_suite",
           "train_a2c_program", "format_rl_table", "write_rl_outputs"]


@dataclass
class RLSuite:
    """Settings of the RL suite (defaults: the CPU scale of ``meta-train``)."""

    levels: int = 64                 # held-out random levels
    level_seed: str = "rl-suite"     # names the held-out generator (no meta-train run uses it)
    lifetime: int = 250              # agent updates per lifetime
    envs: int = 16                   # training environments per level
    eval_envs: int = 64              # evaluation episodes per level (GROOVE: 64 workers)
    a2c_seeds: int = 2               # reference A2C agents per level (their mean normalises)
    rule_seeds: int = 1              # agents per level for every other row (mean)
    lrs: tuple = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)  # grid for A2C trained by a program
    min_gap: float = 0.05            # A2C must beat random by this much for a level to count
    seed: int = 0


@dataclass
class RLTable:
    """Per-level returns of every row (``a2c`` and ``random`` included) on the suite's levels."""

    suite: RLSuite
    rows: dict                        # name -> [levels] mean episode return
    optimal: list                     # [levels] exact optimal return
    best_lr: dict = field(default_factory=dict)  # program row -> chosen learning rate

    def gap(self) -> torch.Tensor:
        return torch.tensor(self.rows["a2c"]) - torch.tensor(self.rows["random"])

    def usable(self) -> torch.Tensor:
        return self.gap() > self.suite.min_gap

    def normalised(self, name: str) -> torch.Tensor:
        """``[levels]`` A2C-normalised return (meaningful where :meth:`usable`)."""
        gap = self.gap()
        return (torch.tensor(self.rows[name]) - torch.tensor(self.rows["random"])) / torch.where(
            gap.abs() > 1e-8, gap, torch.ones_like(gap))

    def hardness(self) -> torch.Tensor:
        """``1 - (a2c - random) / (optimal - random)``: what A2C misses (rule-independent)."""
        room = torch.tensor(self.optimal) - torch.tensor(self.rows["random"])
        return 1 - self.gap() / room.clamp(min=1e-8)

    def summary(self, name: str, mask: torch.Tensor | None = None) -> dict:
        keep = self.usable() if mask is None else self.usable() & mask
        x = self.normalised(name)[keep]
        if x.numel() == 0:
            return {"median": math.nan, "share_ge_0.75": math.nan, "mean": math.nan, "n": 0}
        return {"median": float(x.median()), "share_ge_0.75": float((x >= 0.75).float().mean()),
                "mean": float(x.mean()), "n": int(x.numel())}

    def to_dict(self) -> dict:
        return {"suite": asdict(self.suite), "rows": self.rows, "optimal": self.optimal,
                "best_lr": self.best_lr, "usable": self.usable().tolist(),
                "hardness": self.hardness().tolist(),
                "normalised": {n: self.normalised(n).tolist() for n in self.rows}}


def held_out_levels(suite: RLSuite) -> Levels:
    levels = sample_levels(CPU_LEVELS, suite.levels, seeded("held-out", suite.level_seed))
    return with_lifetime(levels, suite.lifetime)


def load_rule(run_dir) -> tuple[dict, LPGConfig]:
    """The meta-parameters and LPG config of a ``meta-train`` run directory."""
    run_dir = Path(run_dir)
    params_path, config_path = run_dir / "params.pt", run_dir / "config.json"
    if not params_path.exists() or not config_path.exists():
        raise FileNotFoundError(f"{run_dir}: not a finished meta-train run (needs params.pt and "
                                f"config.json)")
    from search.meta_train import MetaTrainConfig  # noqa: PLC0415

    cfg = MetaTrainConfig(**json.loads(config_path.read_text()))
    return torch.load(params_path), cfg.lpg()


def _score(levels: Levels, pi: torch.Tensor, suite: RLSuite, g) -> torch.Tensor:
    return episode_return(GridWorld(levels, suite.eval_envs, g), pi, g)


def _rule_row(params: dict, lcfg: LPGConfig, levels: Levels, suite: RLSuite) -> torch.Tensor:
    out = []
    for s in range(suite.rule_seeds):
        g = seeded("rl-suite", "agents", suite.seed, s)
        env = GridWorld(levels, suite.envs, g)
        one = {k: v[None] for k, v in params.items()}
        pi = train_agents(one, env, lcfg, levels.lifetime, g)["pi"]
        out.append(_score(levels, pi, suite, g))
    return torch.stack(out).mean(0)


@torch.no_grad()
def train_a2c_program(program: Program, levels: Levels, suite: RLSuite, lrs, g,
                      cfg: A2CConfig | None = None) -> torch.Tensor:
    """``[len(lrs), levels, S, A]``: A2C policies trained by ``program`` at each learning rate
    (``lrs = [None]``: the program's own hyperparameters).

    Copy ``i * B + b`` is (learning rate i, level b); all copies step together.
    """
    cfg = cfg or A2CConfig(lifetime=suite.lifetime)
    B, L = len(levels), len(lrs)
    index = torch.arange(L * B) % B
    env = GridWorld(levels.select(index), suite.envs, g)
    S, A = env.n_states, env.n_actions
    params = [torch.zeros(L * B, S, A), torch.zeros(L * B, S)]
    ex = Executor(program)
    hyper = {} if lrs[0] is None else {
        "lr": torch.tensor(lrs, dtype=torch.float32).repeat_interleave(B)}
    one = ex.init_state([p[0] for p in params], {k: float(v[0]) for k, v in hyper.items()})
    state = {k: [s.expand(L * B, *s.shape).clone() for s in v] for k, v in one.items()}
    for step in range(1, suite.lifetime + 1):
        ro = rollout(env, params[0], cfg.rollout_len, g)
        with torch.enable_grad():
            leaves = [p.detach().requires_grad_() for p in params]
            grads = torch.autograd.grad(a2c_loss({"pi": leaves[0], "v": leaves[1]}, ro, cfg),
                                        leaves)
        norm = sum(x.pow(2).flatten(1).sum(1) for x in grads).sqrt()       # per copy
        scale = torch.clamp(cfg.max_norm / (norm + 1e-12), max=1.0)
        grads = [x * scale.view(-1, *([1] * (x.dim() - 1))) for x in grads]
        upd, state = ex.batched_update(params, grads, state, hyper, t=float(step))
        new = [p - u for p, u in zip(params, upd)]
        finite = torch.stack([torch.isfinite(x).flatten(1).all(1) for x in new]).all(0)
        params = [torch.where(finite.view(-1, *([1] * (p.dim() - 1))), n, p)
                  for n, p in zip(new, params)]
        state = {k: [torch.where(torch.isfinite(n), n, o) for n, o in zip(v, state[k])]
                 for k, v in state.items()}
    return params[0].view(L, B, S, A)


def _program_row(program: Program, levels: Levels, suite: RLSuite):
    ex = Executor(program)
    lrs = tuple(suite.lrs) if "lr" in ex.hyperparameters() else (None,)
    runs = []
    for s in range(suite.rule_seeds):
        g = seeded("rl-suite", "agents", suite.seed, s)
        pis = train_a2c_program(program, levels, suite, list(lrs), g)
        runs.append(torch.stack([_score(levels, pi, suite, g) for pi in pis]))
    per_lr = torch.stack(runs).mean(0)                                   # [L, B]
    best = int(per_lr.mean(1).argmax())
    return per_lr[best], lrs[best]


def run_rl_suite(rules: dict, programs: dict, suite: RLSuite | None = None,
                 progress: bool = True) -> RLTable:
    """Score ``rules`` (name -> run dir or ``(params, LPGConfig)``; ``None`` as the value of a
    name gives an untrained meta-network) and ``programs`` (name -> Program, library name or
    file) on the held-out levels; ``a2c`` and ``random`` rows are always added."""
    from .export import load_program  # noqa: PLC0415

    suite = suite or RLSuite()
    levels = held_out_levels(suite)
    start = time.perf_counter()

    def say(msg):
        if progress:
            print(f"[rl {time.perf_counter() - start:5.0f}s] {msg}", file=sys.stderr, flush=True)

    rows, best_lr = {}, {}
    say(f"A2C reference on {suite.levels} levels")
    a2c = []
    for s in range(suite.a2c_seeds):
        g = seeded("rl-suite", "a2c", suite.seed, s)
        pi = train_a2c(GridWorld(levels, suite.envs, g), A2CConfig(lifetime=suite.lifetime), g)
        a2c.append(_score(levels, pi["pi"], suite, g))
    rows["a2c"] = torch.stack(a2c).mean(0).tolist()
    g = seeded("rl-suite", "random", suite.seed)
    zeros = torch.zeros(suite.levels, GridWorld(levels, 1, g).n_states, GridWorld.n_actions)
    rows["random"] = _score(levels, zeros, suite, g).tolist()
    for name, rule in rules.items():
        say(f"learned rule {name}")
        if rule is None:
            lcfg = LPGConfig()
            params = init_params(lcfg, seeded("rl-suite", "untrained", suite.seed))
        elif isinstance(rule, tuple):
            params, lcfg = rule
        else:
            params, lcfg = load_rule(rule)
        rows[name] = _rule_row(params, lcfg, levels, suite).tolist()
    for name, program in programs.items():
        say(f"A2C trained by {name}")
        row, best_lr[name] = _program_row(load_program(program), levels, suite)
        rows[name] = row.tolist()
    say("done")
    return RLTable(suite, rows, optimal_return(levels).tolist(), best_lr)


def format_rl_table(table: RLTable, mask: torch.Tensor | None = None) -> str:
    """One line per row: median and share >= 0.75 of the A2C-normalised return, mean, levels."""
    names = sorted((n for n in table.rows if n != "random"),
                   key=lambda n: -table.summary(n, mask)["median"]
                   if not math.isnan(table.summary(n, mask)["median"]) else math.inf)
    w = max(8, *(len(n) for n in names))
    lines = [f"{'row':<{w}}  {'median':>7}  {'>=0.75':>7}  {'mean':>7}  {'levels':>6}  best lr",
             "-" * (w + 46)]
    for n in names:
        s = table.summary(n, mask)
        lr = table.best_lr.get(n)
        lines.append(f"{n:<{w}}  {s['median']:>7.3f}  {s['share_ge_0.75']:>7.2f}  "
                     f"{s['mean']:>7.3f}  {s['n']:>6d}  {'' if lr is None else f'{lr:g}'}")
    lines += ["", "A2C-normalised return per held-out level: (row - random) / (A2C - random); "
              f"levels where A2C beats random by more than {table.suite.min_gap} "
              f"({int(table.usable().sum())} of {len(table.optimal)})"]
    return "\n".join(lines)


def plot_distribution(table: RLTable, path: Path, names=None, mask=None) -> Path | None:
    """A box and the points per row: the per-level A2C-normalised return (PNG)."""
    from .plots import _pyplot  # noqa: PLC0415

    plt = _pyplot()
    if plt is None:
        return None
    names = names or [n for n in table.rows if n != "random"]
    keep = table.usable() if mask is None else table.usable() & mask
    data = [table.normalised(n)[keep].clamp(-1.5, 2.0).tolist() for n in names]
    fig, ax = plt.subplots(figsize=(1.2 * len(names) + 2, 4))
    ax.boxplot(data, showfliers=False)
    for i, ys in enumerate(data, 1):
        xs = (torch.rand(len(ys), generator=torch.Generator().manual_seed(i)) - 0.5) * 0.3 + i
        ax.scatter(xs.tolist(), ys, s=8, alpha=0.6)
    ax.set_xticks(range(1, len(names) + 1), names, rotation=30, ha="right")
    ax.axhline(0.75, ls="--", lw=0.8, color="grey")
    ax.set_ylabel("A2C-normalised return (clipped to [-1.5, 2])")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_rl_outputs(table: RLTable, out_dir: Path) -> list[Path]:
    """``rl_table.md``, ``rl_results.json`` and ``rl_distribution.png`` in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "rl_table.md"
    md.write_text("```\n" + format_rl_table(table) + "\n```\n")
    js = out_dir / "rl_results.json"
    js.write_text(json.dumps(table.to_dict(), indent=1))
    png = plot_distribution(table, out_dir / "rl_distribution.png")
    return [p for p in (md, js, png) if p is not None]
