"""Energy-adaptive gradient descent: AEGD, the method "Adaptive Preconditioned Gradient Descent
with Energy" preconditions.

The energy ``r`` starts at ``sqrt(f(w_0) + c)`` and only decreases, which makes the step
unconditionally stable. The seed paper's preconditioned forms (Hessian-Riemannian and natural
gradient metrics for constrained problems) need metric solves specific to the problem and are not
programs (``docs/catalogue_matrix.md``).
"""

from __future__ import annotations

from ...references.curvature import AEGD as AEGDReference
from ..base import Entry, Reference

__all__ = ["ENTRIES"]

AEGD = '''
def aegd(w, g, r, loss, t, lr=0.1, c=1.0, weight_decay=0.0, aegdw=0.0):
    """AEGD: gradient descent on sqrt(f + c) with a per-entry energy variable.

    v = g / (2 sqrt(loss + c))  (+ weight_decay * w unless aegdw)
    r = r / (1 + 2 lr v^2)      (r starts at sqrt(loss + c) at the first step)
    update = 2 lr r v           (+ lr * weight_decay * w if aegdw: decoupled decay)

    Liu & Tian, "AEGD: Adaptive Gradient Descent with Energy" (2020); preconditioned in Liu,
    Nurbekyan, Tian & Yang, "Adaptive Preconditioned Gradient Descent with Energy" (2023).
    """
    root = sqrt(loss + c)
    v = g / (2 * root)
    v = where(aegdw, v, v + weight_decay * w)
    r = where(t - 1, r, root) / (1 + 2 * lr * (v * v))
    return 2 * lr * r * v + where(aegdw, lr * weight_decay * w, 0), r
'''


def _aegd(params, h):
    return AEGDReference(params, lr=h["lr"], c=h["c"], weight_decay=h["weight_decay"],
                         aegdw=bool(h["aegdw"]))


ENTRIES = (
    Entry(
        name="aegd",
        source=AEGD,
        paper="AEGD: Adaptive Gradient Descent with Energy",
        authors="Liu & Tian",
        year=2020,
        references=(Reference("discover.references.curvature.AEGD", _aegd),),
        settings=(
            {},
            {"lr": 0.3, "c": 2.0, "weight_decay": 0.01},
            {"lr": 0.05, "weight_decay": 0.1, "aegdw": 1.0},
        ),
        notes="The official AEGD code (txping/AEGD): energy per entry, L2 decay added to v, or "
              "decoupled decay with aegdw. It is the identity-preconditioned case of the seed "
              "paper's AEPG; the paper's Hessian-Riemannian / natural-gradient preconditioners "
              "are problem-specific metric solves and are not modelled.",
    ),
)
