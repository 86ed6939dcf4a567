"""Novelty: is a program a library rule, a library rule with other constants, or new?

A search winner that is AdamW with ``beta1 = 0.52``, or Adam with its update doubled, is not a
discovery (issue 13). Two programs are compared by what they do, not by their text: both run on
the same inputs (:func:`probe_inputs`: a parameter group of three matrices and a vector, with
Gaussian, per-entry rescaled, sparse and drifting gradients, :data:`PROBE_STEPS` steps, weights
on a path shared by all programs) and their updates are compared step by step, tensor by tensor, after the best rescaling
of the library rule's updates (a learning rate is not a difference):

    distance(a, b) = sqrt(mean_k ||a_k - c b_k||^2 / ||a_k||^2),  c >= 0 minimising it,

over the blocks ``k`` (one per step and tensor), so each block counts alike whatever its scale.
0 is the same rule; 1 is no better than a zero update. Then the library rules closest at their
default constants are retuned: a coordinate search over each numeric constant (on the logit
scale for constants in (0, 1), on the log scale otherwise; zeros and 0/1 flags are tried too)
minimises the distance. The verdict (:class:`Novelty`):

- ``same``: a rule within :data:`SAME` at its default constants ("same as adam");
- ``constants``: a rule within :data:`NEAR` only after retuning ("adamw with other constants
  (beta1=0.5)");
- ``novel``: no library rule within :data:`NEAR`, even retuned.

Programs run in float64 with :func:`primitives.analysis.updates_on`; the retuning runs many
settings at once with :meth:`Executor.batched_update`. The library's behaviour at its defaults
is computed once per process (about 2 s on one core); one comparison with the whole library then
takes a few seconds more, mostly the retuning (``discover analyse novelty`` prints the time).

>>> from discover.library import get
>>> a = behaviour(get("adam").program)
>>> distance(a, [2 * x for x in a])  # the same rule, up to a factor 2 in the learning rate
(0.0, 0.5)
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from dataclasses import dataclass, field

import torch

from primitives import Executor, Program, eliminate_dead_code
from primitives.analysis import ADAPTIVITY_RANGE, updates_on
from primitives.errors import InvalidValue

from .library import REGISTRY

__all__ = ["SAME", "NEAR", "PROBE_STEPS", "Match", "Novelty", "novelty", "distance",
           "behaviour", "behaviours", "library_behaviour", "probe_inputs"]

#: at most this distance at a library rule's default constants: the same rule
SAME = 1e-6
#: at most this distance after retuning: that rule with other constants; above it: novel
NEAR = 0.02
#: steps of every probe run
PROBE_STEPS = 12
#: the probe group: three matrices (Gaussian, rescaled per entry, sparse gradients) and a vector
#: (gradients drifting around a fixed direction, where momentum matters)
_SHAPES = ((8, 12), (8, 12), (8, 12), (32,))
#: the share of a sparse gradient's entries that are non-zero
_DENSITY = 0.25
#: how far the probe's weights move per step, relative to their RMS of 1
_STRIDE = 0.05
#: rounds of the coordinate search one library rule's retuning may spend
_BUDGET = 24
#: settings per batched run
_CHUNK = 64
#: a round that shrinks the distance by less than this share makes the grids finer
_PROGRESS = 0.01
#: a rule further than this after the coarse rounds is not refined: finer grids move a distance
#: by per cents, not from here to :data:`NEAR` (Lion's sign makes the largest jumps seen: 0.12
#: to 0.03 to 0)
_HOPELESS = 0.25

Behaviour = list  # one [steps, numel] float64 tensor per probe tensor


@dataclass(frozen=True)
class Probe:
    """The inputs every program runs on: fixed weights and a gradient sequence."""

    params: list
    grads: list  # per step, one tensor per parameter
    h: list
    losses: list
    path: list  # the weights at each step, the first ``params``


@functools.lru_cache(maxsize=8)
def probe_inputs(seed: int = 0) -> Probe:
    """The probe group of ``seed``: weights ~ N(0, 1); per step, gradients that are Gaussian, a
    Gaussian times a fixed per-entry scale (log-uniform in 1e-2..1e2), sparse (a quarter of the
    entries non-zero, redrawn each step) and a fixed direction plus noise; ``h`` positive (scaled
    with the rescaled gradient); ``loss_t = 1 / (1 + 0.1 t)``. The weights follow one path for
    every program, a normalised gradient step of :data:`_STRIDE` per step, not the program's own
    updates: programs compared see the same weights, and a rule that reads how far the weights
    have moved (D-Adaptation, Prodigy, Lookahead) sees them move."""
    gen = torch.Generator().manual_seed(seed)
    f64 = dict(dtype=torch.float64, generator=gen)
    lo, hi = (math.log(b) for b in ADAPTIVITY_RANGE)
    scale = (lo + (hi - lo) * torch.rand(_SHAPES[1], **f64)).exp()
    drift = torch.randn(_SHAPES[3], **f64)
    params = [torch.randn(s, **f64) for s in _SHAPES]
    grads, hs = [], []
    for _ in range(PROBE_STEPS):
        noise = [torch.randn(s, **f64) for s in _SHAPES]
        mask = (torch.rand(_SHAPES[2], **f64) < _DENSITY).double()
        grads.append([noise[0], scale * noise[1], mask * noise[2], drift + noise[3]])
        h = [0.5 + torch.rand(s, **f64) for s in _SHAPES]
        hs.append([h[0], scale * h[1], h[2], h[3]])
    losses = [1.0 / (1.0 + 0.1 * t) for t in range(1, PROBE_STEPS + 1)]
    path = [params]
    for g in grads[:-1]:
        path.append([w - _STRIDE * x / x.square().mean().sqrt() for w, x in zip(path[-1], g)])
    return Probe(params, grads, hs, losses, path)


def behaviour(program: Program, hyper: dict | None = None, seed: int = 0) -> Behaviour:
    """The updates of ``program`` on :func:`probe_inputs`: one ``[steps, numel]`` tensor per
    probe tensor."""
    probe = probe_inputs(seed)
    steps = updates_on(program, probe.params, probe.grads, hyper=hyper, h=probe.h,
                       losses=probe.losses, path=probe.path)
    return [torch.stack([s[i].flatten() for s in steps]) for i in range(len(_SHAPES))]


def _agree_off(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``x`` and ``y`` with 0 where both are the same NaN or infinity (a 0/0 on a zero
    gradient, say), so that those entries compare equal and the rest is compared."""
    both = ~torch.isfinite(x) & ~torch.isfinite(y) & ((x == y) | (x.isnan() & y.isnan()))
    return x.masked_fill(both, 0.0), y.masked_fill(both, 0.0)


def distance(a: Behaviour, b: Behaviour) -> tuple[float, float]:
    """``(distance, c)``: the relative error of ``c * b`` as ``a``, block by block (see the
    module docstring), at the best ``c >= 0``. Entries where both are the same NaN or infinity
    agree; a block with any other non-finite entry counts 1; a block where ``a`` is zero counts
    0 if ``b`` is zero there too, else 1."""
    a, b = zip(*(_agree_off(x, y) for x, y in zip(a, b)))
    aa = torch.cat([(x * x).sum(-1) for x in a])
    ab = torch.cat([(x * y).sum(-1) for x, y in zip(a, b)])
    bb = torch.cat([(y * y).sum(-1) for y in b])
    finite = torch.isfinite(aa) & torch.isfinite(bb) & torch.isfinite(ab)
    live = finite & (aa > 0)
    den = float((bb[live] / aa[live]).sum())
    c = max(0.0, float((ab[live] / aa[live]).sum()) / den) if den > 0 else 0.0
    err = torch.cat([((x - c * y) ** 2).sum(-1) for x, y in zip(a, b)])
    blocks = torch.where(live, err / aa.where(live, 1.0), 1.0)
    blocks = torch.where(finite & (aa == 0) & (bb == 0), 0.0, blocks)
    return math.sqrt(float(blocks.clamp(max=1.0).mean())), c


# ---- the library ---------------------------------------------------------------------------


_LIBRARY: dict[int, dict[str, Behaviour | None]] = {}


def library_behaviour(seed: int = 0) -> dict[str, Behaviour | None]:
    """Every library rule's :func:`behaviour` at its defaults (None if it fails), per process."""
    if seed not in _LIBRARY:
        _LIBRARY[seed] = {name: _try_behaviour(entry.program, None, seed)
                          for name, entry in REGISTRY.items()}
    return _LIBRARY[seed]


def _try_behaviour(program: Program, hyper: dict | None, seed: int) -> Behaviour | None:
    try:
        return behaviour(program, hyper, seed)
    except (RuntimeError, ValueError, ArithmeticError):  # e.g. a retuned count out of range
        return None


# ---- retuning ------------------------------------------------------------------------------


def behaviours(program: Program, settings: list[dict], seed: int = 0) -> list[Behaviour | None]:
    """:func:`behaviour` for several settings of the constants at once: one run of
    :meth:`Executor.batched_update` over K copies (a setting each), or one run per setting when
    the batched run fails; None for a setting that cannot run."""
    probe, k = probe_inputs(seed), len(settings)
    ex = Executor(program)
    try:
        names = sorted({n for s in settings for n in s})
        defaults = program.hyperparameters
        hyper = {n: torch.tensor([float(s.get(n, defaults[n])) for s in settings],
                                 dtype=torch.float64) for n in names}
        starts = [ex.init_state(probe.params, s) for s in settings]
        state = {n: [torch.stack([st[n][i] for st in starts]) for i in range(len(_SHAPES))]
                 for n in program.state_names}
        steps = []
        with torch.no_grad():
            for t, g in enumerate(probe.grads):
                params = [p.expand(k, *p.shape) for p in probe.path[t]]
                upd, state = ex.batched_update(
                    params, [x.expand(k, *x.shape) for x in g], state, hyper, t=float(t + 1),
                    loss=torch.full((k,), probe.losses[t], dtype=torch.float64),
                    h=[x.expand(k, *x.shape) for x in probe.h[t]])
                steps.append([u.reshape(k, -1) for u in upd])
    except (RuntimeError, ValueError, ArithmeticError):  # not vmappable here: one at a time
        return [_try_behaviour(program, s, seed) for s in settings]
    return [[torch.stack([s[i][j] for s in steps]) for i in range(len(_SHAPES))]
            for j in range(k)]


def _scale(value: float) -> tuple:
    """``value`` on its search scale: ``(logit, z)`` in (0, 1), else ``(log, z)`` (sign kept)."""
    if 0.0 < value < 1.0:
        return "logit", math.log(value / (1 - value))
    return "log", math.log(abs(value))


def _unscale(kind: str, z: float, like: float) -> float:
    return 1 / (1 + math.exp(-z)) if kind == "logit" else math.copysign(math.exp(z), like)


#: the first round's grid around each constant (on its scale), then the half-widths of the
#: finer rounds, each a quarter of the last
_COARSE = (-6.0, -4.0, -3.0, -2.0, -1.0, -0.5, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0)
_SPANS = (1.0, 0.25, 0.0625, 0.015625, 0.004, 0.001)
#: values that constants in (0, 1) often take, tried in the first round (0: the term is off)
_COMMON = (0.0, 0.5, 0.9, 0.95, 0.99, 0.999)
#: where a zero constant (a weight decay, an off flag) is tried in the first round
_FROM_ZERO = (1e-8, 1e-6, 1e-4, 1e-3, 1e-2, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0, 2.0)


def _grid(value: float, span: float | None) -> list[float]:
    """Candidates for a constant: the coarse grid (``span`` None; with common values, and 0 for
    a flag or a term to turn off) or 8 points within ``span`` of it on its scale."""
    if value == 0.0:
        return list(_FROM_ZERO) if span is None else []
    kind, z = _scale(value)
    offsets = _COARSE if span is None else [span * f for f in
                                             (-1, -0.75, -0.5, -0.25, 0.25, 0.5, 0.75, 1)]
    out = [_unscale(kind, z + o, value) for o in offsets]
    if span is None:
        out += [c for c in _COMMON if c != value] if kind == "logit" else [0.0]
    return out


def _distances(program: Program, target: Behaviour, settings: list[dict], seed: int):
    """The distance of each setting's behaviour to ``target`` (1 where it cannot run), in
    batched runs of at most :data:`_CHUNK` settings."""
    out = []
    for i in range(0, len(settings), _CHUNK):
        got = behaviours(program, settings[i:i + _CHUNK], seed)
        out += [1.0 if b is None else distance(target, b)[0] for b in got]
    return out


def _retune(program: Program, target: Behaviour, start: float, seed: int):
    """Steepest coordinate search over the float constants (integers are counts, ranks and
    periods): ``(distance, changed constants, c)``.

    Each round tries every constant's grid around the current point (:func:`_grid`) and moves
    the one constant whose move helps most; when none helps by :data:`_PROGRESS`, the grids get
    finer, unless the coarse grids left the rule further than :data:`_HOPELESS`. Moving only
    the best constant keeps a constant that explains the difference on its own (Heavy-ball's
    braking term turned off, AdamW's beta1) from being preempted by a partial fix elsewhere. A
    constant the distance does not depend on (a learning rate the rescaling covers, an unused
    option) is dropped after the first round; at the end, changes that explain less than 5% of
    what is left are undone (:func:`_prune`), so the constants reported are the ones that matter.
    """
    defaults = program.hyperparameters
    names = [n for n, v in defaults.items() if isinstance(v, float)]
    best, best_x, runs, level = start, {}, 0, 0
    while level <= len(_SPANS) and best > SAME and runs < _BUDGET and names:
        span = None if level == 0 else _SPANS[level - 1]
        moves = [(n, v) for n in names for v in _grid(best_x.get(n, defaults[n]), span)]
        dists = _distances(program, target, [{**best_x, n: v} for n, v in moves], seed)
        runs += 1
        if runs == 1:
            names = _sensitive(names, moves, dists)
        i = min(range(len(dists)), key=dists.__getitem__) if dists else None
        gained = i is not None and dists[i] < (1 - _PROGRESS) * best
        if i is not None and dists[i] < best:
            best, best_x = dists[i], {**best_x, moves[i][0]: moves[i][1]}
        if not gained:
            level += 1
            if level == 1 and best > _HOPELESS:
                break
    best, best_x = _prune(program, target, best, best_x, seed)
    got = _try_behaviour(program, best_x, seed)
    scale = distance(target, got)[1] if got is not None else 0.0
    return best, best_x, scale


def _sensitive(names: list[str], moves: list, dists: list[float]) -> list[str]:
    """The constants whose non-zero grid values give different distances (a zero learning rate
    stops the rule, which says nothing about the other values)."""
    keep = []
    for name in names:
        ds = [d for (n, v), d in zip(moves, dists) if n == name and v != 0.0]
        if ds and max(ds) - min(ds) > 1e-12 * max(ds):
            keep.append(name)
    return keep


def _prune(program: Program, target: Behaviour, best: float, x: dict, seed: int):
    """Undo, one at a time, the changes whose undoing costs under 5% of ``best`` (or 1e-9)."""
    while x:
        trials = [{k: v for k, v in x.items() if k != name} for name in x]
        dists = _distances(program, target, trials, seed)
        i = min(range(len(dists)), key=dists.__getitem__)
        if dists[i] > best + max(0.05 * best, 1e-9):
            break
        best, x = min(best, dists[i]), trials[i]
    return best, x


# ---- the verdict ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    """How close one library rule comes to the program."""

    #: the library rule
    name: str
    #: the distance at the rule's default constants (after the best rescaling)
    distance: float
    #: the distance after retuning its constants (``distance`` when it was not retuned)
    tuned: float
    #: the retuned constants that moved (name -> value)
    constants: dict = field(default_factory=dict)
    #: the rescaling c of the library rule's updates at the tuned constants
    scale: float = 1.0

    def constants_text(self) -> str:
        return ", ".join(f"{k}={v:.4g}" for k, v in self.constants.items())


@dataclass(frozen=True)
class Novelty:
    """The closest library rules to a program and the verdict (see the module docstring)."""

    program: str
    #: "same", "constants" or "novel"
    verdict: str
    #: the closest rules, closest first
    closest: tuple[Match, ...]
    threshold: float = NEAR

    def summary(self) -> str:
        """One line: "same as X", "X with other constants (...)" or "novel: ..."."""
        best = self.closest[0]
        if self.verdict == "same":
            also = [m.name for m in self.closest[1:] if m.distance <= SAME]
            return f"same as {best.name}" + (f" (also {', '.join(also)})" if also else "")
        if self.verdict == "constants" and not best.constants:  # near at its own defaults
            return (f"{best.name}, nearly (distance {best.tuned:.2g} at its own constants, "
                    f"within {self.threshold:g})")
        if self.verdict == "constants":
            return f"{best.name} with other constants ({best.constants_text()})"
        return (f"novel: no library rule within distance {self.threshold:g}, even retuned "
                f"(closest: {best.name}, {best.tuned:.3g})")

    def table(self, top: int = 3) -> str:
        lines = [f"{'library rule':<22} {'default':>9} {'retuned':>9} {'scale':>9}  constants"]
        for m in self.closest[:top]:
            lines.append(f"{m.name:<22} {m.distance:>9.3g} {m.tuned:>9.3g} {m.scale:>9.3g}  "
                         f"{m.constants_text()}")
        return "\n".join(lines)


def _order(match: Match) -> tuple:
    """Rules that match after retuning (exactly, then within :data:`NEAR`) first, by how few
    constants they change, then by distance; among ties, the library's order (a family lists its
    canonical rule first: sgd before qhm, adam before qhadam)."""
    d = match.tuned
    tier = 0 if d <= SAME else 1 if d <= NEAR else 2
    changed = len(match.constants) if tier < 2 else 0
    return (tier, changed, d if d > 1e-9 else 0.0, _INDEX[match.name])


_INDEX = {name: i for i, name in enumerate(REGISTRY)}


def _ops(program: Program) -> Counter:
    """The multiset of ops that the returned values depend on."""
    return Counter(s.op for s in eliminate_dead_code(program).body)


@functools.lru_cache(maxsize=1)
def _library_ops() -> dict[str, Counter]:
    return {name: _ops(entry.program) for name, entry in REGISTRY.items()}


def _similarity(a: Counter, b: Counter) -> float:
    """The weighted Jaccard similarity of two op multisets (1: the same ops, as often)."""
    union = sum((a | b).values())
    return sum((a & b).values()) / union if union else 1.0


def novelty(program: Program, *, retune: int = 3, seed: int = 0) -> Novelty:
    """Compare ``program`` with every library rule (see the module docstring).

    All rules are compared at their defaults. Unless one is the same, the ``retune`` closest
    ones and the ``retune`` ones built from the most similar ops (a search winner is usually a
    mutated library rule, which can be far from it at the defaults) are retuned. The result
    lists every rule, closest first (:attr:`Novelty.closest`).
    """
    if retune < 0:
        raise InvalidValue(f"retune must be >= 0, got {retune}")
    target = behaviour(program, seed=seed)
    matches = []
    for name, got in library_behaviour(seed).items():
        d, c = distance(target, got) if got is not None else (1.0, 0.0)
        matches.append(Match(name, d, d, {}, c))
    matches.sort(key=_order)
    if matches[0].distance > SAME:
        ops = _ops(program)
        similar = sorted(matches, key=lambda m: -_similarity(ops, _library_ops()[m.name]))
        chosen = {m.name for m in matches[:retune] + similar[:retune]}
        matches = [_retuned(m, target, seed) if m.name in chosen else m for m in matches]
        matches.sort(key=_order)
    best = matches[0]
    verdict = ("same" if best.distance <= SAME else
               "constants" if best.tuned <= NEAR else "novel")
    return Novelty(program.name, verdict, tuple(matches))


def _retuned(match: Match, target: Behaviour, seed: int) -> Match:
    tuned, constants, c = _retune(REGISTRY[match.name].program, target, match.distance, seed)
    return Match(match.name, match.distance, tuned, constants, c)
