"""The library of known optimizers: every entry is a program verified against a reference.

Families are grouped by the catalogue's three parts: ``elementwise/`` (part A,
``docs/catalogue_elementwise.md``), ``reductions/`` (part B, per-tensor, group and loss-value
rules) and ``matrix/`` (part C, matrix, factored and second-order rules). Each family module is
named by the maths it changes (``elementwise/sign.py``, ``matrix/muon.py``) and holds an
``ENTRIES`` tuple of :class:`Entry`; this file imports every family by name and builds
:data:`REGISTRY` (name -> entry) from :data:`_FAMILIES`. To add a family, write
``library/<part>/<family>.py`` with its ``ENTRIES``, import it below and add it to ``_FAMILIES``;
the registry-driven tests then check and verify the new entries without any new test code.
``discover show NAME`` prints the file an entry is written in.

>>> from discover.library import get
>>> get("adam").program.hyperparameters
{'lr': 0.001, 'beta1': 0.9, 'beta2': 0.999, 'eps': 1e-08, 'weight_decay': 0.0}
>>> get("adam").path
'discover/library/elementwise/adam.py'
"""

from __future__ import annotations

import dataclasses
import difflib

from primitives.errors import UserError

from .base import Entry, Reference
from .elementwise import (accelerated, adagrad, adam, alignment, bounded, dual_averaging,
                          federated, first_moment, gradient_variance, loss_driven,
                          moment_combination, quasi_newton, ranger, second_moment, sgd, sign,
                          tensor_statistics)
from .matrix import (auon, curvature, energy, factored, low_rank, muon, preconditioners,
                     row_column, scion)
from .reductions import (adaptive_step, blockwise, clipping, critical_momenta, dadapt, layerwise,
                         mars, parameter_free, polyak, projection, regularized, schedule_free,
                         spike, trust_ratio)

__all__ = ["Entry", "Reference", "REGISTRY", "UnknownOptimizer", "get", "names"]

#: every family module, alphabetical by part and then by family; the registry keeps this order
_FAMILIES = (
    # part A: elementwise
    accelerated, adagrad, adam, alignment, bounded, dual_averaging, federated, first_moment,
    gradient_variance, loss_driven, moment_combination, quasi_newton, ranger, second_moment, sgd,
    sign, tensor_statistics,
    # part C: matrix
    auon, curvature, energy, factored, low_rank, muon, preconditioners, row_column, scion,
    # part B: reductions
    adaptive_step, blockwise, clipping, critical_momenta, dadapt, layerwise, mars, parameter_free,
    polyak, projection, regularized, schedule_free, spike, trust_ratio,
)


class UnknownOptimizer(UserError, KeyError):
    """No library entry has this name; the message lists the closest names."""

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return str(self.args[0]) if self.args else ""


def _build(families) -> dict[str, Entry]:
    """name -> entry over ``families`` in order; each entry's ``family`` set from its module."""
    registry: dict[str, Entry] = {}
    for module in families:
        family = module.__name__.removeprefix(__name__ + ".")
        for entry in module.ENTRIES:
            if entry.name in registry:
                raise RuntimeError(f"duplicate library entry {entry.name!r} in "
                                   f"{module.__name__} (already in {registry[entry.name].family})")
            registry[entry.name] = dataclasses.replace(entry, family=family)
    return registry


#: name -> entry, in family order
REGISTRY: dict[str, Entry] = _build(_FAMILIES)


def names() -> list[str]:
    """Every entry name, in registry order."""
    return list(REGISTRY)


def get(name: str) -> Entry:
    """The entry called ``name``; :class:`UnknownOptimizer` (a ``KeyError``) otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, REGISTRY, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else "see `discover list`"
        raise UnknownOptimizer(f"unknown optimizer {name!r}; {hint}") from None
