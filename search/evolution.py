"""Regularized (aging) evolution of programs with an ask/tell interface and explicit state.

The Lion search (Chen et al., 2023, section 2.2; Real et al., 2019): keep a population of P
programs ordered by birth; each child is a mutation of the winner of a tournament of T members
drawn at random, and joins the population while the *oldest* member leaves. The search starts
warm from given programs (AdamW) and restarts when the best fitness has not improved for
``restart_after`` evaluations, alternately from the best program so far (exploitation, Lion's
Fig. 2) and from the start programs (exploration).

Built from DEAP's pieces: individuals made by ``creator`` at module level (workers never see
them: they receive program source), ``toolbox.select = tools.selTournament``, ``HallOfFame``,
``Logbook`` and ``Statistics``. The interface is evosax's::

    search = RegularizedEvolution(config, [adamw], seed=0)
    state = search.init()
    while state.told < 100:
        children, state = search.ask(state, 8)
        state = search.tell(state, children, [fitness(to_program(c)) for c in children])

``ask`` and ``tell`` never modify the state they are given, and the state is explicit (it
carries its own ``random.Random``): :func:`state_to_json` writes it as plain JSON data (programs
as source, the RNG state as numbers) and :func:`state_from_json` reads it back without running
any code, so a resumed search asks exactly what the uninterrupted one would have. Fitness is
higher-is-better; NaN and inf count as the worst value, :data:`WORST`.
"""

from __future__ import annotations

import contextlib
import copy
import math
import random
from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np
from deap import base, creator, tools

from primitives import Program, parse, reads_gradient, scales_with_lr, to_source

from .cache import canonical, decode_float, encode_float, program_keys
from .mutation import MutationInfo, mutate_valid, random_program

__all__ = ["WORST", "EvolutionState", "RegularizedEvolution", "to_individual", "to_program",
           "live_length", "state_to_json", "state_from_json"]

#: the fitness of a diverged or failed evaluation
WORST = -math.inf

# Created once, at import, in the module namespace: classes made inside functions cannot be
# unpickled (DEAP#57); guarded so that re-importing this module does not warn or replace them.
if not hasattr(creator, "ProgramFitness"):
    creator.create("ProgramFitness", base.Fitness, weights=(1.0,))
if not hasattr(creator, "ProgramIndividual"):
    creator.create("ProgramIndividual", list, fitness=creator.ProgramFitness)


def to_individual(program: Program, origin: str = "mutation", kind: str = "none",
                  use_fingerprint: bool = True) -> "creator.ProgramIndividual":
    """A DEAP individual: the list of statements, plus the rest of the program as attributes.

    Attributes: ``params``, ``returns``, ``name`` (the program), ``key`` and ``fingerprint`` (its
    cache keys), ``length`` (live statements), ``origin`` ("start", "random", "restart",
    "mutation"), ``kind`` (the mutation),
    ``birth`` (the ask index, set by :meth:`RegularizedEvolution.ask`).
    """
    ind = creator.ProgramIndividual(program.body)
    ind.params, ind.returns, ind.name = program.params, program.returns, program.name
    keys = program_keys(program, use_fingerprint)
    ind.key, ind.fingerprint = keys.structural, keys.fingerprint
    ind.length = len(canonical(program).body)
    ind.origin, ind.kind, ind.birth = origin, kind, -1
    return ind


def to_program(ind) -> Program:
    """The :class:`Program` an individual holds."""
    return Program(ind.name, ind.params, tuple(ind), ind.returns)


def live_length(ind) -> int:
    """Statements the outputs depend on."""
    return ind.length


def _same_program(a, b) -> bool:
    """HallOfFame similarity: equivalent under either cache key."""
    return a.key == b.key or (a.fingerprint is not None and a.fingerprint == b.fingerprint)


def _fitness(ind) -> float:
    return ind.fitness.values[0]


def _finite(values) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def _median(values) -> float:
    finite = _finite(values)
    return float(np.median(finite)) if finite else WORST


def _max(values) -> float:
    return max(values, default=WORST)


def _mean(values) -> float:
    return float(np.mean(values)) if len(values) else 0.0


def _longest(values) -> int:
    """The largest program length; 0 for an empty population (right after a restart)."""
    return max(values, default=0)


#: checks a child must pass only if every start program does: (mutation setting, predicate,
#: what a failing start program does, the config key)
_START_CHECKS = (("needs_gradient", reads_gradient, "do not read g", "require_gradient"),
                 ("lr_proportional", scales_with_lr, "are not proportional to lr",
                  "lr_proportional"))


@dataclass
class EvolutionState:
    """Everything a search needs to continue (:func:`state_to_json` checkpoints it)."""

    rng: random.Random
    population: list = field(default_factory=list)  # individuals, oldest first
    queued: list = field(default_factory=list)  # (program, origin) to hand out before mutating
    # the programs of the current (re)start: parents while the population is still empty
    origins: list = field(default_factory=list)
    hall_of_fame: tools.HallOfFame | None = None
    logbook: tools.Logbook = field(default_factory=tools.Logbook)
    asked: int = 0
    told: int = 0
    best: float = WORST
    best_at: int = 0  # ``told`` when ``best`` last improved
    restarts: int = 0
    admitted: int = 0  # children that joined the population (all but those a cascade stopped)
    # the cascade's recent scores per stage (search.cascade): its hurdles are their quantiles
    hurdles: dict = field(default_factory=dict)
    invalid: int = 0  # invalid mutation attempts
    failed: int = 0  # parents returned unchanged after max_attempts
    kinds: Counter = field(default_factory=Counter)  # accepted mutations by kind

    @property
    def invalid_share(self) -> float:
        """Share of mutation attempts that produced an invalid child."""
        attempts = self.invalid + sum(self.kinds.values()) + self.failed
        return self.invalid / attempts if attempts else 0.0


class RegularizedEvolution:
    """Lion-style regularized evolution: ``init`` / ``ask`` / ``tell`` over explicit state.

    Args:
        config: a :class:`search.config.SearchConfig` (population, tournament, mutation,
            restart and hall-of-fame settings are read from it).
        start_programs: warm-start programs (e.g. AdamW); with ``config.init == "random"`` only
            their signature is used.
        seed: seeds the state's ``random.Random``.
    """

    def __init__(self, config, start_programs, seed: int = 0):
        if not start_programs:
            raise ValueError("give at least one start program (e.g. AdamW)")
        self.config = config
        self.start_programs = [replace(p, doc="") for p in start_programs]
        self.seed = seed
        self.settings = config.mutation_settings()
        #: why a setting was relaxed for these start programs (shown by the run)
        self.notes: list[str] = []
        for flag, holds, why, key in _START_CHECKS:
            if not getattr(self.settings, flag):
                continue
            failing = [p.name for p in self.start_programs if not holds(p)]
            if failing:
                self.settings = replace(self.settings, **{flag: False})
                self.notes.append(f"start program(s) {', '.join(failing)} {why}: children "
                                  f"need not either ({key} off)")
        self.toolbox = base.Toolbox()
        self.toolbox.register("select", tools.selTournament, tournsize=config.tournament_size)
        # programs are immutable, so mutate returns (child, info) instead of DEAP's in-place
        # (individual,): the parent in the population is never touched
        self.toolbox.register("mutate", mutate_valid, settings=self.settings)
        self.toolbox.register("individual", to_individual,
                              use_fingerprint=config.cache_fingerprint)
        self.stats = tools.MultiStatistics(fitness=tools.Statistics(_fitness),
                                           length=tools.Statistics(live_length))
        self.stats["fitness"].register("max", _max)
        self.stats["fitness"].register("median", _median)
        self.stats["length"].register("mean", _mean)
        self.stats["length"].register("max", _longest)

    # ---- init / ask / tell ------------------------------------------------------------------

    def init(self) -> EvolutionState:
        """A fresh state: the start programs (or P random programs) queued for evaluation."""
        state = EvolutionState(rng=random.Random(self.seed),
                               hall_of_fame=tools.HallOfFame(self.config.hall_of_fame_size,
                                                             similar=_same_program))
        if self.config.init == "random":
            template = self.start_programs[0]
            programs = [random_program(template, state.rng, self.config.random_length,
                                       self.settings)
                        for _ in range(self.config.population_size)]
            state.queued = [(p, "random") for p in programs]
        else:
            state.queued = [(p, "start") for p in self.start_programs]
        state.origins = [p for p, _ in state.queued]
        return state

    def ask(self, state: EvolutionState, n: int) -> tuple[list, EvolutionState]:
        """``n`` children to evaluate (queued start programs first), and the advanced state."""
        state = _fork(state)
        children = []
        for _ in range(n):
            if state.queued:
                program, origin = state.queued.pop(0)
                child = self.toolbox.individual(program, origin=origin)
            else:
                child = self._mutant(state)
            child.birth = state.asked
            state.asked += 1
            children.append(child)
        return children, state

    def tell(self, state: EvolutionState, children, fitnesses, admitted=None) -> EvolutionState:
        """Add the evaluated ``children`` (in ask order) to the population; oldest ones leave.

        ``admitted``: per child, whether it joins at all (default: every child). A child an
        evaluation cascade stopped at a hurdle (:mod:`search.cascade`) has no fitness on the
        full suite: it is counted as told, but neither joins the population nor the hall of
        fame, so the population holds only fully scored programs.
        """
        if len(children) != len(fitnesses):
            raise ValueError(f"{len(children)} children but {len(fitnesses)} fitnesses")
        admitted = [True] * len(children) if admitted is None else list(admitted)
        state = _fork(state, tell=True)
        size = self.config.population_size
        for child, value, joins in zip(children, fitnesses, admitted):
            if not joins:
                state.told += 1
                continue
            state.admitted += 1
            value = float(value)
            child = copy.deepcopy(child)
            child.fitness.values = (value if math.isfinite(value) else WORST,)
            # a (re)start program stands for its share of an initial population of P copies
            # (Lion starts from P AdamWs), at the cost of one evaluation
            copies = 1
            if child.origin in ("start", "restart"):
                copies = max(1, size // max(1, len(state.origins)))
            state.population.extend(copy.deepcopy(child) for _ in range(copies))
            del state.population[:-size]
            state.hall_of_fame.update([child])
            state.told += 1
            if child.fitness.values[0] > state.best:
                state.best, state.best_at = child.fitness.values[0], state.admitted
            restart_after = self.config.restart_after
            if restart_after and state.admitted - state.best_at >= restart_after \
                    and not state.queued:
                self._restart(state)
        # flattened (fitness_median, length_mean, ...): Logbook would file dicts as chapters
        record = {f"{chapter}_{name}": value
                  for chapter, stats in self.stats.compile(state.population).items()
                  for name, value in stats.items()}
        state.logbook.record(evals=state.told, best=state.best, restarts=state.restarts,
                             invalid_share=state.invalid_share, **record)
        return state

    # ---- pieces ---------------------------------------------------------------------------------

    def _mutant(self, state: EvolutionState):
        if state.population:
            with _global_random(state.rng):  # selTournament draws from the module-level random
                parent = to_program(self.toolbox.select(state.population, 1)[0])
        else:  # every queued program is still being evaluated: mutate one of them
            parent = state.rng.choice(state.origins)
        program, info = self.toolbox.mutate(parent, state.rng)
        self._count(state, info)
        return self.toolbox.individual(program, origin="mutation", kind=info.kind)

    @staticmethod
    def _count(state: EvolutionState, info: MutationInfo) -> None:
        state.invalid += info.invalid
        if info.failed:
            state.failed += 1
        else:
            state.kinds[info.kind] += 1

    def _restart(self, state: EvolutionState) -> None:
        """Lion's two restarts, alternating: from the best program so far, then from the start."""
        state.restarts += 1
        use_best = {"best": True, "start": False}.get(self.config.restart_from,
                                                      state.restarts % 2 == 1)
        programs = ([to_program(state.hall_of_fame[0])] if use_best and len(state.hall_of_fame)
                    else list(self.start_programs))
        state.population.clear()
        state.queued = [(p, "restart") for p in programs]
        state.origins = programs
        state.best_at = state.admitted


def _fork(state: EvolutionState, tell: bool = False) -> EvolutionState:
    """A copy of ``state`` that ask (or, with ``tell``, tell) may change without touching it.

    Individuals are never modified once in a population or hall of fame (tell inserts copies),
    so the containers are copied and the individuals shared; a deep copy of the growing logbook
    on every call would make a long search quadratic.
    """
    new = copy.copy(state)
    new.rng = random.Random()
    new.rng.setstate(state.rng.getstate())
    new.queued, new.origins = list(state.queued), list(state.origins)
    new.population = list(state.population)
    new.kinds = Counter(state.kinds)
    new.hurdles = {k: list(v) for k, v in state.hurdles.items()}
    if tell:
        new.hall_of_fame = copy.deepcopy(state.hall_of_fame)
        new.logbook = copy.copy(state.logbook)
    return new


@contextlib.contextmanager
def _global_random(rng: random.Random):
    """Run DEAP code that uses the module-level ``random`` on ``rng``'s stream instead.

    The global generator's state is saved and restored, so the search neither reads nor
    disturbs it, and ``rng`` advances exactly as if DEAP had drawn from it.
    """
    saved = random.getstate()
    random.setstate(rng.getstate())
    try:
        yield
    finally:
        rng.setstate(random.getstate())
        random.setstate(saved)


# ---- the state as JSON data (checkpoints) ------------------------------------------------------


def _rng_to_json(rng: random.Random) -> list:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def _rng_from_json(data) -> random.Random:
    version, internal, gauss = data
    if not all(isinstance(i, int) for i in internal):
        raise ValueError("an RNG state holds integers only")
    rng = random.Random()
    rng.setstate((int(version), tuple(internal), None if gauss is None else float(gauss)))
    return rng


def _individual_to_json(ind) -> dict:
    return {"source": to_source(to_program(ind)), "key": ind.key, "fingerprint": ind.fingerprint,
            "length": ind.length, "origin": ind.origin, "kind": ind.kind, "birth": ind.birth,
            "fitness": [encode_float(v) for v in ind.fitness.values]}


def _individual_from_json(data: dict, programs: dict):
    """The individual ``data`` describes; ``programs`` caches parsed sources (populations hold
    many copies of one program)."""
    source = data["source"]
    if source not in programs:
        programs[source] = parse(source)
    program = programs[source]
    ind = creator.ProgramIndividual(program.body)
    ind.params, ind.returns, ind.name = program.params, program.returns, program.name
    ind.key, ind.fingerprint = str(data["key"]), data["fingerprint"]
    if ind.fingerprint is not None:
        ind.fingerprint = str(ind.fingerprint)
    ind.length, ind.birth = int(data["length"]), int(data["birth"])
    ind.origin, ind.kind = str(data["origin"]), str(data["kind"])
    ind.fitness.values = tuple(decode_float(v) for v in data["fitness"])
    return ind


def _record_value(x):
    return x if isinstance(x, int) and not isinstance(x, bool) else decode_float(x)


def state_to_json(state: EvolutionState) -> dict:
    """``state`` as plain JSON data: programs as source, the RNG state as integers, non-finite
    floats as strings. :func:`state_from_json` reads it back to an equal state."""
    hof = state.hall_of_fame
    return {"rng": _rng_to_json(state.rng),
            "population": [_individual_to_json(ind) for ind in state.population],
            "queued": [[to_source(p), origin] for p, origin in state.queued],
            "origins": [to_source(p) for p in state.origins],
            "hall_of_fame": None if hof is None else {
                "maxsize": hof.maxsize, "items": [_individual_to_json(i) for i in hof.items]},
            "logbook": [{k: (v if isinstance(v, int) else encode_float(v)) for k, v in r.items()}
                        for r in state.logbook],
            "asked": state.asked, "told": state.told, "best": encode_float(state.best),
            "best_at": state.best_at, "restarts": state.restarts, "invalid": state.invalid,
            "failed": state.failed, "kinds": dict(state.kinds), "admitted": state.admitted,
            "hurdles": {k: [encode_float(x) for x in v] for k, v in state.hurdles.items()}}


def state_from_json(data: dict) -> EvolutionState:
    """The :class:`EvolutionState` that :func:`state_to_json` wrote. Only parses program source
    (never runs code); malformed data raises ``KeyError``, ``TypeError`` or ``ValueError``
    (a :class:`~primitives.ProgramError` for bad source)."""
    programs: dict = {}
    state = EvolutionState(rng=_rng_from_json(data["rng"]))
    state.population = [_individual_from_json(d, programs) for d in data["population"]]
    state.queued = [(parse(source), str(origin)) for source, origin in data["queued"]]
    state.origins = [parse(source) for source in data["origins"]]
    hof = data["hall_of_fame"]
    if hof is not None:
        state.hall_of_fame = tools.HallOfFame(int(hof["maxsize"]), similar=_same_program)
        state.hall_of_fame.items = [_individual_from_json(d, programs) for d in hof["items"]]
        # DEAP keeps the fitnesses ascending beside the items, best first
        state.hall_of_fame.keys = [i.fitness for i in reversed(state.hall_of_fame.items)]
    for record in data["logbook"]:
        state.logbook.record(**{str(k): _record_value(v) for k, v in record.items()})
    for name in ("asked", "told", "best_at", "restarts", "invalid", "failed"):
        setattr(state, name, int(data[name]))
    state.best = decode_float(data["best"])
    # runs checkpointed before the cascade existed admitted every child they told
    state.admitted = int(data.get("admitted", state.told))
    state.hurdles = {str(k): [decode_float(x) for x in v]
                     for k, v in dict(data.get("hurdles", {})).items()}
    state.kinds = Counter({str(k): int(v) for k, v in data["kinds"].items()})
    return state
