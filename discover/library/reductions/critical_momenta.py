"""Adam with Critical Momenta (Adam+CM): Adam whose momentum is augmented by the mean of a small
priority buffer of past momenta, verified against ``discover.references.critical_momenta.AdamCM``
(a plain loop written from the official ``Adam_CM``; no package has it).

The buffer has a fixed size C = 5 (the official ``topC`` default): five momentum-copy states
``b1..b5`` and five shape-() priorities ``p1..p5``. Which slot is filled or replaced is chosen
with ``where`` on scalar comparisons; the count of filled slots is ``min(t - 1, 5)``.
"""

from __future__ import annotations

from ..base import Entry, Reference

__all__ = ["ENTRIES"]

ADAM_CM = '''
def adam_cm(w, g, m, v, b1, b2, b3, b4, b5, p1, p2, p3, p4, p5, t, lr=0.001, beta1=0.9,
            beta2=0.999, eps=1e-08, decay=0.7, weight_decay=0.0):
    """Adam + Critical Momenta (official Adam_CM defaults: topC = 5, kappa = 1, synced).

    n = sum over the group of ||g||_2;  at t = 1 slot 1 stores g with priority n and m stays 0
    t > 1: m = interp(g, m, beta1);  m~ = m + mean(filled slots, as before this step)
           while the buffer fills (t <= 5) slot t stores m with priority n; once full (t > 5)
           m replaces the lowest-priority slot (the first on ties) when n > its priority
    v = interp(m~^2, v, beta2);  priorities *= decay
    update = lr * weight_decay * w + lr / (1 - beta1^t) * m~ / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    Malviya et al., "Promoting Exploration in Memory-Augmented Adam using Critical Momenta" (2024).
    """
    n = global_sum(norm(g))
    later = where(t - 1.5, 1, 0)
    m = where(later, interp(g, m, beta1), m)
    mt = m + (b1 + b2 + b3 + b4 + b5) / max(min(t - 1, 5), 1)
    new = where(later, m, g)
    lo = min(min(min(min(p1, p2), p3), p4), p5)
    swap = where(t - 5.5, 1, 0) * where(n - lo, 1, 0)
    s1 = where(p1 - lo, 0, 1)
    s2 = where(p2 - lo, 0, 1) * (1 - s1)
    s3 = where(p3 - lo, 0, 1) * (1 - s1 - s2)
    s4 = where(p4 - lo, 0, 1) * (1 - s1 - s2 - s3)
    s5 = where(p5 - lo, 0, 1) * (1 - s1 - s2 - s3 - s4)
    c1 = swap * s1 + where(0.5 - abs(t - 1), 1, 0)
    c2 = swap * s2 + where(0.5 - abs(t - 2), 1, 0)
    c3 = swap * s3 + where(0.5 - abs(t - 3), 1, 0)
    c4 = swap * s4 + where(0.5 - abs(t - 4), 1, 0)
    c5 = swap * s5 + where(0.5 - abs(t - 5), 1, 0)
    b1 = where(c1, new, b1)
    b2 = where(c2, new, b2)
    b3 = where(c3, new, b3)
    b4 = where(c4, new, b4)
    b5 = where(c5, new, b5)
    p1 = decay * where(c1, n, p1)
    p2 = decay * where(c2, n, p2)
    p3 = decay * where(c3, n, p3)
    p4 = decay * where(c4, n, p4)
    p5 = decay * where(c5, n, p5)
    v = interp(mt * mt, v, beta2)
    step = lr / (1 - beta1 ** t) * mt / (sqrt(v) / sqrt(1 - beta2 ** t) + eps)
    return (lr * weight_decay * w + step, m, v, b1, b2, b3, b4, b5, p1, p2, p3, p4, p5)
'''


def _adam_cm(params, h):
    from discover.references.critical_momenta import AdamCM  # noqa: PLC0415

    return AdamCM(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"],
                  decay=h["decay"], weight_decay=h["weight_decay"])


ENTRIES = (
    Entry(
        name="adam_cm",
        source=ADAM_CM,
        paper="Promoting Exploration in Memory-Augmented Adam using Critical Momenta",
        authors="Malviya et al.",
        year=2024,
        references=(Reference("discover.references.critical_momenta.AdamCM", _adam_cm),),
        settings=(
            {},
            {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "decay": 0.9, "weight_decay": 0.01},
            {"lr": 0.003, "beta1": 0.95, "beta2": 0.9, "eps": 1e-12, "decay": 0.5},
        ),
        notes="Follows the official Adam_CM where the paper's summary differs: the priority is "
              "the sum of the per-tensor gradient norms (synced), not the global L2 norm; the "
              "first step only stores the raw gradient (m stays 0, so there is no Adam step "
              "then) and t counts it; the mean is over the buffer before this step's insertion; "
              "weight decay is decoupled (w * (1 - lr wd)). Fixed buffer size topC = 5; kappa "
              "only switches CM on, so it is not a hyperparameter; critical_test = 0 (no random "
              "FIFO replacement).",
    ),
)
