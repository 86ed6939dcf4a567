"""Step sizes from the loss value (Polyak-type): AliG, MoMo, MoMo-Adam, ALR-SMAG (the
generalized Polyak step with momentum) and SANIA's AdaGrad-SQR and Adam-SQR.

These programs read the ``loss`` input, the minibatch loss at the current weights; verify gives
their references the same loss through ``step(closure)``. Group-level scalars (averaged losses,
the online lower bound) are state of shape ``()``; inner products and norms are over every
tensor of the group.
"""

from __future__ import annotations

from ..base import Entry, Reference

__all__ = ["ENTRIES"]

ALIG = '''
def alig(w, g, b, loss, max_lr=0.0, momentum=0.0, adjusted_momentum=0.0):
    """AliG: a Polyak step with f* = 0, capped at max_lr, with Nesterov-type momentum.

    step = min(loss / (||g||_glob^2 + 1e-6), max_lr)   (no cap when max_lr = 0)
    b = momentum b - step g;  update = step g - momentum b
    (adjusted_momentum: b = momentum b - g;  update = step g - step momentum b)

    Berrada, Zisserman & Kumar, "Training Neural Networks for and by Interpolation" (2020).
    """
    step = loss / (global_sum(g * g) + 1e-06)
    step = where(max_lr, min(step, max_lr), step)
    b = where(adjusted_momentum, momentum * b - g, momentum * b - step * g)
    return step * g - where(adjusted_momentum, step * momentum, momentum) * b, b
'''

MOMO = '''
def momo(w, g, d, gam, fbar, fstar: lb, t, loss, lr=1.0, weight_decay=0.0, beta=0.9, lb=0.0,
         bias_correction=0.0, use_fstar=0.0):
    """MoMo: SGD with momentum and a step size from a model of the averaged losses.

    fbar, d, gam: EMAs (weight 1 - beta) of the loss, g and <g, w> (per tensor), started at
    their first values (at 0 with bias_correction, where rho = 1 - beta^t; else rho = 1)
    q = 1 + lr weight_decay;  h = q (fbar - rho fstar) + <d, w> - q gam   (sums over the group)
    tau = min(lr / rho, max(h, 0) / ||d||^2);  w_new = (w - tau d) / q;  update = w - w_new
    use_fstar: fstar is estimated online (reset to max(cap / (2 q rho), lb) when the model's
    value cap falls below q rho fstar; then max((fbar + <d, w> - gam - tau ||d||^2 / 2) / rho, lb))

    Schaipp et al., "MoMo: Momentum Models for Adaptive Learning Rates" (2024).
    """
    later = t - 1
    wg = sum(w * g)
    fbar = beta * where(later, fbar, where(bias_correction, 0, loss)) + (1 - beta) * loss
    d = beta * where(later, d, where(bias_correction, 0, g)) + (1 - beta) * g
    gam = beta * where(later, gam, where(bias_correction, 0, wg)) + (1 - beta) * wg
    rho = where(bias_correction, 1 - beta ** t, 1)
    wd_dot = global_sum(sum(w * d))
    gsum = global_sum(gam)
    dd = global_sum(sum(d * d))
    q = 1 + lr * weight_decay
    cap = q * fbar + wd_dot - q * gsum
    f1 = where(use_fstar, where(q * rho * fstar - cap, max(cap / (2 * q * rho), lb), fstar), fstar)
    tau = min(lr / rho, max(q * (fbar - rho * f1) + wd_dot - q * gsum, 0) / dd)
    f2 = where(use_fstar, max((fbar + wd_dot - gsum - 0.5 * tau * dd) / rho, lb), f1)
    return w - (w - tau * d) / q, d, gam, fbar, f2
'''

MOMO_ADAM = '''
def momo_adam(w, g, d, v, gam, fbar, fstar: lb, t, loss, lr=0.01, beta1=0.9, beta2=0.999,
              eps=1e-08, weight_decay=0.0, lb=0.0, divide=1.0, use_fstar=0.0):
    """MoMo-Adam: MoMo's step size in Adam's preconditioned geometry.

    d = interp(g, d, beta1);  v = interp(g^2, v, beta2);  gam = interp(<g, w>, gam, beta1);
    fbar = interp(loss, fbar, beta1)  (all from 0);  D = sqrt(v / (1 - beta2^t)) + eps
    q = 1 + lr weight_decay;  bc1 = 1 - beta1^t
    tau = min(lr / bc1, max(q (fbar - bc1 fstar) + <d, w> - q gam, 0) / <d, d / D>)
    w_new = (w - tau d / D) / q (divide), or w (1 - lr weight_decay) - tau d / D
    use_fstar: online lower bound as in momo (floored at 0)

    Schaipp et al., "MoMo: Momentum Models for Adaptive Learning Rates" (2024).
    """
    d = interp(g, d, beta1)
    v = beta2 * v + (1 - beta2) * (g * g)
    gam = interp(sum(w * g), gam, beta1)
    fbar = interp(loss, fbar, beta1)
    bc1 = 1 - beta1 ** t
    dk = sqrt(v / (1 - beta2 ** t)) + eps
    wd_dot = global_sum(sum(w * d))
    gsum = global_sum(gam)
    dd = global_sum(sum(d * (d / dk)))
    q = 1 + lr * weight_decay
    cap = q * fbar + wd_dot - q * gsum
    f1 = where(use_fstar, where(q * bc1 * fstar - cap, max(cap / (2 * q * bc1), 0), fstar), fstar)
    tau = min(lr / bc1, max(q * (fbar - bc1 * f1) + wd_dot - q * gsum, 0) / dd)
    f2 = where(use_fstar, max((fbar + wd_dot - gsum - 0.5 * tau * dd) / bc1, 0), f1)
    step = tau * (d / dk)
    w_new = where(divide, (w - step) / q, w * (1 - weight_decay * lr) - step)
    return w - w_new, d, v, gam, fbar, f2
'''

ALR_SMAG = '''
def alr_smag(w, g, d, loss, lr=0.1, weight_decay=0.0, beta=0.9, lb=0.0, c=1.0):
    """ALR-SMAG: a Polyak step size for SGD with heavy-ball momentum.

    d = beta d + g;  tau = min(lr, (loss - lb) / (c ||d||_glob^2))
    update = tau weight_decay w + tau d

    Wang, Johansson & Zhang, "Generalized Polyak Step Size for First Order Optimization with
    Momentum" (2023).
    """
    d = beta * d + g
    tau = min(lr, (loss - lb) / (c * global_sum(sum(d * d))))
    return tau * weight_decay * w + tau * d, d
'''

_SANIA_STEP = '''
    n = global_sum(sum(s * g))
    det = 1 - 2 * (loss / n)
    step = where(det, 1 - sqrt(max(det, 0)), 1)
'''

SANIA_ADAGRAD_SQR = '''
def sania_adagrad_sqr(w, g, acc, loss, lr=1.0, eps=0.1):
    """SANIA AdaGrad-SQR: a Polyak-type step preconditioned by AdaGrad's sum without sqrt.

    acc = acc + g^2;  s = g / max(acc, eps);  n = <g, s>_glob
    step = 1 - sqrt(1 - 2 loss / n) where 1 - 2 loss / n > 0, else 1
    update = lr * step * s

    Abdukhakimov et al., "SANIA: Polyak-type Optimization Framework Leads to Scale Invariant
    Stochastic Algorithms" (2023).
    """
    acc = acc + g * g
    s = g / max(acc, eps)''' + _SANIA_STEP + '''
    return lr * step * s, acc
'''

SANIA_ADAM_SQR = '''
def sania_adam_sqr(w, g, v, t, loss, lr=1.0, beta2=0.999, eps=0.1):
    """SANIA Adam-SQR: a Polyak-type step preconditioned by Adam's second moment without sqrt.

    v = beta2 v + (1 - beta2) g^2;  s = g / max(v / (1 - beta2^t), eps);  n = <g, s>_glob
    step = 1 - sqrt(1 - 2 loss / n) where 1 - 2 loss / n > 0, else 1
    update = lr * step * s

    Abdukhakimov et al., "SANIA: Polyak-type Optimization Framework Leads to Scale Invariant
    Stochastic Algorithms" (2023).
    """
    v = beta2 * v + (1 - beta2) * (g * g)
    s = g / max(v / (1 - beta2 ** t), eps)''' + _SANIA_STEP + '''
    return lr * step * s, v
'''


def _alig_kwargs(h):
    return dict(max_lr=h["max_lr"] or None, momentum=h["momentum"],
                adjusted_momentum=bool(h["adjusted_momentum"]))


def _alig(params, h):
    from discover.references.polyak import AliGPaper  # noqa: PLC0415

    return AliGPaper(params, **_alig_kwargs(h))


def _alig_po(params, h):
    from pytorch_optimizer import AliG  # noqa: PLC0415 - optional dependency

    return AliG(params, **_alig_kwargs(h))


def _momo(params, h):
    from discover.references.polyak import Momo  # noqa: PLC0415

    return Momo(params, lr=h["lr"], weight_decay=h["weight_decay"], beta=h["beta"], lb=h["lb"],
                bias_correction=bool(h["bias_correction"]), use_fstar=bool(h["use_fstar"]))


def _momo_adam(params, h):
    from discover.references.polyak import MomoAdam  # noqa: PLC0415

    return MomoAdam(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"],
                    weight_decay=h["weight_decay"], lb=h["lb"], divide=bool(h["divide"]),
                    use_fstar=bool(h["use_fstar"]))


def _alr_smag(params, h):
    from discover.references.polyak import AlrSmag  # noqa: PLC0415

    return AlrSmag(params, lr=h["lr"], weight_decay=h["weight_decay"], beta=h["beta"],
                   lb=h["lb"], c=h["c"])


def _sania_adagrad(params, h):
    from discover.references.polyak import SaniaSQR  # noqa: PLC0415

    return SaniaSQR(params, lr=h["lr"], eps=h["eps"])


def _sania_adam(params, h):
    from discover.references.polyak import SaniaSQR  # noqa: PLC0415

    return SaniaSQR(params, lr=h["lr"], beta2=h["beta2"], eps=h["eps"])


_MOMO = "MoMo: Momentum Models for Adaptive Learning Rates"
_SANIA = ("SANIA: Polyak-type Optimization Framework Leads to Scale Invariant Stochastic "
          "Algorithms")

ENTRIES = (
    Entry(
        name="alig",
        source=ALIG,
        paper="Training Neural Networks for and by Interpolation",
        authors="Berrada, Zisserman & Kumar",
        year=2020,
        references=(
            Reference("discover.references.polyak.AliGPaper (paper form)", _alig),
            Reference("pytorch_optimizer.AliG", _alig_po, "pytorch-optimizer", tolerance=1e-6,
                      tolerance_note="the package sums the squared gradient norms in float32 "
                                     "(get_global_gradient_norm), so the step size carries "
                                     "float32 rounding"),
        ),
        settings=(
            {},
            {"max_lr": 0.1, "momentum": 0.9},
            {"max_lr": 0.05, "momentum": 0.5, "adjusted_momentum": 1.0},
        ),
        notes="f* = 0 as in the paper; max_lr = 0 means no cap (the package's None). The "
              "reference keeps the squared global norm in float64; pytorch_optimizer.AliG is "
              "also checked, at 1e-6.",
    ),
    Entry(
        name="momo",
        source=MOMO,
        paper=_MOMO,
        authors="Schaipp et al.",
        year=2024,
        references=(Reference("discover.references.polyak.Momo (paper form)", _momo),),
        settings=(
            {},
            {"lr": 0.5, "beta": 0.8, "weight_decay": 0.01, "bias_correction": 1.0},
            {"lr": 2.0, "use_fstar": 1.0, "lb": -5.0, "weight_decay": 0.001},
        ),
        notes="The paper's Algorithm (and the authors' momo package): decoupled weight decay "
              "as a proximal division by 1 + lr wd; use_fstar estimates the lower bound "
              "online, floored at lb. No torch or pytorch_optimizer class implements it.",
    ),
    Entry(
        name="momo_adam",
        source=MOMO_ADAM,
        paper=_MOMO,
        authors="Schaipp et al.",
        year=2024,
        references=(Reference("discover.references.polyak.MomoAdam (paper form)", _momo_adam),),
        settings=(
            {},
            {"lr": 0.05, "beta1": 0.8, "weight_decay": 0.01},
            {"lr": 1.0, "use_fstar": 1.0, "weight_decay": 0.01, "divide": 0.0, "beta2": 0.99},
        ),
        notes="As the authors' MomoAdam: all averages start at 0 and are bias corrected by "
              "1 - beta1^t through the cap and the lower bound; divide = 0 gives AdamW-style "
              "decay. The online lower bound is floored at 0 (not at lb).",
    ),
    Entry(
        name="alr_smag",
        source=ALR_SMAG,
        paper="Generalized Polyak Step Size for First Order Optimization with Momentum",
        authors="Wang, Johansson & Zhang",
        year=2023,
        references=(Reference("discover.references.polyak.AlrSmag (paper form)", _alr_smag),),
        settings=(
            {},
            {"lr": 0.5, "beta": 0.5, "c": 2.0},
            {"lr": 0.05, "weight_decay": 0.01, "lb": -1.0, "c": 0.5},
        ),
        notes="ALR-SMAG, the paper's Polyak step for SGD with (unnormalised) heavy-ball "
              "momentum d = beta d + g, capped at lr; decoupled decay scaled by the step. The "
              "paper's other variants (for averaged momentum forms) differ in the constants.",
    ),
    Entry(
        name="sania_adagrad_sqr",
        source=SANIA_ADAGRAD_SQR,
        paper=_SANIA,
        authors="Abdukhakimov et al.",
        year=2023,
        references=(
            Reference("discover.references.polyak.SaniaSQR (paper form, AdaGrad-SQR)",
                      _sania_adagrad),
        ),
        settings=({}, {"lr": 0.5, "eps": 1.0}, {"lr": 0.2, "eps": 0.01}),
        notes="The step 1 - sqrt(1 - 2 f / ||g||^2_{B^-1}) zeroes the quadratic model "
              "f + <g, s> + ||s||_B^2 / 2 (1 when it has no root), as in the authors' "
              "SANIA_AdagradSQR; B = max(sum g^2, eps) elementwise, without the square root "
              "(the scale-invariant choice). lr = 1 is the paper's method.",
    ),
    Entry(
        name="sania_adam_sqr",
        source=SANIA_ADAM_SQR,
        paper=_SANIA,
        authors="Abdukhakimov et al.",
        year=2023,
        references=(
            Reference("discover.references.polyak.SaniaSQR (paper form, Adam-SQR)", _sania_adam),
        ),
        settings=({}, {"lr": 0.5, "beta2": 0.99, "eps": 1.0}, {"lr": 0.2, "eps": 0.01}),
        notes="As sania_adagrad_sqr with B = max(v / (1 - beta2^t), eps), v an EMA of g^2; "
              "like the authors' SANIA_AdamSQR there is no first moment.",
    ),
)
