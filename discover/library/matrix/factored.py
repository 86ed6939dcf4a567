"""Factored second moments: Adafactor (``torch.optim.Adafactor``), Adafactor's BigVision variant
and CAME (``pytorch_optimizer``).

The row and column statistics ``r`` and ``c`` are stored at the reduced shapes the program gives
them (``(..., R, 1)`` and ``(..., 1, C)`` for a tensor ending in ``(R, C)``), so the state of a
matrix is ``R + C`` numbers, not ``R * C``. Vectors are not factored: ``row_mean`` and
``col_mean`` leave them unchanged and ``r`` is their full second moment (``c`` then duplicates
it; a vector's state is small anyway).
"""

from __future__ import annotations

import torch

from .. import signatures
from ..base import Entry, Reference

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

ADAFACTOR_BIGVISION = '''
def adafactor_bigvision(w, g, m, r, c, t, lr=0.001, beta1=0.9, beta2=0.999, decay_rate=-0.8,
                        weight_decay=0.0, clip_threshold=1.0, eps1=1e-30, eps2=0.001,
                        relative_step=1.0, scale_parameter=1.0, warmup_init=0.0):
    """Adafactor, "BigVision" variant: factored second moment with a capped decay, update
    clipping, relative step sizes and a first moment of the clipped update.

    beta2_t = min(beta2, 1 - t^decay_rate)
    rho = min(1e-6 t if warmup_init else 1e-2, 1 / sqrt(t)) if relative_step else lr
    alpha = max(eps2, rms(w)) * rho if scale_parameter else rho
    r = interp(r, row_mean(g^2 + eps1), 1 - beta2_t);  c = interp(c, col_mean(g^2 + eps1), ...)
    u = g / sqrt(r * c / col_mean(r)) (matrices) or g / sqrt(r) (vectors)
    u = alpha * u / max(1, rms(u) / clip_threshold);  m = interp(u, m, beta1)
    update = m + alpha * weight_decay * w

    Shazeer & Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost" (2018);
    Zhai et al., "Scaling Vision Transformers" (2022), as pytorch_optimizer.AdaFactor.
    """
    beta2_t = min(beta2, 1 - t ** decay_rate)
    rho = where(relative_step, min(where(warmup_init, 1e-06 * t, 0.01), 1 / sqrt(t)), lr)
    alpha = where(scale_parameter, max(eps2, rms(w)) * rho, rho)
    u = g * g + eps1
    r = interp(r, row_mean(u), 1 - beta2_t)
    c = interp(c, col_mean(u), 1 - beta2_t)
    p = where(ndim(g) - 1, rsqrt(r / col_mean(r)) * rsqrt(c), rsqrt(r))
    u = p * g
    u = alpha * (u / max(rms(u) / clip_threshold, 1))
    m = interp(u, m, beta1)
    return m + alpha * weight_decay * w, m, r, c
'''

CAME = '''
def came(w, g, m, r, c, rr, rc, lr=0.0002, beta1=0.9, beta2=0.999, beta3=0.9999,
         weight_decay=0.0, clip_threshold=1.0, eps1=1e-30, eps2=1e-16):
    """CAME: Adafactor's clipped factored update as momentum, divided by a factored EMA of the
    momentum's squared deviation (the "confidence").

    r, c = EMAs (beta2) of row_mean / col_mean of g^2 + eps1;  u = g / sqrt(r c / col_mean(r))
    u = u / max(1, rms(u) / clip_threshold);  m = interp(u, m, beta1)
    rr, rc = EMAs (beta3) of row_mean / col_mean of (u - m)^2 + eps2
    update = lr * m / sqrt(rr rc / col_mean(rr)) + lr * weight_decay * w
    (vectors, not factored: u = g / sqrt(r) and update = lr * m + lr * weight_decay * w)

    Luo et al., "CAME: Confidence-guided Adaptive Memory Efficient Optimization" (2023).
    """
    matrix = ndim(g) - 1
    u = g * g + eps1
    r = interp(row_mean(u), r, beta2)
    c = interp(col_mean(u), c, beta2)
    u = where(matrix, rsqrt(r / col_mean(r)) * rsqrt(c), rsqrt(r)) * g
    u = u / max(rms(u) / clip_threshold, 1)
    m = interp(u, m, beta1)
    res = square(u - m) + eps2
    rr = interp(row_mean(res), rr, beta3)
    rc = interp(col_mean(res), rc, beta3)
    s = where(matrix, rsqrt(rr / col_mean(rr)) * rsqrt(rc), 1)
    return lr * (s * m) + lr * weight_decay * w, m, r, c, rr, rc
'''


def _adafactor(params, h):
    return torch.optim.Adafactor(params, lr=h["lr"], beta2_decay=h["beta2_decay"],
                                 eps=(h["eps1"], h["eps2"]), d=h["d"],
                                 weight_decay=h["weight_decay"])


def _adafactor_bigvision(momentum_dtype):
    def make(params, h):
        from pytorch_optimizer import AdaFactor  # noqa: PLC0415 - optional dependency

        return AdaFactor(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]),
                         decay_rate=h["decay_rate"], weight_decay=h["weight_decay"],
                         clip_threshold=h["clip_threshold"], eps1=h["eps1"], eps2=h["eps2"],
                         relative_step=bool(h["relative_step"]),
                         scale_parameter=bool(h["scale_parameter"]),
                         warmup_init=bool(h["warmup_init"]),
                         momentum_dtype=momentum_dtype or torch.get_default_dtype())

    return make


def _came(params, h):
    from pytorch_optimizer import CAME  # noqa: PLC0415 - optional dependency

    return CAME(params, lr=h["lr"], betas=(h["beta1"], h["beta2"], h["beta3"]),
                weight_decay=h["weight_decay"], clip_threshold=h["clip_threshold"],
                eps1=h["eps1"], eps2=h["eps2"])


ENTRIES = (
    Entry(
        name="adafactor",
        signature=signatures.ADAFACTOR,
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
    Entry(
        name="adafactor_bigvision",
        source=ADAFACTOR_BIGVISION,
        paper="Adafactor: Adaptive Learning Rates with Sublinear Memory Cost",
        authors="Shazeer & Stern",
        year=2018,
        references=(
            Reference("pytorch_optimizer.AdaFactor(momentum_dtype=float64)",
                      _adafactor_bigvision(None), requires="pytorch-optimizer"),
            Reference("pytorch_optimizer.AdaFactor (bfloat16 momentum, as shipped)",
                      _adafactor_bigvision(torch.bfloat16), requires="pytorch-optimizer",
                      tolerance=1e-2,
                      tolerance_note="the package keeps the momentum in bfloat16 by default (8 "
                                     "significant bits); measured at most 3e-3 over 200 steps, "
                                     "seeds 0-3."),
        ),
        settings=(
            {},
            {"beta1": 0.5, "beta2": 0.99, "weight_decay": 0.1, "warmup_init": 1.0},
            {"lr": 0.01, "relative_step": 0.0, "scale_parameter": 0.0, "clip_threshold": 0.5,
             "decay_rate": -0.5},
        ),
        notes="pytorch_optimizer's BigVision variant (Zhai et al., 'Scaling Vision "
              "Transformers'): beta2 capped at 0.999, a first moment of the clipped, scaled "
              "update, relative step sizes that ignore lr unless relative_step=0, decoupled "
              "weight decay scaled by the effective step. The package stores the momentum in "
              "bfloat16 by default; the primary check sets momentum_dtype to the parameters' "
              "dtype. The paper's algorithm (no momentum, beta2 uncapped, eps1 = 1e-30 inside the "
              "factors) is 'adafactor'. The ams_bound option is not modelled.",
    ),
    Entry(
        name="came",
        source=CAME,
        paper="CAME: Confidence-guided Adaptive Memory Efficient Optimization",
        authors="Luo, Ren, Zheng, Jiang, Jiang & You",
        year=2023,
        references=(Reference("pytorch_optimizer.CAME", _came, requires="pytorch-optimizer"),),
        settings=(
            {},
            {"lr": 0.001, "beta1": 0.8, "beta2": 0.99, "beta3": 0.999, "weight_decay": 0.01},
            {"lr": 0.0005, "clip_threshold": 0.5, "eps1": 1e-20, "eps2": 1e-10},
        ),
        notes="The paper's algorithm as pytorch_optimizer implements it (decoupled weight decay "
              "scaled by lr; vectors are not factored and take the clipped momentum directly). "
              "The ams_bound option is not modelled.",
    ),
)
