"""Parameter-free step sizes: Prodigy (D-Adaptation with a faster distance estimate) and
AdamG (a golden step size in Adam's numerator).

Prodigy keeps its distance estimate ``d`` and accumulators as group-level scalars (state of
shape ``()``) computed from group reductions. Conventions: ``growth_rate = 0`` stands for the
package's ``float('inf')`` and ``beta3 = 0`` for its ``None`` (``sqrt(beta2)``).
"""

from __future__ import annotations

from ..base import Entry, Reference

__all__ = ["ENTRIES"]

PRODIGY = '''
def prodigy(w, g, x0: w, m, v, s, d: d0, d_max: d0, num, t, lr=1.0, beta1=0.9, beta2=0.999,
            beta3=0.0, d0=1e-06, d_coef=1.0, growth_rate=0.0, weight_decay=0.0,
            bias_correction=0.0, safeguard_warmup=0.0, eps=1e-08):
    """Prodigy: Adam whose step size d * lr is a growing estimate of the distance to x*.

    b3 = beta3 or sqrt(beta2);  dlr = d * lr (/ ((1 - beta1^t) / sqrt(1 - beta2^t)) with
    bias_correction)
    num = b3 num + (d / d0) dlr <g, x0 - w>_glob
    m = beta1 m + d (1 - beta1) g;  v = beta2 v + d^2 (1 - beta2) g^2
    s = b3 s + (d / d0) (d if safeguard_warmup else dlr) g
    d_hat = d_coef num / ||s||_1,glob;  d_max = max(d_max, d_hat)
    d_new = min(d_max, (max(d, d_hat) if d = d0 else d) * growth_rate)
    update = dlr * weight_decay * w + dlr * m / (sqrt(v) + d_new * eps)

    Mishchenko & Defazio, "Prodigy: An Expeditiously Adaptive Parameter-Free Learner" (2024).
    """
    b3 = where(beta3, beta3, sqrt(beta2))
    bc = where(bias_correction, (1 - beta1 ** t) / sqrt(1 - beta2 ** t), 1)
    dlr = d * lr / bc
    num = b3 * num + d / d0 * dlr * global_dot(g, x0 - w)
    m = beta1 * m + d * (1 - beta1) * g
    v = beta2 * v + d * d * (1 - beta2) * (g * g)
    s = b3 * s + d / d0 * where(safeguard_warmup, d, dlr) * g
    d_hat = d_coef * num / global_sum(abs(s))
    d1 = where(abs(d - d0), d, max(d, d_hat))
    d_max = max(d_max, d_hat)
    d_new = where(growth_rate, min(d_max, d1 * growth_rate), d_max)
    update = dlr * weight_decay * w + dlr * m / (sqrt(v) + d_new * eps)
    return update, x0, m, v, s, d_new, d_max, num
'''

ADAMG = '''
def adamg(w, g, m, v, r, t, lr=1.0, beta1=0.95, beta2=0.999, beta3=0.95, p=0.2, q=0.24,
          weight_decay=0.0, weight_decouple=0.0, eps=1e-08):
    """AdamG: parameter-free Adam whose numerator carries a golden-step-size estimate.

    d = g + weight_decay * w (L2; decoupled: w decays by lr * weight_decay)
    v = beta2 v + (1 - beta2) d^2;  r = interp(p * v^q, r, beta3);  m = beta1 m + (1 - beta1) r d
    update = min(lr, 1 / sqrt(t)) / (1 - beta1^t) * m / (sqrt(v / (1 - beta2^t)) + eps)

    Pan et al., "Towards Stability of Parameter-free Optimization" (2024).
    """
    d = g + where(weight_decouple, 0, weight_decay) * w
    v = beta2 * v + (1 - beta2) * (d * d)
    r = interp(p * v ** q, r, beta3)
    m = beta1 * m + (1 - beta1) * (r * d)
    step = min(lr, 1 / sqrt(t)) / (1 - beta1 ** t)
    decay = where(weight_decouple, lr * weight_decay, 0)
    return decay * w + step * m / (sqrt(v / (1 - beta2 ** t)) + eps), m, v, r
'''


def _growth(h):
    return h["growth_rate"] or float("inf")


def _prodigy(params, h):
    from pytorch_optimizer import Prodigy  # noqa: PLC0415 - optional dependency

    return Prodigy(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), beta3=h["beta3"] or None,
                   d0=h["d0"], d_coef=h["d_coef"], growth_rate=_growth(h),
                   weight_decay=h["weight_decay"], bias_correction=bool(h["bias_correction"]),
                   safeguard_warmup=bool(h["safeguard_warmup"]), eps=h["eps"])


def _adamg(params, h):
    from pytorch_optimizer import AdamG  # noqa: PLC0415 - optional dependency

    opt = AdamG(params, lr=h["lr"], betas=(h["beta1"], h["beta2"], h["beta3"]), p=h["p"],
                q=h["q"], weight_decay=h["weight_decay"],
                weight_decouple=bool(h["weight_decouple"]), eps=h["eps"])
    return opt



ENTRIES = (
    Entry(
        name="prodigy",
        source=PRODIGY,
        paper="Prodigy: An Expeditiously Adaptive Parameter-Free Learner",
        authors="Mishchenko & Defazio",
        year=2024,
        references=(Reference("pytorch_optimizer.Prodigy", _prodigy,
                              requires="pytorch-optimizer"),),
        settings=(
            {},
            {"d0": 1e-3, "weight_decay": 0.01, "beta1": 0.8, "growth_rate": 1.05,
             "d_coef": 0.5},
            {"bias_correction": 1.0, "safeguard_warmup": 1.0, "beta3": 0.99, "d0": 0.01},
        ),
        notes="As the package (the prodigyopt structure): d moves only after its first "
              "change from d0 through d_max, the step uses the d of the previous step while "
              "eps is scaled by the new d, and the weight decay is decoupled. The package's "
              "eps=None (atan2 update) form is not covered.",
    ),
    Entry(
        name="adamg",
        source=ADAMG,
        paper="Towards Stability of Parameter-free Optimization",
        authors="Pan et al.",
        year=2024,
        references=(Reference("pytorch_optimizer.AdamG", _adamg, requires="pytorch-optimizer"),),
        settings=(
            {},
            {"lr": 0.1, "beta1": 0.9, "p": 0.5, "q": 0.3, "weight_decay": 0.01},
            {"beta3": 0.8, "weight_decay": 0.01, "weight_decouple": 1.0, "lr": 0.05},
        ),
        notes="As the package: the step size is min(lr, 1 / sqrt(t)) and the golden step "
              "size estimate r = interp(p v^q, r, beta3) multiplies the gradient inside m.",
    ),
)
