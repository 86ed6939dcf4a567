"""Batched tabular grid-worlds and delayed-chain MDPs for learned RL objectives (LPG, GROOVE).

One :class:`GridWorld` holds B levels (one per agent) x E environments per level, all stepped in
one tensor computation. A level is a padded grid (cells outside the level's own size are walls),
a start cell and up to O objects, each ``[reward, p_term, p_respawn]`` as in LPG (Oh et al., 2020)
and GROOVE (Jackson et al., 2023):

- walking onto a present object collects it: its reward is paid, the object disappears and the
  episode ends with probability ``p_term``;
- every absent object (including one collected this step) reappears with probability
  ``p_respawn`` per step, at its fixed position;
- an episode also ends after ``max_steps`` steps; a finished environment resets at once (start
  cell, every object present), so rollouts never stop.

Actions: up, down, left, right, stay (GROOVE's five; moves into walls stay). The observation is
tabular: ``cell * 2**O + bitmask of present objects``, so ``n_states = H * W * 2**O``.

Levels come from :func:`lpg_levels` (the five tabular LPG levels; the wall layout of Long Dense
and all object positions are this project's own, drawn once from a fixed seed, since the
reference gives only sizes and objects) or :func:`sample_levels` (GROOVE's "all" distribution,
:data:`GROOVE_LEVELS`, or its CPU-sized version :data:`CPU_LEVELS`). :class:`DelayedChain` is the
delayed-chain MDP. :func:`tasks.rl.value_iteration.optimal_return` gives a level's exact optimum.

Example::

    >>> g = torch.Generator().manual_seed(0)
    >>> levels = sample_levels(CPU_LEVELS, 4, g)
    >>> env = GridWorld(levels, n_envs=8, generator=g)
    >>> obs, reward, done = env.step(torch.zeros(4, 8, dtype=torch.long))
    >>> tuple(obs.shape)
    (4, 8)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import torch

__all__ = ["Levels", "LevelDistribution", "GROOVE_LEVELS", "CPU_LEVELS", "sample_levels",
           "lpg_levels", "LPG_LEVEL_NAMES", "GridWorld", "DelayedChain", "MOVES", "next_cells",
           "with_lifetime"]

#: (row, column) offsets of the five actions: up, down, left, right, stay
MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1), (0, 0))


@dataclass
class Levels:
    """B grid levels padded to one shape. Every field has a leading level dimension."""

    walls: torch.Tensor        # [B, H, W] bool, True = blocked (also outside the level's size)
    start: torch.Tensor        # [B] long, flat cell index
    obj_pos: torch.Tensor      # [B, O] long, flat cell index
    obj_reward: torch.Tensor   # [B, O] float
    obj_term: torch.Tensor     # [B, O] float, P(episode ends | collected)
    obj_respawn: torch.Tensor  # [B, O] float, P(reappears) per step while absent
    obj_valid: torch.Tensor    # [B, O] bool, False for padding objects
    max_steps: torch.Tensor    # [B] long, episode length
    lifetime: torch.Tensor     # [B] long, agent updates in a lifetime on this level

    def __len__(self) -> int:
        return self.start.shape[0]

    @property
    def n_objects(self) -> int:
        return self.obj_pos.shape[1]

    def map(self, fn) -> "Levels":
        return Levels(**{f.name: fn(getattr(self, f.name)) for f in fields(self)})

    def select(self, index) -> "Levels":
        return self.map(lambda x: x[index])

    def to(self, device) -> "Levels":
        return self.map(lambda x: x.to(device))

    def where(self, mask: torch.Tensor, other: "Levels") -> "Levels":
        """Level b from ``other`` where ``mask[b]``, else from ``self`` (same padding)."""
        def pick(a, b):
            m = mask.view(-1, *([1] * (a.dim() - 1)))
            return torch.where(m, b, a)
        return Levels(**{f.name: pick(getattr(self, f.name), getattr(other, f.name))
                         for f in fields(self)})

    def put(self, mask: torch.Tensor, new: "Levels") -> "Levels":
        """A copy with the levels where ``mask`` holds replaced, in order, by those of ``new``."""
        def put(a, b):
            a = a.clone()
            a[mask] = b
            return a
        return Levels(**{f.name: put(getattr(self, f.name), getattr(new, f.name))
                         for f in fields(self)})

    @staticmethod
    def cat(items: list["Levels"]) -> "Levels":
        return Levels(**{f.name: torch.cat([getattr(x, f.name) for x in items])
                         for f in fields(Levels)})

    def state_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class LevelDistribution:
    """GROOVE's random-level distribution ("all" mode), with its sizes as fields."""

    size: tuple[int, int] = (4, 10)              # grid side, uniform over the closed range
    max_size: int = 10                           # padding side (walls index set is max_size^2)
    n_walls: int = 15                            # wall cells drawn from the max_size^2 index set
    objects: tuple[int, int] = (1, 5)            # number of objects, uniform over the range
    term: tuple[float, float] = (1e-2, 1.0)      # log-uniform P(terminate | collected)
    respawn: tuple[float, float] = (1e-3, 1e-1)  # log-uniform P(respawn) per step
    episode: tuple[int, int] = (20, 750)         # log-uniform integer episode length
    lifetime: tuple[int, int] = (1000, 1000)     # log-uniform integer lifetime (agent updates)


#: GROOVE's "all" distribution: 100 * 2**5 = 3200 tabular states
GROOVE_LEVELS = LevelDistribution()
#: the CPU-sized version (learned_objectives.md 5.4): <= 5x5, <= 2 objects, 25 * 4 = 100 states
CPU_LEVELS = LevelDistribution(size=(3, 5), max_size=5, n_walls=4, objects=(1, 2),
                               episode=(20, 100), lifetime=(250, 250))


def _log_uniform(lo, hi, n, g):
    u = torch.rand(n, generator=g)
    return torch.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))


def sample_levels(dist: LevelDistribution, n: int, generator: torch.Generator) -> Levels:
    """``n`` random levels from ``dist`` (drawn on the CPU, so every device sees the same)."""
    g, side, n_obj = generator, dist.max_size, dist.objects[1]
    cells = side * side
    sizes = torch.randint(dist.size[0], dist.size[1] + 1, (n,), generator=g)
    rows = torch.arange(cells) // side
    cols = torch.arange(cells) % side
    outside = (rows[None] >= sizes[:, None]) | (cols[None] >= sizes[:, None])  # [n, cells]
    walls = outside.clone()
    wall_idx = torch.rand(n, cells, generator=g).argsort(dim=1)[:, :dist.n_walls]
    walls.scatter_(1, wall_idx, True)
    # start and objects: distinct random free cells (random keys, blocked cells sorted last)
    keys = torch.rand(n, cells, generator=g) + walls.float() * 2
    order = keys.argsort(dim=1)
    start, obj_pos = order[:, 0], order[:, 1:1 + n_obj]
    n_present = torch.randint(dist.objects[0], n_obj + 1, (n,), generator=g)
    free = (~walls).sum(1)
    valid = torch.arange(n_obj)[None] < torch.minimum(n_present, free - 1)[:, None]
    reward = torch.rand(n, n_obj, generator=g) * 2 - 1
    reward[:, 0] = reward[:, 0].abs()  # type 0 is positive, so every level has some reward
    term = _log_uniform(*dist.term, n * n_obj, g).view(n, n_obj)
    respawn = _log_uniform(*dist.respawn, n * n_obj, g).view(n, n_obj)
    episode = _log_uniform(*dist.episode, n, g).round().long()
    lifetime = _log_uniform(*dist.lifetime, n, g).round().long()
    return Levels(walls.view(n, side, side), start, obj_pos, reward * valid, term, respawn,
                  valid, episode, lifetime)


LPG_LEVEL_NAMES = ("dense", "sparse", "long_horizon", "longer_horizon", "long_dense")

# name -> (rows, cols, objects [reward, p_term, p_respawn], episode length); learned_objectives 1.7a
_LPG_SPECS = {
    "dense": (11, 11, [[1, 0, .05]] * 2 + [[-1, .5, .1], [-1, 0, .5]], 500),
    "sparse": (13, 13, [[1, 1, 0], [-1, 1, 0]], 50),
    "long_horizon": (11, 11, [[1, 0, .01]] * 2 + [[-1, .5, 1]] * 2, 1000),
    "longer_horizon": (9, 9, [[1, .1, .01]] * 2 + [[-1, .8, 1]] * 5, 2000),
    "long_dense": (11, 11, [[1, 0, .005]] * 4, 2000),
}


def lpg_levels(names=LPG_LEVEL_NAMES, lifetime: int = 2500) -> Levels:
    """The five tabular LPG levels, padded to one shape (13x13, 7 objects)."""
    side = max(max(_LPG_SPECS[n][:2]) for n in names)
    n_obj = max(len(_LPG_SPECS[n][2]) for n in names)
    out = []
    for name in names:
        rows, cols, objs, episode = _LPG_SPECS[name]
        g = torch.Generator().manual_seed(LPG_LEVEL_NAMES.index(name))
        walls = torch.ones(side, side, dtype=torch.bool)
        walls[:rows, :cols] = False
        if name == "long_dense":  # two interior walls with a gap each, splitting three rooms
            walls[1:rows - 1, cols // 3] = True
            walls[1:rows - 1, 2 * cols // 3] = True
            walls[rows // 2, cols // 3] = walls[rows // 4, 2 * cols // 3] = False
        keys = torch.rand(side * side, generator=g) + walls.flatten().float() * 2
        order = keys.argsort()
        spec = torch.zeros(n_obj, 3)
        spec[:len(objs)] = torch.tensor(objs, dtype=torch.float)
        valid = torch.arange(n_obj) < len(objs)
        out.append(Levels(walls[None], order[:1], order[None, 1:1 + n_obj], spec[None, :, 0],
                          spec[None, :, 1], spec[None, :, 2], valid[None],
                          torch.tensor([episode]), torch.tensor([lifetime])))
    return Levels.cat(out)


def next_cells(walls: torch.Tensor) -> torch.Tensor:
    """``[B, H*W, 5]`` long: the cell each action leads to (staying put when blocked)."""
    B, H, W = walls.shape
    cell = torch.arange(H * W, device=walls.device)
    r, c = cell // W, cell % W
    out = []
    for dr, dc in MOVES:
        nr, nc = r + dr, c + dc
        inside = (nr >= 0) & (nr < H) & (nc >= 0) & (nc < W)
        target = nr.clamp(0, H - 1) * W + nc.clamp(0, W - 1)  # [C]
        blocked = ~inside[None] | walls.view(B, -1)[:, target]  # [B, C]
        out.append(torch.where(blocked, cell[None], target[None]))
    return torch.stack(out, dim=-1)


class GridWorld:
    """B levels x E environments, stepped together; see the module docstring for the rules."""

    n_actions = len(MOVES)

    def __init__(self, levels: Levels, n_envs: int, generator: torch.Generator):
        self.n_envs, self.generator = n_envs, generator
        self.device = levels.start.device
        self.set_levels(levels)
        self.reset(torch.ones(len(levels), dtype=torch.bool, device=self.device))

    @property
    def n_states(self) -> int:
        H, W = self.levels.walls.shape[1:]
        return H * W * 2 ** self.levels.n_objects

    def set_levels(self, levels: Levels) -> None:
        self.levels = levels
        self.next = next_cells(levels.walls)                                   # [B, C, A]
        self.bits = 2 ** torch.arange(levels.n_objects, device=self.device)    # [O]
        self.full = (levels.obj_valid.long() * self.bits).sum(-1)              # [B]

    def reset(self, mask: torch.Tensor) -> None:
        """Restart every environment of the levels where ``mask`` ([B] bool) is set."""
        B, E = len(self.levels), self.n_envs
        fresh_pos = self.levels.start[:, None].expand(B, E)
        fresh_mask = self.full[:, None].expand(B, E)
        if not hasattr(self, "pos"):
            self.pos, self.present = fresh_pos.clone(), fresh_mask.clone()
            self.t = torch.zeros(B, E, dtype=torch.long, device=self.device)
            return
        m = mask[:, None]
        self.pos = torch.where(m, fresh_pos, self.pos)
        self.present = torch.where(m, fresh_mask, self.present)
        self.t = torch.where(m, torch.zeros_like(self.t), self.t)

    def obs(self) -> torch.Tensor:
        return self.pos * 2 ** self.levels.n_objects + self.present

    def _rand(self, *shape):
        return torch.rand(*shape, generator=self.generator, device=self.device)

    def step(self, actions: torch.Tensor):
        """``actions`` [B, E] -> (next observation [B, E], reward [B, E], done [B, E] bool)."""
        lv, (B, E), O = self.levels, actions.shape, self.levels.n_objects
        rows = torch.arange(B, device=self.device)[:, None]
        self.pos = self.next[rows, self.pos, actions]
        present = (self.present[..., None] & self.bits) > 0                   # [B, E, O]
        hit = present & (lv.obj_pos[:, None] == self.pos[..., None]) & lv.obj_valid[:, None]
        reward = (hit * lv.obj_reward[:, None]).sum(-1)
        terminal = (hit & (self._rand(B, E, O) < lv.obj_term[:, None])).any(-1)
        present = present & ~hit
        present |= ~present & (self._rand(B, E, O) < lv.obj_respawn[:, None]) & lv.obj_valid[:, None]
        self.present = (present.long() * self.bits).sum(-1)
        self.t = self.t + 1
        done = terminal | (self.t >= lv.max_steps[:, None])
        self.pos = torch.where(done, lv.start[:, None].expand(B, E), self.pos)
        self.present = torch.where(done, self.full[:, None].expand(B, E), self.present)
        self.t = torch.where(done, torch.zeros_like(self.t), self.t)
        return self.obs(), reward, done

    def state_dict(self) -> dict:
        return {"pos": self.pos, "present": self.present, "t": self.t,
                "levels": self.levels.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.set_levels(Levels(**state["levels"]))
        self.pos, self.present, self.t = state["pos"], state["present"], state["t"]


class DelayedChain:
    """Delayed-chain MDPs (LPG's third family): two actions; the first decides the final reward.

    From the start state the agent picks branch 0 or 1, then walks ``length`` more steps along it
    (either action moves on); the last step pays +1 on the level's rewarding branch and -1 on the
    other, then the episode ends. ``noisy`` levels also pay a random +-1 (mean 0) at intermediate
    steps. The observation is ``0`` at the start, else ``1 + branch * max_length + position``.
    The chain length is drawn once per level (the reference's "once per lifetime").
    """

    n_actions = 2

    def __init__(self, n_levels: int, n_envs: int, generator: torch.Generator,
                 length: tuple[int, int] = (5, 30), noisy: bool = False, device="cpu"):
        g = generator
        self.generator, self.n_envs, self.noisy, self.device = g, n_envs, noisy, device
        self.max_length = length[1]
        self.length = torch.randint(length[0], length[1] + 1, (n_levels,), generator=g).to(device)
        self.good = torch.randint(0, 2, (n_levels,), generator=g).to(device)
        self.branch = torch.zeros(n_levels, n_envs, dtype=torch.long, device=device)
        self.pos = torch.zeros_like(self.branch)

    @property
    def n_states(self) -> int:
        return 1 + 2 * self.max_length

    def obs(self) -> torch.Tensor:
        return torch.where(self.pos == 0, 0, 1 + self.branch * self.max_length + self.pos - 1)

    def step(self, actions: torch.Tensor):
        at_start = self.pos == 0
        self.branch = torch.where(at_start, actions, self.branch)
        self.pos = self.pos + 1
        done = self.pos > self.length[:, None]
        sign = (self.branch == self.good[:, None]).float() * 2 - 1
        reward = torch.where(done, sign, torch.zeros_like(sign))
        if self.noisy:
            coin = torch.randint(0, 2, actions.shape, generator=self.generator).to(self.device)
            reward = torch.where(done | at_start, reward, coin.float() * 2 - 1)
        self.pos = torch.where(done, torch.zeros_like(self.pos), self.pos)
        return self.obs(), reward, done


def with_lifetime(levels: Levels, lifetime: int) -> Levels:
    """The same levels with every lifetime set to ``lifetime``."""
    return replace(levels, lifetime=torch.full_like(levels.lifetime, lifetime))
