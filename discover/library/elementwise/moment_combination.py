"""Adam variants that change how the moments become an update: Grams, ADOPT, cautious AdamW
and ADOPT, LaProp, EXAdam and DualAdam.

Grams keeps Adam's magnitude with the gradient's sign; ADOPT normalises the gradient by the
previous second moment before the momentum; the cautious variants mask coordinates where update
and gradient disagree; LaProp normalises before the momentum too; EXAdam corrects both moments
with cross terms; DualAdam blends Adam with its inverse early in training.

References: the ``pytorch_optimizer`` classes named in each entry; a paper-form reference for
C-AdamW (``discover.references.elementwise.CautiousAdamW``), which no package has.
"""

from __future__ import annotations

from ..base import Entry, Reference, betas, po_class

__all__ = ["ENTRIES"]

GRAMS = '''
def grams(w, g, m, v, t, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-06, weight_decay=0.0):
    """Grams: Adam's update magnitude with the sign of the current gradient.

    m = interp(g, m, beta1);  v = interp(g^2, v, beta2)
    u = m / (1 - beta1^t) / (sqrt(v / (1 - beta2^t)) + eps)
    update = lr * sign(g) * |u| + lr * weight_decay * w

    Cao, Li & Song, "Grams: Gradient Descent with Adaptive Momentum Scaling" (2024).
    """
    m = interp(g, m, beta1)
    v = interp(g * g, v, beta2)
    u = m / (1 - beta1 ** t) / (sqrt(v) / sqrt(1 - beta2 ** t) + eps)
    return lr * sign(g) * abs(u) + lr * weight_decay * w, m, v
'''

ADOPT = '''
def adopt(w, g, m, v, t, lr=0.001, beta1=0.9, beta2=0.9999, eps=1e-06, weight_decay=0.0,
          weight_decouple=0.0):
    """ADOPT: normalise by the previous second moment, then take momentum; no step at t = 1.

    d = g + weight_decay * w (L2; with weight_decouple, w decays by lr * weight_decay instead)
    t = 1: v = d^2, no update.  t > 1: n = clip(d / max(sqrt(v), eps), t^(1/4))
    m = interp(n, m, beta1);  update = lr * m;  then v = interp(d^2, v, beta2)

    Taniguchi et al., "ADOPT: Modified Adam Can Converge with Any beta2 with the Optimal Rate"
    (NeurIPS 2024).
    """
    d = g + where(weight_decouple, 0, weight_decay) * w
    n = clip(d / max(sqrt(v), eps), t ** 0.25)
    m = where(t - 1, interp(n, m, beta1), m)
    decay = where(weight_decouple, lr * weight_decay, 0) * w
    v = where(t - 1, interp(d * d, v, beta2), d * d)
    return where(t - 1, lr * m, 0) + decay, m, v
'''

CAUTIOUS_ADOPT = '''
def cautious_adopt(w, g, m, v, t, lr=0.001, beta1=0.9, beta2=0.9999, eps=1e-06,
                   weight_decay=0.0):
    """C-ADOPT: ADOPT whose update is masked where it disagrees with the normalised gradient.

    d = g + weight_decay * w;  t = 1: v = d^2, no update
    t > 1: n = clip(d / max(sqrt(v), eps), t^(1/4));  m = interp(n, m, beta1)
    mask = 1[m n > 0];  update = lr * m * mask * numel / (sum(mask) + 1)
    then v = interp(d^2, v, beta2)

    Liang, Chen, Liu & Liu, "Cautious Optimizers: Improving Training with One Line of Code"
    (2024); Taniguchi et al., "ADOPT" (NeurIPS 2024).
    """
    d = g + weight_decay * w
    n = clip(d / max(sqrt(v), eps), t ** 0.25)
    m = where(t - 1, interp(n, m, beta1), m)
    mask = where(m * n, 1, 0)
    u = m * mask * numel(mask) / (sum(mask) + 1)
    v = where(t - 1, interp(d * d, v, beta2), d * d)
    return where(t - 1, lr * u, 0), m, v
'''

CAUTIOUS_ADAMW = '''
def cautious_adamw(w, g, m, v, t, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08,
                   weight_decay=0.01):
    """C-AdamW: AdamW whose update is masked where it disagrees in sign with the gradient.

    m = interp(g, m, beta1);  v = interp(g^2, v, beta2)
    u = m / (1 - beta1^t) / (sqrt(v / (1 - beta2^t)) + eps);  mask = 1[u g > 0]
    update = lr * (u * mask * numel / (sum(mask) + 1) + weight_decay * w)

    Liang, Chen, Liu & Liu, "Cautious Optimizers: Improving Training with One Line of Code"
    (2024).
    """
    m = interp(g, m, beta1)
    v = interp(g * g, v, beta2)
    u = m / (1 - beta1 ** t) / (sqrt(v / (1 - beta2 ** t)) + eps)
    mask = where(u * g, 1, 0)
    return lr * (u * mask * numel(mask) / (sum(mask) + 1) + weight_decay * w), m, v
'''

LAPROP = '''
def laprop(w, g, m, v, t, lr=0.0004, beta1=0.9, beta2=0.999, eps=1e-15, weight_decay=0.0):
    """LaProp: momentum of the RMS-normalised gradient (normalise first, then average).

    v = interp(g^2, v, beta2);  den = (sqrt(v + 1e-15) + eps) / sqrt(1 - beta2^t)
    m = beta1 m + (1 - beta1) lr g / den;  step = m / (1 - beta1^t)
    update = step + lr * weight_decay * (w - step)   (decay after the step)

    Ziyin, Wang & Ueda, "LaProp: Separating Momentum and Adaptivity in Adam" (2020).
    """
    v = interp(g * g, v, beta2)
    den = (sqrt(v + 1e-15) + eps) / sqrt(1 - beta2 ** t)
    m = beta1 * m + (1 - beta1) * lr * g / den
    step = m / (1 - beta1 ** t)
    return step + lr * weight_decay * (w - step), m, v
'''

EXADAM = '''
def exadam(w, g, m, v, t, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08, weight_decay=0.0):
    """EXAdam: Adam with cross-moment corrections of both moments and a gradient term.

    m = interp(g, m, beta1);  v = interp(g^2, v, beta2);  b1 = 1 - beta1^t;  b2 = 1 - beta2^t
    d1 = 1 + (1 - b2) v / (v + eps);  d2 = 1 + (1 - b1) m^2 / (m^2 + eps)
    update = lr (m / b1 + g / b1) d1 / (sqrt(d2 v / b2) + eps) + lr * weight_decay * w

    Adly, "EXAdam: The Power of Adaptive Cross-Moments" (2024).
    """
    m = interp(g, m, beta1)
    v = interp(g * g, v, beta2)
    b1 = 1 - beta1 ** t
    b2 = 1 - beta2 ** t
    d1 = 1 + (1 - b2) * v / (v + eps)
    d2 = 1 + (1 - b1) * (m * m) / (m * m + eps)
    num = m / b1 * d1 + d1 * (g / b1)
    return lr * num / (sqrt(d2 * (v / b2)) + eps) + lr * weight_decay * w, m, v
'''

DUALADAM = '''
def dualadam(w, g, m, v, t, lr=0.001, beta1=0.9, beta2=0.999, switch_rate=0.01, eps=1e-08,
             weight_decay=0.0):
    """DualAdam: Adam blended with its inverse (m * den), the blend fading out linearly.

    d = g + weight_decay * w;  m = interp(d, m, beta1);  v = interp(d^2, v, beta2)
    den = sqrt(v / (1 - beta2^t)) + eps;  r = max(0, 1 - t * switch_rate)
    update = lr m / (1 - beta1^t) * ((1 - r) / den + r den) while r >= switch_rate,
             else Adam's lr m / (1 - beta1^t) / den

    "Combining Adam and its Inverse Counterpart to Enhance Generalization of Deep Learning
    Optimizers" (2026, arXiv:2603.07122).
    """
    d = g + weight_decay * w
    m = interp(d, m, beta1)
    v = interp(d * d, v, beta2)
    den = sqrt(v / (1 - beta2 ** t)) + eps
    r = max(0, 1 - t * switch_rate)
    scale = where(switch_rate - r, 1 / den, interp(1 / den, den, r))
    return lr * (m / (1 - beta1 ** t)) * scale, m, v
'''


def _grams(params, h):
    return po_class("Grams")(params, lr=h["lr"], betas=betas(h), eps=h["eps"],
                             weight_decay=h["weight_decay"])


def _adopt(params, h):
    return po_class("ADOPT")(params, lr=h["lr"], betas=betas(h), eps=h["eps"],
                             weight_decay=h["weight_decay"],
                             weight_decouple=bool(h["weight_decouple"]))


def _cautious_adopt(params, h):
    return po_class("ADOPT")(params, lr=h["lr"], betas=betas(h), eps=h["eps"],
                             weight_decay=h["weight_decay"], cautious=True)


def _cautious_adamw(params, h):
    from discover.references.elementwise import CautiousAdamW  # noqa: PLC0415

    return CautiousAdamW(params, lr=h["lr"], betas=betas(h), eps=h["eps"],
                         weight_decay=h["weight_decay"])


def _laprop(params, h):
    return po_class("LaProp")(params, lr=h["lr"], betas=betas(h), eps=h["eps"],
                              weight_decay=h["weight_decay"], foreach=False)


def _exadam(params, h):
    return po_class("EXAdam")(params, lr=h["lr"], betas=betas(h), eps=h["eps"],
                              weight_decay=h["weight_decay"])


def _dualadam(params, h):
    return po_class("DualAdam")(params, lr=h["lr"], betas=betas(h), switch_rate=h["switch_rate"],
                                eps=h["eps"], weight_decay=h["weight_decay"])


_ADAM_LIKE = (
    {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.01},
    {"lr": 0.003, "beta1": 0.95, "beta2": 0.9, "eps": 1e-12},
)
_ADOPT = "ADOPT: Modified Adam Can Converge with Any beta2 with the Optimal Rate"
_CAUTIOUS = "Cautious Optimizers: Improving Training with One Line of Code"
_CAUTIOUS_AUTHORS = "Liang, Chen, Liu & Liu"

ENTRIES = (
    Entry(
        name="grams",
        source=GRAMS,
        paper="Grams: Gradient Descent with Adaptive Momentum Scaling",
        authors="Cao, Li & Song",
        year=2024,
        references=(Reference("pytorch_optimizer.Grams", _grams, requires="pytorch-optimizer"),),
        settings=({}, {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.1},
                  {"lr": 0.003, "beta1": 0.95, "beta2": 0.9, "eps": 1e-10}),
        notes="Decoupled weight decay. (pytorch_optimizer's weight_decouple=False adds the "
              "decay to the gradient after the update is computed, i.e. not at all.)",
    ),
    Entry(
        name="adopt",
        source=ADOPT,
        paper=_ADOPT,
        authors="Taniguchi et al.",
        year=2024,
        references=(Reference("pytorch_optimizer.ADOPT", _adopt, requires="pytorch-optimizer"),),
        settings=({}, {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.01},
                  {"lr": 0.003, "beta2": 0.999, "eps": 1e-3, "weight_decay": 0.1,
                   "weight_decouple": 1.0}),
        notes="As the official code: the clip is t^(1/4), the denominator max(sqrt(v), "
              "eps), and the weights still decay at t = 1 (decoupled) although no step is "
              "taken.",
    ),
    Entry(
        name="cautious_adopt",
        source=CAUTIOUS_ADOPT,
        paper=_CAUTIOUS,
        authors=_CAUTIOUS_AUTHORS,
        year=2024,
        references=(
            Reference("pytorch_optimizer.ADOPT(cautious=True)", _cautious_adopt,
                      requires="pytorch-optimizer"),
        ),
        settings=({}, {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.01},
                  {"lr": 0.003, "beta2": 0.999, "eps": 1e-3}),
        notes="The mask compares the momentum with the normalised gradient n, as "
              "pytorch_optimizer does; rescaled by numel / (count + 1). L2 weight decay.",
    ),
    Entry(
        name="cautious_adamw",
        source=CAUTIOUS_ADAMW,
        paper=_CAUTIOUS,
        authors=_CAUTIOUS_AUTHORS,
        year=2024,
        references=(Reference("discover.references.elementwise.CautiousAdamW", _cautious_adamw),),
        settings=({}, {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.1},
                  {"lr": 0.003, "beta1": 0.95, "beta2": 0.9, "eps": 1e-12,
                   "weight_decay": 0.0}),
        notes="torch.optim.AdamW's form (eps added to the bias-corrected sqrt(v)) with the "
              "paper's one-line mask, rescaled by numel / (count + 1) as the official code "
              "and pytorch_optimizer's apply_cautious do; the decay is outside the mask. No "
              "package has C-AdamW (pytorch_optimizer has the cautious option only on other "
              "classes).",
    ),
    Entry(
        name="laprop",
        source=LAPROP,
        paper="LaProp: Separating Momentum and Adaptivity in Adam",
        authors="Ziyin, Wang & Ueda",
        year=2020,
        references=(
            Reference("pytorch_optimizer.LaProp(foreach=False)", _laprop,
                      requires="pytorch-optimizer"),
        ),
        settings=({}, {"lr": 0.004, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.1},
                  {"lr": 0.001, "beta1": 0.95, "beta2": 0.9, "eps": 1e-8}),
        reference_overrides=("foreach",),
        notes="The learning rate sits inside the momentum (the paper's form), and m is "
              "bias-corrected by 1 - beta1^t. pytorch_optimizer's foreach path rounds the "
              "per-tensor bias corrections to float32, so it is verified on the per-parameter "
              "path (foreach=False). sqrt(v + 1e-15) as pytorch_optimizer. The centered "
              "option is not part of the program. Decoupled weight decay after the step.",
    ),
    Entry(
        name="exadam",
        source=EXADAM,
        paper="EXAdam: The Power of Adaptive Cross-Moments",
        authors="Adly",
        year=2024,
        references=(Reference("pytorch_optimizer.EXAdam", _exadam, requires="pytorch-optimizer"),),
        settings=({}, *_ADAM_LIKE),
        notes="pytorch_optimizer's form; any step-size schedule of the paper is not part of "
              "the program (not checked against the paper text). Decoupled weight decay.",
    ),
    Entry(
        name="dualadam",
        source=DUALADAM,
        paper="Combining Adam and its Inverse Counterpart to Enhance Generalization of Deep "
              "Learning Optimizers",
        authors="arXiv:2603.07122 (LongJin-lab)",
        year=2026,
        references=(
            Reference("pytorch_optimizer.DualAdam", _dualadam, requires="pytorch-optimizer"),
        ),
        settings=({}, {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "switch_rate": 0.05,
                       "weight_decay": 0.01},
                  {"lr": 0.003, "beta2": 0.9, "switch_rate": 0.002, "eps": 1e-12}),
        notes="pytorch_optimizer's form, not checked against the paper text; the author list "
              "was not available here. L2 weight decay.",
    ),
)
