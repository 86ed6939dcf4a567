"""MARS (approximate): AdamW or Lion on a clipped variance-reduced gradient
``c = g + gamma beta1 / (1 - beta1) (g - g_prev)``, as pytorch_optimizer.MARS.

Exact MARS takes the previous gradient on the current minibatch (a second backward pass at the
previous weights); the practical form here, the paper's and the package's, uses the gradient
of the previous step, kept as state.
"""

from __future__ import annotations

from ..base import Entry, Reference, betas

__all__ = ["ENTRIES"]

_MARS_BODY = '''
    mixed = where(optimize_1d, 1, ndim(g) - 1)
    c = g + gamma * beta1 / (1 - beta1) * (g - last_grad)
    c = c / max(norm(c), 1)
    d = where(mixed, c, g)
    b1 = where(mixed, beta1, beta1_1d)
    b2 = where(mixed, beta2, beta2_1d)
    m = interp(d, m, b1)
    v = interp(d * d, v, b2)
    adam = m / ((sqrt(v + 1e-15) + eps) / sqrt(1 - b2 ** t) * (1 - b1 ** t))
    lr_t = where(mixed, lr, lr * (lr_1d / lr))
    decay = where(mixed, weight_decay, weight_decay_1d)
'''

MARS = '''
def mars(w, g, m, v, last_grad, t, lr=0.003, beta1=0.95, beta2=0.99, gamma=0.025,
         optimize_1d=0.0, lr_1d=0.003, beta1_1d=0.9, beta2_1d=0.95, weight_decay=0.0,
         weight_decay_1d=0.1, eps=1e-08):
    """MARS-AdamW (approximate): AdamW on a clipped variance-reduced gradient.

    for tensors with 2 or more dims (all with optimize_1d):
        c = g + gamma * beta1 / (1 - beta1) * (g - g_prev);  c = c / max(||c||, 1)
    others: c = g with (lr_1d, beta1_1d, beta2_1d, weight_decay_1d)
    m = interp(c, m, beta1);  v = interp(c^2, v, beta2)
    update = lr * m / ((sqrt(v + 1e-15) + eps) / sqrt(1 - beta2^t) * (1 - beta1^t))
           + lr * weight_decay * w

    Yuan et al., "MARS: Unleashing the Power of Variance Reduction for Training Large Models"
    (2024).
    """''' + _MARS_BODY + '''
    return lr_t * adam + lr_t * decay * w, m, v, g
'''

MARS_LION = '''
def mars_lion(w, g, m, v, last_grad, t, lr=0.003, beta1=0.95, beta2=0.99, gamma=0.025,
              optimize_1d=0.0, lr_1d=0.003, beta1_1d=0.9, beta2_1d=0.95, weight_decay=0.0,
              weight_decay_1d=0.1, eps=1e-08):
    """MARS-Lion (approximate): the sign of a momentum of clipped variance-reduced gradients.

    for tensors with 2 or more dims (all with optimize_1d):
        c = g + gamma * beta1 / (1 - beta1) * (g - g_prev);  c = c / max(||c||, 1)
        m = interp(c, m, beta1);  update = lr * sign(m) + lr * weight_decay * w
    others: AdamW with (lr_1d, beta1_1d, beta2_1d, weight_decay_1d) as in mars

    Yuan et al., "MARS: Unleashing the Power of Variance Reduction for Training Large Models"
    (2024).
    """''' + _MARS_BODY + '''
    v = where(mixed, 0, v)
    return lr_t * where(mixed, sign(m), adam) + lr_t * decay * w, m, v, g
'''



def _mars(mars_type):
    def make(params, h):
        from pytorch_optimizer import MARS  # noqa: PLC0415 - optional dependency

        return MARS(params, lr=h["lr"], betas=betas(h), gamma=h["gamma"], mars_type=mars_type,
                    optimize_1d=bool(h["optimize_1d"]), lr_1d=h["lr_1d"],
                    betas_1d=betas(h, "beta1_1d", "beta2_1d"), weight_decay=h["weight_decay"],
                    weight_decay_1d=h["weight_decay_1d"], eps=h["eps"])

    return make



ENTRIES = (
    Entry(
        name="mars",
        source=MARS,
        paper="MARS: Unleashing the Power of Variance Reduction for Training Large Models",
        authors="Yuan et al.",
        year=2024,
        references=(
            Reference("pytorch_optimizer.MARS(mars_type='adamw')", _mars("adamw"),
                      requires="pytorch-optimizer"),
        ),
        settings=(
            {},
            {"lr": 0.01, "gamma": 0.1, "beta1": 0.9, "weight_decay": 0.01, "lr_1d": 0.01},
            {"optimize_1d": 1.0, "beta2": 0.95, "gamma": 0.05, "weight_decay_1d": 0.0},
        ),
        notes="Approximate MARS (the paper's practical form and the package's): the correction "
              "uses the previous step's gradient; exact MARS needs the gradient of the current "
              "minibatch at the previous weights (a second backward pass) and is not a "
              "one-gradient program. sqrt(v + 1e-15) as the package. Tensors with fewer than 2 "
              "dims use plain AdamW with their own lr_1d, betas_1d and weight_decay_1d unless "
              "optimize_1d.",
    ),
    Entry(
        name="mars_lion",
        source=MARS_LION,
        paper="MARS: Unleashing the Power of Variance Reduction for Training Large Models",
        authors="Yuan et al.",
        year=2024,
        references=(
            Reference("pytorch_optimizer.MARS(mars_type='lion')", _mars("lion"),
                      requires="pytorch-optimizer"),
        ),
        reference_overrides=("mars_type",),
        settings=(
            {},
            {"lr": 0.001, "gamma": 0.1, "beta1": 0.9, "weight_decay": 0.01},
            {"optimize_1d": 1.0, "lr": 0.0003, "gamma": 0.05, "weight_decay_1d": 0.0},
        ),
        notes="As mars, with Lion's sign step for matrices. The program keeps v at 0 for those "
              "tensors (the package skips the second moment there).",
    ),
)
