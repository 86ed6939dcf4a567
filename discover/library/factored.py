"""Factored second moments: Adafactor (``torch.optim.Adafactor``).

The row and column statistics ``r`` and ``c`` are stored at the reduced shapes the program gives
them (``(..., R, 1)`` and ``(..., 1, C)`` for a tensor ending in ``(R, C)``), so the state of a
matrix is ``R + C`` numbers, not ``R * C``. Vectors are not factored: ``row_mean`` and
``col_mean`` leave them unchanged and ``r`` is their full second moment (``c`` then duplicates
it; a vector's state is small anyway).
"""

from __future__ import annotations

import torch

from .base import Entry, Reference

__all__ = ["ENTRIES"]

ADAFACTOR = '''
def adafactor(w, g, r, c, t, lr=0.01, beta2_decay=-0.8, eps1=1.1920928955078125e-07, eps2=0.001,
              d=1.0, weight_decay=0.0):
    """Adafactor without momentum, with relative step sizes, as torch.optim.Adafactor.

    beta_t = t^beta2_decay (the weight of the new statistics; 1 - beta2_hat in the paper)
    r = interp(r, row_mean(g^2), beta_t);  c = interp(c, col_mean(g^2), beta_t)
    v = r * c / max(col_mean(r), eps1) for tensors with 2 or more dims, else v = r
    u = g / sqrt(max(v, eps1^2));  u = u / max(1, rms(u) / d)          (update clipping)
    alpha_t = max(eps2, rms(w)) * min(lr, 1 / sqrt(t))                 (relative step size)
    update = alpha_t * u + lr * weight_decay * w

    Shazeer & Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost" (2018).
    """
    beta = t ** beta2_decay
    alpha = max(eps2, rms(w)) * min(lr, 1 / sqrt(t))
    g2 = g * g
    r = interp(r, row_mean(g2), beta)
    c = interp(c, col_mean(g2), beta)
    v = where(ndim(g) - 1, r * c / max(col_mean(r), eps1), r)
    u = g * rsqrt(max(v, eps1 * eps1))
    u = u / max(1, rms(u) / d)
    return alpha * u + lr * weight_decay * w, r, c
'''


def _adafactor(params, h):
    return torch.optim.Adafactor(params, lr=h["lr"], beta2_decay=h["beta2_decay"],
                                 eps=(h["eps1"], h["eps2"]), d=h["d"],
                                 weight_decay=h["weight_decay"])


ENTRIES = (
    Entry(
        name="adafactor",
        source=ADAFACTOR,
        paper="Adafactor: Adaptive Learning Rates with Sublinear Memory Cost",
        authors="Shazeer & Stern",
        year=2018,
        references=(Reference("torch.optim.Adafactor", _adafactor),),
        settings=(
            {},
            {"lr": 0.1, "beta2_decay": -0.5, "weight_decay": 0.01},
            {"lr": 0.003, "d": 1.5, "eps2": 0.1},
        ),
        notes="The paper's algorithm without first moment (torch's). torch takes eps1 = None "
              "to mean the machine epsilon of the parameter dtype; the program's default is "
              "float32's, the common case (the paper uses 1e-30). The update is clipped with "
              "d = 1 and the relative step is min(lr, 1/sqrt(t)) scaled by max(eps2, rms(w)).",
    ),
)
