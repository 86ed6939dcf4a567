"""AuON: momentum divided by a cosh "brake" in place of Muon's orthogonalisation (linear time, no
Newton-Schulz), and Hybrid-AuON (Newton-Schulz on each matrix, then the brake).

Both are verified against paper-form references written from the official code
(``discover.references.matrix.AuON`` and ``HybridAuON``).
"""

from __future__ import annotations

from ...references.matrix import AuON, HybridAuON
from ..base import Entry, Reference

__all__ = ["ENTRIES"]

AUON = '''
def auon(w, g, m, lr=0.24, momentum=0.95, weight_decay=0.0, gamma=1.5):
    """AuON: Nesterov momentum divided by a cosh "brake", in linear time (no Newton-Schulz).

    m = interp(g, m, momentum);  u = interp(g, m, momentum)
    r = sqrt(mean(cosh(gamma * u / (||u|| + 1e-7))^2))
    update = lr * u / (r + 1e-8) + lr * weight_decay * w

    "AuON: A Linear-time Alternative to Semi-Orthogonal Momentum Updates" (2025).
    """
    m = interp(g, m, momentum)
    u = interp(g, m, momentum)
    r = sqrt(mean(square(cosh(u / (norm(u) + 1e-07) * gamma))))
    return lr * u / (r + 1e-08) + lr * weight_decay * w, m
'''

HYBRID_AUON = '''
def hybrid_auon(w, g, m, lr=0.24, momentum=0.95, weight_decay=0.0, gamma=1.5, ns_steps=5):
    """Hybrid-AuON: Newton-Schulz on each matrix of the last two dims, then AuON's cosh brake.

    m = interp(g, m, momentum);  u = interp(g, m, momentum)
    o = ns_iterate(u / (||u||_F + 1e-7), ns_steps) for tensors with 2 or more dims, else u
    r = sqrt(mean(cosh(gamma * o / (||o|| + 1e-7))^2))
    update = lr * o / (r + 1e-8) + lr * weight_decay * w

    "AuON: A Linear-time Alternative to Semi-Orthogonal Momentum Updates" (2025).
    """
    m = interp(g, m, momentum)
    u = interp(g, m, momentum)
    o = where(ndim(u) - 1, ns_iterate(u / (matrix_norm(u) + 1e-07), ns_steps), u)
    r = sqrt(mean(square(cosh(o / (norm(o) + 1e-07) * gamma))))
    return lr * o / (r + 1e-08) + lr * weight_decay * w, m
'''


def _auon(params, h):
    return AuON(params, lr=h["lr"], momentum=h["momentum"], weight_decay=h["weight_decay"],
                gamma=h["gamma"])


def _hybrid_auon(params, h):
    return HybridAuON(params, lr=h["lr"], momentum=h["momentum"],
                      weight_decay=h["weight_decay"], gamma=h["gamma"],
                      ns_steps=int(h["ns_steps"]))


ENTRIES = (
    Entry(
        name="auon",
        source=AUON,
        paper="AuON: A Linear-time Alternative to Semi-Orthogonal Momentum Updates",
        authors="ryyzn9 (AuON authors)",
        year=2025,
        references=(Reference("discover.references.matrix.AuON", _auon),),
        settings=(
            {},
            {"lr": 0.08, "weight_decay": 0.01, "momentum": 0.9},
            {"lr": 0.02, "gamma": 3.0, "momentum": 0.5},
        ),
        notes="The official code (ryyzn9/AuON, auon/optimizer.py): Nesterov momentum as lerps, "
              "the cosh brake with the constants 1e-7 and 1e-8, decoupled weight decay; applied "
              "to every tensor (the README pairs it with Adam for vectors). A zero momentum "
              "gives a zero step, as the code's early exit does.",
    ),
    Entry(
        name="hybrid_auon",
        source=HYBRID_AUON,
        paper="AuON: A Linear-time Alternative to Semi-Orthogonal Momentum Updates",
        authors="ryyzn9 (AuON authors)",
        year=2025,
        references=(Reference("discover.references.matrix.HybridAuON", _hybrid_auon),),
        settings=(
            {},
            {"lr": 0.08, "weight_decay": 0.01, "ns_steps": 1},
            {"lr": 0.02, "gamma": 3.0, "momentum": 0.5, "ns_steps": 3},
        ),
        max_ndim=2,
        notes="The official HybridAuON: Newton-Schulz from X / (||X||_F + 1e-7) (the code adds "
              "eps; the newton_schulz op clamps, hence ns_iterate), per matrix of the last two "
              "dims (conv kernels: per kh x kw slice, as the code does). The code defaults to 5 "
              "Newton-Schulz steps although the abstract says a single one. Verified on vectors "
              "and matrices only: on the conv kernel the rule itself is chaotic at useful step "
              "sizes (Newton-Schulz blows up the small singular values of 3 x 3 slices; a 1e-15 "
              "change of the reference's own start grows to 0.4 within 30 steps at lr=0.24 and "
              "to 2e-4 within 60 at lr=0.08), so no two implementations stay comparable there.",
    ),
)
