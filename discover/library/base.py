"""What a library entry is: a program plus the metadata needed to cite and verify it.

An :class:`Entry` holds the program text (a restricted function whose docstring states the update
rule and the paper), where it comes from, and the references it is checked against by
:mod:`discover.verify`: a tuple of :class:`Reference`, the primary one first, each with its own
label, package requirement and tolerance. A reference's ``make(params, hyper)`` maps the
program's hyperparameters onto the reference constructor, e.g.::

    Reference("torch.optim.Adam",
              lambda params, h: torch.optim.Adam(params, lr=h["lr"], betas=betas(h),
                                                 eps=h["eps"], weight_decay=h["weight_decay"]))

``hyper`` always holds every hyperparameter of the program (defaults updated by the setting under
test), and the mapping must read each of them (the library tests check this), so no program
hyperparameter can be silently ignored by the reference.

Hyperparameters take the reference's names where it has one (``weight_decay``, also for Lion,
whose example in DESIGN.md calls it ``wd``; ``beta1``/``beta2`` for torch's ``betas``). Boolean
options (``nesterov``, ``decoupled_weight_decay``) are 0/1 hyperparameters read with
``where(flag, on, off)`` (on when ``flag > 0``).

An entry whose reference is a class users already call (``torch.optim.Adam``) also carries that
class's :class:`Signature` (:mod:`discover.library.signatures`): the exported class then takes
the reference's own keyword arguments (``betas=(0.9, 0.999)``, ``amsgrad=True``), checks them
with its messages, and maps them onto the program's hyperparameters every step.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Mapping, Sequence

import torch

from primitives import Program, parse

__all__ = ["Entry", "Reference", "Signature", "MakeReference", "po_class", "betas"]

#: ``(params, hyper) -> torch.optim.Optimizer``
MakeReference = Callable[[Sequence[torch.Tensor], Mapping[str, float]], torch.optim.Optimizer]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Reference:
    """One implementation a program is verified against."""

    #: human-readable, e.g. ``"torch.optim.Adam(amsgrad=True)"``
    label: str
    make: MakeReference
    #: pip package the reference needs (``None``: torch alone)
    requires: str | None = None
    #: largest accepted relative difference of the weights (max |a - b| / max |b|)
    tolerance: float = 1e-10
    #: why the tolerance is looser than 1e-10, if it is
    tolerance_note: str = ""

    @property
    def import_name(self) -> str | None:
        """The module ``requires`` installs (``pytorch-optimizer`` -> ``pytorch_optimizer``)."""
        return None if self.requires is None else self.requires.replace("-", "_")


@dataclass(frozen=True)
class Signature:
    """The constructor of a reference class, for the exported class of the entries verified
    against it (see :mod:`discover.library.signatures`, which holds torch.optim's)."""

    #: the class, e.g. ``"torch.optim.Adam"``
    reference: str
    #: a function whose parameters are the reference's keyword arguments after ``params``, in
    #: its order, with its defaults, and whose body raises the reference's errors for bad values
    #: (copied verbatim into the exported module: torch, math and builtins only)
    arguments: Callable
    #: ``(group, dtype) -> (program name, {hyperparameter: value})``: the program a param group
    #: runs, with its hyperparameters from the group's arguments (copied verbatim too)
    program: Callable
    #: every program name ``program`` can return (library entry names)
    programs: tuple[str, ...]
    #: ``(program state, reference state key)``: ``load_state_dict`` renames the reference's
    #: keys, so that the reference's state dicts load (``exp_avg`` -> ``m``); a reference key
    #: may load into several states (each gets its own copy)
    state: tuple[tuple[str, str], ...] = ()
    #: reference state keys that follow from the others (ASGD's ``eta`` and ``mu`` from the step
    #: count) and are dropped on loading; any other unknown key is an error
    derived: tuple[str, ...] = ()
    #: ``p -> None``, raising the reference's error for a parameter it refuses (Muon: not 2-D)
    parameter: Callable | None = None
    #: ``(argument, default)`` pairs that replace the reference's defaults, for an entry that is
    #: one of the reference's flags (AMSGrad: ``amsgrad=True``)
    defaults: tuple[tuple[str, object], ...] = ()
    #: functions ``arguments`` or ``program`` call (checks shared by several references),
    #: copied verbatim into the exported module before them
    helpers: tuple[Callable, ...] = ()

    def __post_init__(self):
        unknown = {k for k, _ in self.defaults} - set(self.parameters)
        if unknown:
            raise ValueError(f"signature of {self.reference}: defaults for unknown "
                             f"argument(s) {sorted(unknown)}")

    @property
    def parameters(self) -> dict[str, inspect.Parameter]:
        """The arguments as :class:`inspect.Parameter` (name -> parameter), defaults replaced."""
        changed = dict(self.defaults)
        return {name: p.replace(default=changed.get(name, p.default))
                for name, p in inspect.signature(self.arguments).parameters.items()}

    def with_defaults(self, **defaults) -> "Signature":
        """The same signature with other defaults (``ADAM.with_defaults(amsgrad=True)``)."""
        return dataclasses.replace(self, defaults=tuple(defaults.items()))


@dataclass(frozen=True)
class Entry:
    """A published optimizer as a program, with its paper and the references it must match."""

    #: lower-case CLI name, equal to the program's function name (``"rmsprop_centered"``)
    name: str
    #: program text; its docstring states the update rule and the paper
    source: str
    #: paper title (or the canonical source when there is no paper)
    paper: str
    #: e.g. ``"Kingma & Ba"``
    authors: str
    year: int
    #: the implementations the program is verified against, the primary one first (its label,
    #: e.g. ``"torch.optim.Adam(amsgrad=True)"``, is the one ``discover list`` shows); each
    #: carries its own package requirement and tolerance
    references: tuple[Reference, ...]
    #: hyperparameter overrides to verify; ``{}`` (the defaults) first
    settings: tuple[dict, ...] = ({},)
    #: parameters with fewer dimensions are not verified (Muon: 2)
    min_ndim: int = 1
    #: parameters with more dimensions are not verified (torch.optim.Muon: 2); None: no limit
    max_ndim: int | None = None
    #: where the program (or its reference) departs from the paper
    notes: str = ""
    #: reference constructor arguments this entry deliberately sets away from their defaults
    #: (e.g. ``("amsgrad",)``); every other default of the reference must equal the program's
    reference_overrides: tuple[str, ...] = ()
    #: ``(program state, reference state key)`` pairs verify also compares: state that never
    #: feeds back into the weights (ASGD's average) is otherwise unchecked
    compare_state: tuple[tuple[str, str], ...] = ()
    #: ``(hyperparameter, (low, high))`` pairs the exported class checks instead of the name
    #: rules of :data:`discover.export.HYPER_RULES` where those do not fit the rule (FTRL's
    #: ``beta`` is an additive smoothing, not a decay rate); None: unbounded on that side
    bounds: tuple[tuple[str, tuple], ...] = ()
    #: the constructor of the primary reference where users know it (torch.optim's classes):
    #: the exported class takes its keyword arguments; None: the program's hyperparameters
    signature: Signature | None = None
    #: the family module the entry is registered from, relative to ``discover.library``
    #: (``"elementwise.sign"``); :data:`discover.library.REGISTRY` fills it in
    family: str = ""

    def __post_init__(self):
        if not _NAME.match(self.name):
            raise ValueError(f"library entry {self.name!r}: names are lower-case snake_case")
        if not self.references or not all(isinstance(r, Reference) for r in self.references):
            raise ValueError(f"library entry {self.name!r}: references must be a non-empty "
                             "tuple of Reference, the primary one first")
        program = self.program  # parse now: a broken entry fails at import, naming itself
        if program.name != self.name:
            raise ValueError(f"library entry {self.name!r}: the program is called "
                             f"{program.name!r}; name the function like the entry")
        hypers = set(program.hyperparameters)
        for setting in self.settings:
            unknown = set(setting) - hypers
            if unknown:
                raise ValueError(f"library entry {self.name!r}: setting {setting} names unknown "
                                 f"hyperparameter(s) {sorted(unknown)}; known: {sorted(hypers)}")
        if not self.settings or self.settings[0] != {}:
            raise ValueError(f"library entry {self.name!r}: settings must start with {{}} "
                             "(the defaults)")
        for name, _ in self.bounds:
            if name not in hypers:
                raise ValueError(f"library entry {self.name!r}: bounds name {name!r}, which is "
                                 f"not a hyperparameter ({sorted(hypers)})")
        if self.signature is not None and self.name not in self.signature.programs:
            raise ValueError(f"library entry {self.name!r}: its signature "
                             f"({self.signature.reference}) does not list it in programs")
        states = set(program.state_names)
        for state, _ in self.compare_state:
            if state not in states:
                raise ValueError(f"library entry {self.name!r}: compare_state names {state!r}, "
                                 f"which is not a state of the program ({sorted(states)})")

    @cached_property
    def program(self) -> Program:
        """The parsed program (SSA form)."""
        try:
            return parse(self.source)
        except ValueError as exc:
            raise ValueError(f"library entry {self.name!r}: {exc}") from None

    def supports_ndim(self, ndim: int) -> bool:
        """Whether parameters with ``ndim`` dimensions are verified (``min_ndim``/``max_ndim``)."""
        return ndim >= self.min_ndim and (self.max_ndim is None or ndim <= self.max_ndim)

    @property
    def primary(self) -> Reference:
        """The primary reference: the first of :attr:`references`."""
        return self.references[0]

    @property
    def path(self) -> str:
        """The file the entry is written in, e.g. ``discover/library/elementwise/sign.py``."""
        if not self.family:
            return ""
        return "discover/library/" + self.family.replace(".", "/") + ".py"


def po_class(name: str):
    """``pytorch_optimizer.<name>``, imported only when a reference is built (optional package)."""
    import pytorch_optimizer  # noqa: PLC0415 - optional dependency

    return getattr(pytorch_optimizer, name)


def betas(h: Mapping[str, float], *names: str) -> tuple[float, ...]:
    """The ``betas`` tuple of a reference constructor: ``(h["beta1"], h["beta2"])`` by default."""
    return tuple(h[n] for n in names or ("beta1", "beta2"))
