"""The library of known optimizers: every entry is a program verified against a reference.

One module per optimizer family, each with an ``ENTRIES`` tuple of :class:`Entry`; this file
imports them explicitly and builds :data:`REGISTRY` (name -> entry). To add a family, write
``library/<family>.py`` with its ``ENTRIES`` and add it to ``_FAMILIES`` below; the registry-driven
tests then check and verify the new entries without any new test code.

>>> from discover.library import get
>>> get("adam").program.hyperparameters
{'lr': 0.001, 'beta1': 0.9, 'beta2': 0.999, 'eps': 1e-08, 'weight_decay': 0.0}
"""

from __future__ import annotations

import dataclasses
import difflib
from . import adam, adaptive, averaging, factored, lion, orthogonal, sgd
from . import adaptive_step, clipping, parameter_free, polyak, projection, schedule_free
from . import blockwise, dadapt, layerwise, mars, regularized, spike, trust_ratio
from . import curvature
from . import muon_family, factored_variants, matrix_preconditioners
from . import energy, low_rank
from . import critical_momenta
from . import bounded, sign, momentum, accelerated, second_moment, first_moment, adam_update, accumulators, scaled, loss_driven, alignment, federated
from . import po_extras, ranger21
from .base import Entry, Reference
from primitives.errors import UserError

__all__ = ["Entry", "Reference", "REGISTRY", "UnknownOptimizer", "get", "names"]

_FAMILIES = (sgd, adam, adaptive, averaging, factored, orthogonal, lion)
_FAMILIES += (trust_ratio, layerwise, clipping, spike, mars, projection, parameter_free, polyak,
              schedule_free)
_FAMILIES += (dadapt, adaptive_step, blockwise, regularized)
_FAMILIES += (curvature,)
_FAMILIES += (muon_family, factored_variants, matrix_preconditioners)
_FAMILIES += (energy, low_rank)
_FAMILIES += (critical_momenta,)
_FAMILIES += (bounded, sign, momentum, accelerated, second_moment, first_moment, adam_update, accumulators, scaled, loss_driven, alignment, federated)
_FAMILIES += (po_extras, ranger21)


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
