"""Adam variants that change the second moment: AdaBelief, AdaMomentum, Yogi, Padam, AdaShift.

AdaBelief scales by the variance of the gradient around its EMA, AdaMomentum by the second
moment of the momentum, Yogi grows or shrinks v additively by the sign of g^2 - v, Padam raises
the denominator to a power below 1/2, and AdaShift uses a gradient from k steps back (reduced to
one value per tensor) so that v is independent of the current gradient.

References: the ``pytorch_optimizer`` classes named in each entry, configured to the papers'
form where they differ; paper-form references (``discover.references.elementwise``) for
AdaMomentum, Yogi and Padam as the papers state them.
"""

from __future__ import annotations

from ..base import Entry, Reference, betas, po_class

__all__ = ["ENTRIES"]

ADABELIEF = '''
def adabelief(w, g, m, s, t, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-16, weight_decay=0.0):
    """AdaBelief: Adam with the EMA of (g - m)^2, the "belief" in the gradient, as its v.

    m = interp(g, m, beta1);  s = interp((g - m)^2, s, beta2) + eps
    update = lr / (1 - beta1^t) * m / (sqrt(s) / sqrt(1 - beta2^t) + eps) + lr * weight_decay * w

    Zhuang et al., "AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed
    Gradients" (NeurIPS 2020).
    """
    m = interp(g, m, beta1)
    s = interp(square(g - m), s, beta2) + eps
    den = sqrt(s) / sqrt(1 - beta2 ** t) + eps
    return lr / (1 - beta1 ** t) * m / den + lr * weight_decay * w, m, s
'''

ADABELIEF_RECTIFIED = '''
def adabelief_rectified(w, g, m, s, t, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-16,
                        weight_decay=0.0):
    """AdaBelief with RAdam's rectification (the official package's default variant).

    m = interp(g, m, beta1);  s = interp((g - m)^2, s, beta2) + eps
    rho_inf = 2 / (1 - beta2) - 1;  rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
    r = sqrt((1 - beta2^t) (rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
    update = lr r / (1 - beta1^t) * m / (sqrt(s) + eps) if rho_t >= 5,
             else lr / (1 - beta1^t) * m (SGD with momentum);  plus lr * weight_decay * w

    Zhuang et al., "AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed
    Gradients" (NeurIPS 2020); Liu et al., "On the Variance of the Adaptive Learning Rate and
    Beyond" (ICLR 2020).
    """
    m = interp(g, m, beta1)
    s = interp(square(g - m), s, beta2) + eps
    bc2 = 1 - beta2 ** t
    rho_inf = 2 / (1 - beta2) - 1
    rho = rho_inf - 2 * t * beta2 ** t / bc2
    r = sqrt(max(bc2 * (rho - 4) / (rho_inf - 4) * (rho - 2) / rho * rho_inf / (rho_inf - 2), 0))
    step = lr / (1 - beta1 ** t) * where(5 - rho, m, r * m / (sqrt(s) + eps))
    return step + lr * weight_decay * w, m, s
'''

ADAMOMENTUM = '''
def adamomentum(w, g, m, v, t, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08, weight_decay=0.0):
    """AdaMomentum: Adam whose second moment tracks the momentum instead of the gradient.

    d = g + weight_decay * w;  m = interp(d, m, beta1);  v = interp(m^2, v, beta2) + eps
    update = lr / (1 - beta1^t) * m / (sqrt(v / (1 - beta2^t)) + eps)

    Wang et al., "Rethinking Adam: A Twofold Exponential Moving Average Approach" (2021).
    """
    d = g + weight_decay * w
    m = interp(d, m, beta1)
    v = interp(m * m, v, beta2) + eps
    return lr / (1 - beta1 ** t) * m / (sqrt(v / (1 - beta2 ** t)) + eps), m, v
'''

YOGI = '''
def yogi(w, g, m, v: initial_accumulator, lr=0.01, beta1=0.9, beta2=0.999,
         initial_accumulator=1e-06, eps=0.001, weight_decay=0.0):
    """Yogi: Adam whose v moves additively, by the sign of g^2 - v (Algorithm 2 of the paper).

    m = interp(g, m, beta1);  v = v - (1 - beta2) sign(v - g^2) g^2  (v starts at 1e-6)
    update = lr * m / (sqrt(v) + eps) + lr * weight_decay * w   (no bias correction)

    Zaheer, Reddi, Sachan, Kale & Kumar, "Adaptive Methods for Nonconvex Optimization"
    (NeurIPS 2018).
    """
    m = interp(g, m, beta1)
    g2 = g * g
    v = v - (1 - beta2) * sign(v - g2) * g2
    return lr * m / (sqrt(v) + eps) + lr * weight_decay * w, m, v
'''

YOGI_BIAS_CORRECTED = '''
def yogi_bias_corrected(w, g, m: initial_accumulator, v: initial_accumulator, t, lr=0.01,
                        beta1=0.9, beta2=0.999, initial_accumulator=1e-06, eps=0.001,
                        weight_decay=0.0):
    """Yogi with Adam's bias corrections and m, v both started at 1e-6 (pytorch_optimizer.Yogi).

    m = interp(g, m, beta1);  v = v - (1 - beta2) sign(v - g^2) g^2
    update = lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
             + lr * weight_decay * w

    Zaheer, Reddi, Sachan, Kale & Kumar, "Adaptive Methods for Nonconvex Optimization"
    (NeurIPS 2018).
    """
    m = interp(g, m, beta1)
    g2 = g * g
    v = v - (1 - beta2) * sign(v - g2) * g2
    den = sqrt(v) / sqrt(1 - beta2 ** t) + eps
    return lr / (1 - beta1 ** t) * m / den + lr * weight_decay * w, m, v
'''

PADAM = '''
def padam(w, g, m, v, vmax, t, lr=0.1, beta1=0.9, beta2=0.999, partial=0.25, eps=1e-08,
          weight_decay=0.0):
    """Padam: AMSGrad with the denominator raised to 2 * partial (1/2 is AMSGrad, 0 is SGD).

    d = g + weight_decay * w;  m = interp(d, m, beta1);  v = interp(d^2, v, beta2)
    vmax = max(vmax, v)
    update = lr sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(vmax) + eps)^(2 partial)

    Chen, Zhou, Tang, Yang, Cao & Gu, "Closing the Generalization Gap of Adaptive Gradient
    Methods in Training Deep Neural Networks" (IJCAI 2020).
    """
    d = g + weight_decay * w
    m = interp(d, m, beta1)
    v = interp(d * d, v, beta2)
    vmax = max(vmax, v)
    step = lr * sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    return step * m / (sqrt(vmax) + eps) ** (2 * partial), m, v, vmax
'''

PADAM_NO_MAX = '''
def padam_no_max(w, g, m, v, t, lr=0.1, beta1=0.9, beta2=0.999, partial=0.25, eps=1e-08,
                 weight_decay=0.0):
    """Padam without AMSGrad's running maximum (pytorch_optimizer.PAdam).

    d = g + weight_decay * w;  m = interp(d, m, beta1);  v = interp(d^2, v, beta2)
    update = lr sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps)^(2 partial)

    Chen, Zhou, Tang, Yang, Cao & Gu, "Closing the Generalization Gap of Adaptive Gradient
    Methods in Training Deep Neural Networks" (IJCAI 2020).
    """
    d = g + weight_decay * w
    m = interp(d, m, beta1)
    v = interp(d * d, v, beta2)
    step = lr * sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    return step * m / (sqrt(v) + eps) ** (2 * partial), m, v
'''

ADASHIFT = """
def adashift(w, g, m, v, QUEUE, t, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-10):
    \"\"\"AdaShift: v from the gradient of 10 steps back, reduced to its max over the tensor.

    q1..q10 hold the last 10 gradients (q10 the oldest); with k = 10 and S = sum of beta1^i,
    i < k:  m = beta1 (m - beta1^(k-1) / S q10) + g / S  (the beta1-weighted mean of the last
    k gradients; q10 is subtracted only once the queue is full, t > k)
    v = interp(max(q10^2), v, beta2) for t > k
    update = lr * m / (sqrt(v / (1 - beta2^(t - k))) + eps) for t > k, else 0

    Zhou et al., "AdaShift: Decorrelation and Convergence of Adaptive Learning Rate Methods"
    (ICLR 2019).
    \"\"\"
    ready = t - 10
    total = (1 - beta1 ** 10) / (1 - beta1)
    m = where(ready, (m - beta1 ** 9 / total * q10) * beta1, m * beta1) + g / total
    v = where(ready, interp(square(absmax(q10)), v, beta2), v)
    den = sqrt(v / (1 - beta2 ** max(1, ready))) + eps
    return where(ready, lr * m / den, 0), m, v, g, SHIFTED
""".replace("QUEUE", ", ".join(f"q{i}" for i in range(1, 11))).replace(
    "SHIFTED", ", ".join(f"q{i}" for i in range(1, 10)))


def _adabelief(params, h):
    return po_class("AdaBelief")(params, lr=h["lr"], betas=betas(h), eps=h["eps"],
                                 weight_decay=h["weight_decay"])


def _adabelief_rectified(params, h):
    return po_class("AdaBelief")(params, lr=h["lr"], betas=betas(h), eps=h["eps"],
                                 weight_decay=h["weight_decay"], rectify=True)


def _adamomentum(params, h):
    from discover.references.elementwise import AdaMomentum  # noqa: PLC0415

    return AdaMomentum(params, lr=h["lr"], betas=betas(h), eps=h["eps"],
                       weight_decay=h["weight_decay"])


def _yogi(params, h):
    from discover.references.elementwise import YogiPaper  # noqa: PLC0415

    return YogiPaper(params, lr=h["lr"], betas=betas(h),
                     initial_accumulator=h["initial_accumulator"], eps=h["eps"],
                     weight_decay=h["weight_decay"])


def _yogi_bias_corrected(params, h):
    return po_class("Yogi")(params, lr=h["lr"], betas=betas(h),
                            initial_accumulator=h["initial_accumulator"], eps=h["eps"],
                            weight_decay=h["weight_decay"])


def _padam(params, h):
    from discover.references.elementwise import PadamAMSGrad  # noqa: PLC0415

    return PadamAMSGrad(params, lr=h["lr"], betas=betas(h), partial=h["partial"], eps=h["eps"],
                        weight_decay=h["weight_decay"])


def _padam_no_max(params, h):
    return po_class("PAdam")(params, lr=h["lr"], betas=betas(h), partial=h["partial"],
                             eps=h["eps"], weight_decay=h["weight_decay"])


def _adashift(params, h):
    return po_class("AdaShift")(params, lr=h["lr"], betas=betas(h), keep_num=10, eps=h["eps"])


_ADAM_LIKE = (
    {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.01},
    {"lr": 0.003, "beta1": 0.95, "beta2": 0.9, "eps": 1e-12},
)
_BELIEF = "AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed Gradients"
_YOGI = "Adaptive Methods for Nonconvex Optimization"
_YOGI_AUTHORS = "Zaheer, Reddi, Sachan, Kale & Kumar"
_PADAM = ("Closing the Generalization Gap of Adaptive Gradient Methods in Training Deep Neural "
          "Networks")
_PADAM_AUTHORS = "Chen, Zhou, Tang, Yang, Cao & Gu"
_PADAM_SETTINGS = ({}, {"lr": 0.03, "beta1": 0.8, "partial": 0.125, "weight_decay": 0.01},
                   {"lr": 0.003, "beta2": 0.99, "partial": 0.5, "eps": 1e-12})
_YOGI_SETTINGS = ({}, {"lr": 0.03, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.01},
                  {"lr": 0.003, "beta2": 0.9, "initial_accumulator": 0.01, "eps": 1e-6})

ENTRIES = (
    Entry(
        name="adabelief",
        source=ADABELIEF,
        paper=_BELIEF,
        authors="Zhuang et al.",
        year=2020,
        references=(
            Reference("pytorch_optimizer.AdaBelief", _adabelief, requires="pytorch-optimizer"),
        ),
        settings=({}, *_ADAM_LIKE),
        notes="Without rectification (pytorch_optimizer's default; see adabelief_rectified). "
              "eps enters twice, inside s and outside the square root, as in the paper's "
              "Algorithm 2. Decoupled weight decay, the official v0.2 default.",
    ),
    Entry(
        name="adabelief_rectified",
        source=ADABELIEF_RECTIFIED,
        paper=_BELIEF,
        authors="Zhuang et al.",
        year=2020,
        references=(
            Reference("pytorch_optimizer.AdaBelief(rectify=True)", _adabelief_rectified,
                      requires="pytorch-optimizer"),
        ),
        settings=({}, *_ADAM_LIKE),
        reference_overrides=("rectify",),
        notes="rectify=True (the official adabelief-pytorch 0.2 default, as recalled in the "
              "catalogue; not re-checked); while "
              "rho_t < 5 the step is SGD with bias-corrected momentum (degenerated_to_sgd). "
              "In the rectified branch the denominator is sqrt(s) + eps with sqrt(1 - "
              "beta2^t) folded into r, as pytorch_optimizer does.",
    ),
    Entry(
        name="adamomentum",
        source=ADAMOMENTUM,
        paper="Rethinking Adam: A Twofold Exponential Moving Average Approach",
        authors="Wang et al.",
        year=2021,
        references=(Reference("discover.references.elementwise.AdaMomentum", _adamomentum),),
        settings=({}, *_ADAM_LIKE),
        notes="No package has AdaMomentum; the paper's rule (v tracks m^2). Whether eps is "
              "added inside v (as in AdaBelief) is not confirmed from the paper text; the "
              "program adds it inside v and outside the square root. L2 weight decay.",
    ),
    Entry(
        name="yogi",
        source=YOGI,
        paper=_YOGI,
        authors=_YOGI_AUTHORS,
        year=2018,
        references=(Reference("discover.references.elementwise.YogiPaper", _yogi),),
        settings=_YOGI_SETTINGS,
        notes="The paper's Algorithm 2: no bias correction, m starts at 0 and v at "
              "initial_accumulator (1e-6 recalled from the paper's experiments, not re-read). "
              "pytorch_optimizer.Yogi bias-corrects and starts m at 1e-6 too: that is "
              "yogi_bias_corrected. Decoupled weight decay (not in the paper).",
    ),
    Entry(
        name="yogi_bias_corrected",
        source=YOGI_BIAS_CORRECTED,
        paper=_YOGI,
        authors=_YOGI_AUTHORS,
        year=2018,
        references=(
            Reference("pytorch_optimizer.Yogi", _yogi_bias_corrected,
                      requires="pytorch-optimizer"),
        ),
        settings=_YOGI_SETTINGS,
        notes="pytorch_optimizer's form: Adam's bias corrections on m and v, both started at "
              "initial_accumulator; the paper has neither (see yogi).",
    ),
    Entry(
        name="padam",
        source=PADAM,
        paper=_PADAM,
        authors=_PADAM_AUTHORS,
        year=2020,
        references=(Reference("discover.references.elementwise.PadamAMSGrad", _padam),),
        settings=_PADAM_SETTINGS,
        notes="Padam builds on AMSGrad (the running maximum of v, the official code's "
              "amsgrad=True default), with Adam's bias corrections and eps as the official "
              "code has them (the paper's Algorithm 1 has neither). pytorch_optimizer.PAdam "
              "drops the maximum: that is padam_no_max. L2 weight decay.",
    ),
    Entry(
        name="padam_no_max",
        source=PADAM_NO_MAX,
        paper=_PADAM,
        authors=_PADAM_AUTHORS,
        year=2020,
        references=(
            Reference("pytorch_optimizer.PAdam", _padam_no_max, requires="pytorch-optimizer"),
        ),
        settings=_PADAM_SETTINGS,
        notes="pytorch_optimizer's PAdam: Padam on Adam (no AMSGrad maximum).",
    ),
    Entry(
        name="adashift",
        source=ADASHIFT,
        paper="AdaShift: Decorrelation and Convergence of Adaptive Learning Rate Methods",
        authors="Zhou et al.",
        year=2019,
        references=(
            Reference("pytorch_optimizer.AdaShift", _adashift, requires="pytorch-optimizer"),
        ),
        settings=({}, {"lr": 0.01, "beta1": 0.8, "beta2": 0.99},
                  {"lr": 0.003, "beta1": 0.95, "beta2": 0.9, "eps": 1e-6}),
        notes="keep_num = 10, pytorch_optimizer's default, as ten state tensors q1..q10 "
              "shifted every step (the queue length is the program's structure, not a "
              "hyperparameter). The reduction is the max over the whole tensor "
              "(pytorch_optimizer's reduce_func=torch.max); no update during the first 10 "
              "steps.",
    ),
)
