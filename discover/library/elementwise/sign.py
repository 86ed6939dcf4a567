"""Sign-based rules: signSGD, Signum, Tiger, Lion, Lion with a cautious mask, FOCUS, Ano and
Rprop.

Each moves every coordinate by (a multiple of) a step size in the direction of a sign: of the
gradient (signSGD), of a momentum (Signum, Tiger), of Lion's interpolation of gradient and
momentum (Lion; C-Lion masks it where it disagrees with the gradient), plus an attraction to a
running average of the weights (FOCUS), or with the gradient's magnitude over a Yogi-style second
moment (Ano). Rprop keeps one step size per coordinate that grows while the gradient keeps its
sign and shrinks when it flips.

References: the ``pytorch_optimizer`` classes named in each entry, and ``torch.optim.Rprop``.
Weight decay, where a rule has it, is decoupled (``lr * weight_decay * w``), the packages'
default (Rprop has none).
"""

from __future__ import annotations

import torch

from .. import signatures
from ..base import Entry, Reference, po_class

__all__ = ["ENTRIES"]

SIGNSGD = '''
def signsgd(w, g, lr=0.001, weight_decay=0.0):
    """signSGD: a step of lr against the sign of each gradient coordinate.

    update = lr * (sign(g) + weight_decay * w)

    Bernstein, Wang, Azizzadenesheli & Anandkumar, "signSGD: Compressed Optimisation for
    Non-Convex Problems" (ICML 2018).
    """
    return lr * (sign(g) + weight_decay * w)
'''

SIGNUM = '''
def signum(w, g, m, lr=0.001, momentum=0.9, weight_decay=0.0):
    """Signum: signSGD on an exponential moving average of the gradient.

    m = interp(g, m, momentum);  update = lr * (sign(m) + weight_decay * w)

    Bernstein, Wang, Azizzadenesheli & Anandkumar, "signSGD: Compressed Optimisation for
    Non-Convex Problems" (ICML 2018).
    """
    m = interp(g, m, momentum)
    return lr * (sign(m) + weight_decay * w), m
'''

TIGER = '''
def tiger(w, g, m, lr=0.001, beta=0.965, weight_decay=0.01):
    """Tiger: the sign of a gradient EMA, one state tensor (Signum with Tiger's defaults).

    m = interp(g, m, beta);  update = lr * (sign(m) + weight_decay * w)

    Su, "Tiger: A Tight-fisted Optimizer" (2023, github.com/bojone/tiger).
    """
    m = interp(g, m, beta)
    return lr * (sign(m) + weight_decay * w), m
'''

LION = '''
def lion(w, g, m, lr=0.0001, beta1=0.9, beta2=0.99, weight_decay=0.0):
    """Lion: EvoLved Sign Momentum.

    update = lr * (sign(interp(g, m, beta1)) + weight_decay * w);  m = interp(g, m, beta2)

    Chen et al., "Symbolic Discovery of Optimization Algorithms" (2023).
    """
    u = sign(interp(g, m, beta1))
    m = interp(g, m, beta2)
    return lr * (u + weight_decay * w), m
'''

CAUTIOUS_LION = '''
def cautious_lion(w, g, m, lr=0.0001, beta1=0.9, beta2=0.99, weight_decay=0.0):
    """C-Lion: Lion whose update is zeroed where it disagrees in sign with the gradient.

    u = sign(interp(g, m, beta1));  mask = 1 where u * g > 0, else 0
    u = u * mask * numel / (sum(mask) + 1)   (the surviving coordinates are scaled up)
    m = interp(g, m, beta2);  update = lr * (u + weight_decay * w)

    Liang, Chen, Liu & Liu, "Cautious Optimizers: Improving Training with One Line of Code"
    (2024); Lion: Chen et al., "Symbolic Discovery of Optimization Algorithms" (2023).
    """
    u = sign(interp(g, m, beta1))
    mask = where(u * g, 1, 0)
    u = u * mask * numel(mask) / (sum(mask) + 1)
    m = interp(g, m, beta2)
    return lr * (u + weight_decay * w), m
'''

FOCUS = '''
def focus(w, g, m, pbar, t, lr=0.01, beta1=0.9, beta2=0.999, gamma=0.1, weight_decay=0.0):
    """FOCUS: sign momentum plus a sign attraction towards the running average of the weights.

    m = interp(g, m, beta1);  pbar = interp(w, pbar, beta2);  p = pbar / (1 - beta2^t)
    w' = w - lr * weight_decay * p   (decay towards the average, not towards zero)
    update = lr * weight_decay * p + lr * (gamma * sign(w' - p) + sign(m))
    at t = 1, p = w in exact arithmetic: the attraction is 0 there (not the sign of a rounding
    error)

    Liu et al., "FOCUS: First Order Concentrated Updating Scheme" (2025).
    """
    m = interp(g, m, beta1)
    pbar = interp(w, pbar, beta2)
    p = pbar / (1 - beta2 ** t)
    decay = lr * weight_decay * p
    attraction = where(t - 1, sign(w - decay - p), 0)
    return decay + lr * (gamma * attraction + sign(m)), m, pbar
'''

ANO = '''
def ano(w, g, m, v, t, lr=0.0001, beta1=0.92, beta2=0.99, eps=1e-08, weight_decay=0.0,
        logarithmic_schedule=0.0):
    """Ano: the gradient's magnitude with the momentum's sign, over a Yogi-style second moment.

    beta1_t = 1 - 1 / log(max(t, 2)) with logarithmic_schedule, else beta1
    m = interp(g, m, beta1_t);  v = beta2 v + (1 - beta2) sign(g^2 - v) g^2
    update = lr |g| sign(m) / (sqrt(v / (1 - beta2^t)) + eps) + lr * weight_decay * w

    Kegreisz, "Ano: Faster is Better in Noisy Landscapes" (2025).
    """
    b1 = where(logarithmic_schedule, 1 - 1 / log(max(t, 2)), beta1)
    m = interp(g, m, b1)
    g2 = g * g
    v = beta2 * v + (1 - beta2) * sign(g2 - v) * g2
    den = sqrt(v / (1 - beta2 ** t)) + eps
    return lr * abs(g) * sign(m) / den + lr * weight_decay * w, m, v
'''

RPROP = '''
def rprop(w, g, prev, step_size: lr, lr=0.01, etaminus=0.5, etaplus=1.2, step_size_min=1e-06,
          step_size_max=50.0):
    """Rprop: per-coordinate step sizes that grow while the gradient keeps its sign.

    s = sign(g * prev);  step_size *= etaplus where s > 0, etaminus where s < 0
    step_size = clamp(step_size, step_size_min, step_size_max)  (it starts at lr)
    where s < 0 the gradient is set to 0 (no step, and no sign change is seen next time)
    update = sign(g) * step_size;  prev = g

    Riedmiller & Braun, "A Direct Adaptive Method for Faster Backpropagation Learning: The
    RPROP Algorithm" (1993); torch.optim.Rprop's variant (iRprop-).
    """
    s = sign(g * prev)
    factor = where(s, etaplus, where(-s, etaminus, 1))
    step_size = clamp(step_size * factor, step_size_min, step_size_max)
    g = where(-s, 0, g)
    return sign(g) * step_size, g, step_size
'''


def _signsgd(params, h):
    return po_class("SignSGD")(params, lr=h["lr"], momentum=0.0, weight_decay=h["weight_decay"])


def _signum(params, h):
    return po_class("SignSGD")(params, lr=h["lr"], momentum=h["momentum"],
                               weight_decay=h["weight_decay"])


def _tiger(params, h):
    return po_class("Tiger")(params, lr=h["lr"], beta=h["beta"], weight_decay=h["weight_decay"])


def _lion(params, h):
    from pytorch_optimizer import Lion  # noqa: PLC0415 - optional dependency

    return Lion(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]),
                weight_decay=h["weight_decay"])


def _cautious_lion(params, h):
    return po_class("Lion")(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]),
                            weight_decay=h["weight_decay"], cautious=True)


def _focus(params, h):
    from discover.references.elementwise import FocusPaper  # noqa: PLC0415

    return FocusPaper(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), gamma=h["gamma"],
                      weight_decay=h["weight_decay"])


def _ano(params, h):
    opt = po_class("Ano")(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"],
                          weight_decay=h["weight_decay"],
                          logarithmic_schedule=bool(h["logarithmic_schedule"]))
    return opt


def _rprop(params, h):
    return torch.optim.Rprop(params, lr=h["lr"], etas=(h["etaminus"], h["etaplus"]),
                             step_sizes=(h["step_size_min"], h["step_size_max"]))


ENTRIES = (
    Entry(
        name="signsgd",
        source=SIGNSGD,
        paper="signSGD: Compressed Optimisation for Non-Convex Problems",
        authors="Bernstein, Wang, Azizzadenesheli & Anandkumar",
        year=2018,
        references=(
            Reference("pytorch_optimizer.SignSGD(momentum=0)", _signsgd,
                      requires="pytorch-optimizer"),
        ),
        settings=({}, {"lr": 0.01, "weight_decay": 0.1}, {"lr": 0.0003, "weight_decay": 1.0}),
        reference_overrides=("momentum",),
        notes="Decoupled weight decay (not in the paper), pytorch_optimizer's default.",
    ),
    Entry(
        name="signum",
        source=SIGNUM,
        paper="signSGD: Compressed Optimisation for Non-Convex Problems",
        authors="Bernstein, Wang, Azizzadenesheli & Anandkumar",
        year=2018,
        references=(
            Reference("pytorch_optimizer.SignSGD", _signum, requires="pytorch-optimizer"),
        ),
        settings=(
            {},
            {"lr": 0.01, "momentum": 0.5, "weight_decay": 0.1},
            {"lr": 0.0003, "momentum": 0.99, "weight_decay": 1.0},
        ),
        notes="The momentum is an EMA (1 - momentum) g + momentum m, as in the paper's Signum.",
    ),
    Entry(
        name="tiger",
        source=TIGER,
        paper="Tiger: A Tight-fisted Optimizer",
        authors="Su",
        year=2023,
        references=(Reference("pytorch_optimizer.Tiger", _tiger, requires="pytorch-optimizer"),),
        settings=(
            {},
            {"lr": 0.01, "beta": 0.9, "weight_decay": 0.0},
            {"lr": 0.0003, "beta": 0.99, "weight_decay": 0.5},
        ),
        notes="Same rule as Signum; Tiger's defaults (beta 0.965, decoupled weight decay 0.01).",
    ),
    Entry(
        name="lion",
        source=LION,
        paper="Symbolic Discovery of Optimization Algorithms",
        authors="Chen et al.",
        year=2023,
        references=(Reference("pytorch_optimizer.Lion", _lion, requires="pytorch-optimizer"),),
        settings=(
            {},
            {"lr": 0.001, "beta1": 0.95, "beta2": 0.98, "weight_decay": 0.1},
            {"lr": 0.0003, "beta1": 0.5, "beta2": 0.999, "weight_decay": 1.0},
        ),
        notes="The paper's program; decoupled weight decay scaled by lr (the paper's lambda). "
              "Use an lr 3-10x smaller than AdamW's and a weight decay 3-10x larger.",
    ),
    Entry(
        name="cautious_lion",
        source=CAUTIOUS_LION,
        paper="Cautious Optimizers: Improving Training with One Line of Code",
        authors="Liang, Chen, Liu & Liu",
        year=2024,
        references=(
            Reference("pytorch_optimizer.Lion(cautious=True)", _cautious_lion,
                      requires="pytorch-optimizer"),
        ),
        settings=(
            {},
            {"lr": 0.001, "beta1": 0.95, "beta2": 0.98, "weight_decay": 0.1},
            {"lr": 0.0003, "beta1": 0.5, "beta2": 0.999, "weight_decay": 1.0},
        ),
        notes="The mask is rescaled by numel / (count + 1), the official code's form (the +1 "
              "keeps an all-zero mask finite); weight decay is applied outside the mask.",
    ),
    Entry(
        name="focus",
        source=FOCUS,
        paper="FOCUS: First Order Concentrated Updating Scheme",
        authors="Liu et al.",
        year=2025,
        references=(Reference("discover.references.elementwise.FocusPaper", _focus),),
        settings=(
            {},
            {"lr": 0.003, "beta1": 0.8, "beta2": 0.99, "gamma": 0.3, "weight_decay": 0.1},
            {"lr": 0.001, "beta1": 0.95, "beta2": 0.9, "gamma": 0.0},
        ),
        notes="The weight decay pulls w towards the bias-corrected average p (not towards 0) "
              "before the sign of w - p is taken, as pytorch_optimizer.FOCUS does. At t = 1 the "
              "average equals w, so w - p = 0 in exact arithmetic: the program and its paper-form "
              "reference set the attraction to 0 there. "
              "pytorch_optimizer.FOCUS divides pbar by 1 - beta2^t and takes the sign of the "
              "rounding error, +-1 on a rounding-dependent subset of coordinates at step 1 "
              "(an offset of up to 2 gamma lr per coordinate), so it is not a 1e-10 reference.",
    ),
    Entry(
        name="ano",
        source=ANO,
        paper="Ano: Faster is Better in Noisy Landscapes",
        authors="Kegreisz",
        year=2025,
        references=(Reference("pytorch_optimizer.Ano", _ano, requires="pytorch-optimizer"),),
        settings=(
            {},
            {"lr": 0.001, "beta1": 0.8, "beta2": 0.999, "weight_decay": 0.1},
            {"lr": 0.0003, "beta2": 0.9, "eps": 1e-12, "logarithmic_schedule": 1.0},
        ),
        notes="logarithmic_schedule (Anolog) replaces beta1 by 1 - 1 / log(max(t, 2)), "
              "pytorch_optimizer's schedule (a summary of the paper writes 1 - 1 / log(t + 2); "
              "not checked against the paper text). Decoupled weight decay.",
    ),
    Entry(
        name="rprop",
        signature=signatures.RPROP,
        source=RPROP,
        paper="A Direct Adaptive Method for Faster Backpropagation Learning: The RPROP Algorithm",
        authors="Riedmiller & Braun",
        year=1993,
        references=(Reference("torch.optim.Rprop", _rprop),),
        settings=(
            {},
            {"lr": 0.001, "etaminus": 0.3, "etaplus": 1.5},
            {"lr": 0.05, "step_size_min": 0.01, "step_size_max": 0.1},
        ),
        notes="torch's variant: after a sign change the gradient is zeroed (no weight "
              "backtracking, as in iRprop-). If etaminus were 1, torch would also zero the "
              "gradient where the sign product is 0; the program only where it is negative.",
    ),
)
