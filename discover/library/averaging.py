"""Iterate averaging: averaged SGD (``torch.optim.ASGD``)."""

from __future__ import annotations

import torch

from .base import Entry, Reference

__all__ = ["ENTRIES"]

ASGD = '''
def asgd(w, g, ax, t, lr=0.01, lambd=0.0001, alpha=0.75, t0=1000000.0, weight_decay=0.0):
    """Averaged SGD with torch.optim.ASGD's step-size and averaging schedules.

    eta_t = lr / (1 + lambd * lr * (t - 1))^alpha;  mu_t = 1 at t = 1, else 1 / max(1, t - 1 - t0)
    d = g + weight_decay * w;  update = eta_t * (lambd * w + d)
    ax = ax + mu_t * (w_new - ax)   (the average; it is the model to evaluate, not to train)

    Polyak & Juditsky, "Acceleration of Stochastic Approximation by Averaging" (1992); the
    schedule is Bottou's, "Stochastic Gradient Descent Tricks" (2012).
    """
    d = g + weight_decay * w
    eta = lr / (1 + lambd * lr * (t - 1)) ** alpha
    mu = where(t - 1, 1 / max(1, t - 1 - t0), 1)
    step = lambd * eta * w + eta * d
    ax = ax + (w - step - ax) * mu
    return step, ax
'''


def _asgd(params, h):
    return torch.optim.ASGD(params, lr=h["lr"], lambd=h["lambd"], alpha=h["alpha"], t0=h["t0"],
                            weight_decay=h["weight_decay"])


ENTRIES = (
    Entry(
        name="asgd",
        source=ASGD,
        paper="Acceleration of Stochastic Approximation by Averaging",
        authors="Polyak & Juditsky",
        year=1992,
        references=(Reference("torch.optim.ASGD", _asgd),),
        settings=(
            {},
            {"lr": 0.05, "lambd": 0.01, "alpha": 0.5, "t0": 20.0},
            {"lr": 0.02, "t0": 0.0, "weight_decay": 0.01},
        ),
        compare_state=(("ax", "ax"),),
        notes="torch keeps eta and mu as per-parameter state; they are closed-form functions "
              "of t, so the program computes them from t. The averaging starts after t0 steps; "
              "verify also compares the average ax.",
    ),
)
