"""Momentum scaled by its alignment with the gradient: TAM and AdaTAM (Torque-Aware Momentum).

Both keep an EMA ``s`` of the product of the momentum and the gradient, each normalised to unit
2-norm along the first dimension (pytorch_optimizer's ``normalize(x, dim=0)``), and add the
gradient to the momentum weighted by ``(1 + s) / 2``: components that agree with the momentum
pass, components that oppose it are damped.

The language has no reduction along the first dimension of an arbitrary tensor; the programs
use the whole-tensor norm for vectors and column norms (``col_mean`` over the second-to-last
dimension) for matrices, which is exactly dim 0 for 1-D and 2-D tensors. Conv kernels (ndim > 2)
are outside what the programs compute (``max_ndim=2``).

References: ``pytorch_optimizer.TAM`` and ``pytorch_optimizer.AdaTAM``.
"""

from __future__ import annotations

from .base import Entry, Reference, po_class

__all__ = ["ENTRIES"]

# x / max(||x||_dim0, 1e-12) for 1-D and 2-D tensors
_UNIT0 = '''
    rows = numel(g) / numel(col_mean(g))
    nb = where(ndim(g) - 1, sqrt(col_mean(b0 * b0) * rows), norm(b0))
    ng = where(ndim(g) - 1, sqrt(col_mean(g * g) * rows), norm(g))
    corr = b0 / max(nb, 1e-12) * (g / max(ng, 1e-12))
    s = interp(corr, s, decay_rate)
    d = ((1 + s) / 2 + eps) * g'''

TAM = '''
def tam(w, g, s, buf, t, lr=0.001, momentum=0.9, decay_rate=0.9, eps=1e-08, weight_decay=0.0):
    """TAM: heavy-ball momentum that adds g weighted by its alignment with the momentum.

    b = buf (the first gradient at t = 1);  c = b / ||b||_dim0 * g / ||g||_dim0
    s = interp(c, s, decay_rate);  buf = momentum b + ((1 + s) / 2 + eps) g
    update = lr * buf + lr * weight_decay * w

    Malviya et al., "Torque-Aware Momentum" (2024).
    """
    b0 = where(t - 1, buf, g)UNIT0
    buf = momentum * b0 + d
    return lr * buf + lr * weight_decay * w, s, buf
'''.replace("UNIT0", _UNIT0)

ADATAM = '''
def adatam(w, g, s, m, v, lr=0.001, beta1=0.9, beta2=0.999, decay_rate=0.9, eps=1e-08,
           weight_decay=0.0):
    """AdaTAM: TAM's alignment-weighted momentum over Adam's denominator (no bias correction).

    c = m / ||m||_dim0 * g / ||g||_dim0;  s = interp(c, s, decay_rate)
    m = beta1 m + ((1 + s) / 2 + eps) g;  v = interp(g^2, v, beta2)
    update = lr * m / (sqrt(v) + eps) + lr * weight_decay * w

    Malviya et al., "Torque-Aware Momentum" (2024).
    """
    b0 = mUNIT0
    m = beta1 * m + d
    v = interp(g * g, v, beta2)
    return lr * m / (sqrt(v) + eps) + lr * weight_decay * w, s, m, v
'''.replace("UNIT0", _UNIT0)


def _tam(params, h):
    return po_class("TAM")(params, lr=h["lr"], momentum=h["momentum"], decay_rate=h["decay_rate"],
                           eps=h["eps"], weight_decay=h["weight_decay"])


def _adatam(params, h):
    return po_class("AdaTAM")(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]),
                              decay_rate=h["decay_rate"], eps=h["eps"],
                              weight_decay=h["weight_decay"])


_NOTES = ("The alignment is pytorch_optimizer's: the elementwise product of the dim-0 "
          "normalised momentum and gradient (the paper describes a cosine between them). "
          "1-D and 2-D parameters only (see the module docstring). Decoupled weight decay.")

ENTRIES = (
    Entry(
        name="tam",
        source=TAM,
        paper="Torque-Aware Momentum",
        authors="Malviya et al.",
        year=2024,
        references=(Reference("pytorch_optimizer.TAM", _tam, requires="pytorch-optimizer"),),
        max_ndim=2,
        settings=({}, {"lr": 0.01, "momentum": 0.8, "decay_rate": 0.5, "weight_decay": 0.01},
                  {"lr": 0.003, "momentum": 0.95, "decay_rate": 0.99, "eps": 1e-4}),
        notes=_NOTES + " The momentum starts at the first gradient.",
    ),
    Entry(
        name="adatam",
        source=ADATAM,
        paper="Torque-Aware Momentum",
        authors="Malviya et al.",
        year=2024,
        references=(Reference("pytorch_optimizer.AdaTAM", _adatam, requires="pytorch-optimizer"),),
        max_ndim=2,
        settings=({}, {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "decay_rate": 0.5,
                       "weight_decay": 0.01},
                  {"lr": 0.003, "beta2": 0.9, "decay_rate": 0.99, "eps": 1e-4}),
        notes=_NOTES,
    ),
)
