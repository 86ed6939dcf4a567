"""Rules driven by the alignment of the momentum with the gradient: TAM and AdaTAM
(Torque-Aware Momentum), and Aida.

TAM and AdaTAM keep an EMA ``s`` of the product of the momentum and the gradient, each normalised
to unit 2-norm along the first dimension (pytorch_optimizer's ``normalize(x, dim=0)``), and add
the gradient to the momentum weighted by ``(1 + s) / 2``: components that agree with the momentum
pass, components that oppose it are damped. Aida is Adam whose second moment tracks the residual
of alternating projections of the gradient and the momentum onto each other, which shrinks as
they align.

The language has no reduction along the first dimension of an arbitrary tensor; TAM's programs
use the whole-tensor norm for vectors and column norms (``col_mean`` over the second-to-last
dimension) for matrices, which is exactly dim 0 for 1-D and 2-D tensors. Conv kernels (ndim > 2)
are outside what they compute (``max_ndim=2``).

References: ``pytorch_optimizer.TAM``, ``pytorch_optimizer.AdaTAM`` and
``pytorch_optimizer.Aida``.
"""

from __future__ import annotations

from ..base import Entry, Reference, po_class

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

AIDA = '''
def aida(w, g, m, var, vmax, t, lr=0.001, beta1=0.9, beta2=0.999, k=2.0, xi=1e-20,
         weight_decay=0.0, weight_decouple=0.0, fixed_decay=0.0, rectify=0.0, n_sma_threshold=5.0,
         degenerated_to_sgd=1.0, ams_bound=0.0, eps=1e-08):
    \"\"\"Aida: Adam whose second moment tracks the residual of k alternating projections of the
    gradient and the momentum onto each other (pytorch_optimizer.Aida).

    d = g + wd w (or w = w (1 - lr wd) with weight_decouple; wd alone with fixed_decay)
    m = interp(d, m, beta1);  pg = d;  pm = m
    k times: s = sum(pg pm);  pg = pg s / (sum(pg^2) + xi);  pm = pm s / (sum(pm^2) + xi)
    in closed form (pg stays a multiple of d, pm of m): with G = sum(d^2) + xi,
    M = sum(m^2) + xi, D = sum(d m), c = D^2 / (G M):
    pm - pg = c^(k/2) (m - d) for even k, c^((k-1)/2) (D / M m - D / G d) for odd k
    var = interp((pm - pg)^2, var, beta2) + eps;  vmax = max(vmax, var) with ams_bound
    den = sqrt(var (or vmax) + 1e-15) + eps
    update = lr / (1 - beta1^t) * m / (den / sqrt(1 - beta2^t)), or with rectify RAdam's
    rectified step lr r / (1 - beta1^t) * m / den once rho_t >= n_sma_threshold, before that
    lr / (1 - beta1^t) * m with degenerated_to_sgd and no step without

    Zhang et al., "On the Variance of Adaptive Optimizers: Aida" (2024).
    \"\"\"
    decay = where(weight_decouple, weight_decay * where(fixed_decay, 1, lr), 0)
    w0 = w * (1 - decay)
    d = g + where(weight_decouple, 0, weight_decay) * w
    m = interp(d, m, beta1)
    gg = dot(d, d) + xi
    mm = dot(m, m) + xi
    gm = dot(d, m)
    odd = fmod(k, 2)
    c = gm * gm / (gg * mm)
    r = c ** ((k - odd) / 2) * (where(odd, gm / mm, 1) * m - where(odd, gm / gg, 1) * d)
    var = interp(r * r, var, beta2) + eps
    vmax = where(ams_bound, max(vmax, var), vmax)
    den = sqrt(where(ams_bound, vmax, var) + 1e-15) + eps
    bc1 = 1 - beta1 ** t
    beta2_t = beta2 ** t
    plain = lr / bc1 * m / (den / sqrt(1 - beta2_t))
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * beta2_t / (1 - beta2_t)
    rt = sqrt(max((1 - beta2_t) * (rho_t - 4) / (rho_inf - 4) * (rho_t - 2) / rho_t * rho_inf / (rho_inf - 2), 0))
    rect = where(n_sma_threshold - rho_t, where(degenerated_to_sgd, lr / bc1 * m, 0), lr * rt / bc1 * m / den)
    step = where(rectify, rect, plain)
    return w - (w0 - step), m, var, vmax
'''


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


def _aida(params, h):
    from pytorch_optimizer import Aida  # noqa: PLC0415 - optional dependency

    return Aida(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), k=int(h["k"]), xi=h["xi"],
                weight_decay=h["weight_decay"], weight_decouple=bool(h["weight_decouple"]),
                fixed_decay=bool(h["fixed_decay"]), rectify=bool(h["rectify"]),
                n_sma_threshold=int(h["n_sma_threshold"]),
                degenerated_to_sgd=bool(h["degenerated_to_sgd"]),
                ams_bound=bool(h["ams_bound"]), eps=h["eps"])


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
    Entry(
        name="aida",
        source=AIDA,
        paper="On the Variance of Adaptive Optimizers: Aida",
        authors="Zhang et al.",
        year=2024,
        references=(Reference("pytorch_optimizer.Aida", _aida, requires="pytorch-optimizer"),),
        settings=(
            {},
            {"k": 3.0, "weight_decay": 0.01, "rectify": 1.0, "ams_bound": 1.0, "lr": 0.01},
            {"k": 1.0, "weight_decay": 0.1, "weight_decouple": 1.0, "rectify": 1.0,
             "degenerated_to_sgd": 0.0, "beta1": 0.8},
            {"k": 4.0, "weight_decay": 0.05, "weight_decouple": 1.0, "fixed_decay": 1.0,
             "beta2": 0.99},
            {"k": 0.0, "lr": 0.01},
            {"k": 7.0, "ams_bound": 1.0, "weight_decay": 0.01},
            {"k": 40.0, "lr": 0.01, "beta1": 0.5},
        ),
        notes="The package loops k times; each projection only rescales (pg stays a multiple "
              "of d, pm of m, and their coefficients swap), so the program takes the loop's "
              "closed form and covers every k (0, 1, 2, 3, 4, 7 and 40 verified). That form "
              "is exact for k <= 1; for k >= 2 the package adds xi to the squared norm in every "
              "projection, the closed form in the first only (where it guards 0 / 0), a "
              "relative difference of order xi / sum(pg^2) per projection: none at the "
              "default xi = 1e-20 (1e-15 in verify), 3e-9 on verify's problem with xi = 1e-8, "
              "so xi far above its default is not covered. As the package, eps is added to "
              "the stored second moment every step and again to its square root.",
    ),
)
