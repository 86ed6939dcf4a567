"""Rules built on accumulated (not averaged) statistics or on variance estimates: Kate,
AdaSmooth, FTRL, MADGRAD, M-SVAG and VSGD.

Kate is AdaGrad without the square root, AdaSmooth picks its EMA rate from the efficiency of
the weights' path, FTRL-proximal solves for the weights in closed form from accumulated
gradients, MADGRAD is dual averaging with a cube-root denominator, M-SVAG damps momentum by an
estimate of the gradient's relative variance, and VSGD infers the true gradient with a
Gaussian model.

References: the ``pytorch_optimizer`` classes named in each entry.
"""

from __future__ import annotations

from .base import Entry, Reference, po_class

__all__ = ["ENTRIES"]

KATE = '''
def kate(w, g, m, b, lr=0.001, delta=0.0, eps=1e-08, weight_decay=0.0):
    """Kate: a scale-invariant AdaGrad without the square root.

    b2 = b^2 + g^2 + eps;  m = sqrt(m^2 + delta g^2 + g^2 / b2);  b = sqrt(b2)
    update = lr * m * g / b2 + lr * weight_decay * w

    Choudhury et al., "Remove that Square Root: A New Efficient Scale-Invariant Version of
    AdaGrad" (2024).
    """
    b2 = b * b + g * g + eps
    m = sqrt(m * m + delta * (g * g) + g * g / b2)
    return lr * m * g / b2 + lr * weight_decay * w, m, sqrt(b2)
'''

ADASMOOTH = '''
def adasmooth(w, g, prev: w, s, n, v, lr=0.001, beta1=0.5, beta2=0.99, eps=1e-06,
              weight_decay=0.0):
    """AdaSmooth: an RMSprop whose EMA rate follows the efficiency ratio of the weights' path.

    d = g + weight_decay * w;  diff = w - prev;  s = s + diff;  n = n + |diff|
    c = |s| / (n + eps) (beta2 - beta1) + (1 - beta2)   (the effective ratio, rescaled)
    v = interp(v, d^2, c^2);  update = lr * d / sqrt(v + eps);  prev = w

    Lu, "AdaSmooth: An Adaptive Learning Rate Method based on Effective Ratio" (2022).
    """
    d = g + weight_decay * w
    diff = w - prev
    s = s + diff
    n = n + abs(diff)
    c = abs(s) / (n + eps) * (beta2 - beta1) + (1 - beta2)
    v = interp(v, d * d, c * c)
    return lr * d / sqrt(v + eps), w, s, n, v
'''

FTRL = '''
def ftrl(w, g, z, n, lr=0.001, lr_power=-0.5, beta=0.0, lambda_1=0.0, lambda_2=0.0):
    """FTRL-Proximal: the weights solved in closed form from the accumulated z and n.

    n' = n + g^2;  z = z + g - (n'^(-lr_power) - n^(-lr_power)) / lr * w
    w_new = (sign(z) lambda_1 - z) / ((sqrt(n') + beta) / lr + lambda_2), 0 where |z| <= lambda_1

    McMahan et al., "Ad Click Prediction: a View from the Trenches" (KDD 2013).
    """
    n2 = n + g * g
    z = z + g - (n2 ** (0 - lr_power) - n ** (0 - lr_power)) / lr * w
    den = (sqrt(n2) + beta) / lr + lambda_2
    w_new = where(abs(z) - lambda_1, (sign(z) * lambda_1 - z) / den, 0)
    return w - w_new, z, n2
'''

MADGRAD = '''
def madgrad(w, g, s, v, x0: w, t, lr=0.001, momentum=0.9, eps=1e-06, weight_decay=0.0,
            weight_decouple=0.0):
    """MADGRAD: momentumised dual averaging with a cube-root AdaGrad denominator.

    d = g + weight_decay * w (L2; with weight_decouple the decay is lr' weight_decay w)
    lr' = lr + eps;  lam = lr' sqrt(t);  v = v + lam d^2;  s = s + lam d
    z = x0 - s / (v^(1/3) + eps)   (x0: the initial weights; with momentum = 0 it is
    w + s_prev / (v_prev^(1/3) + eps), plain dual averaging)
    w_new = momentum w + (1 - momentum) z

    Defazio & Jelassi, "A Momentumized, Adaptive, Dual Averaged Gradient Method for Stochastic
    Optimization" (2021).
    """
    d = g + where(weight_decouple, 0, weight_decay) * w
    lr1 = lr + eps
    lam = lr1 * sqrt(t)
    start = where(momentum, x0, w + s / (v ** (1 / 3) + eps))
    v = v + lam * (d * d)
    s = s + lam * d
    z = start - s / (v ** (1 / 3) + eps)
    decay = where(weight_decouple, lr1 * weight_decay, 0) * w
    return w - interp(w, z, 1 - momentum) + decay, s, v, x0
'''

MSVAG = '''
def msvag(w, g, m, v, t, lr=0.01, beta=0.9):
    """M-SVAG: momentum SGD damped per coordinate by an estimate of the gradient's variance.

    m = interp(g, m, beta);  v = interp(g^2, v, beta);  mh = m / (1 - beta^t);  vh = v / (1 - beta^t)
    rho = min((1 - beta^2t)(1 - beta)^2 / ((1 - beta^2)(1 - beta^t)^2), 0.9999)
    s = (vh - mh^2) / (1 - rho);  factor = clip(mh^2 / (rho s + mh^2), 0, 1)
    update = lr * factor * mh

    Balles & Hennig, "Dissecting Adam: The Sign, Magnitude and Variance of Stochastic
    Gradients" (ICML 2018).
    """
    m = interp(g, m, beta)
    v = interp(g * g, v, beta)
    bp = beta ** t
    rho = min((1 - bp ** 2) * (1 - beta) ** 2 / ((1 - beta ** 2) * (1 - bp) ** 2), 0.9999)
    mh = m / (1 - bp)
    mh2 = mh * mh
    s = (v / (1 - bp) - mh2) / (1 - rho)
    factor = clamp(mh2 / (s * rho + mh2), 0, 1)
    return lr * mh * factor, m, v
'''

VSGD = '''
def vsgd(w, g, mug, bg, bhg, t, lr=0.1, ghattg=30.0, ps=1e-08, tau1=0.81, tau2=0.9, eps=1e-08,
         weight_decay=0.0):
    """VSGD: SGD on the posterior mean of the true gradient under a Gaussian noise model.

    a = 2 ps + 1 + 1e-4;  priors b_g = 2 ps, b_h = 2 ghattg ps
    s_g = bg / a, s_h = bhg / a  (b_g / (a - 1), b_h / (a - 1) at t = 1)
    mu = (mug s_h + g s_g) / (s_g + s_h);  q = mu^2 + s_g s_h / (s_g + s_h)
    bg = interp(bg, b_g + q - 2 mu mug + mug^2, t^-tau1)
    bhg = interp(bhg, b_h + q - 2 g mu + g^2, t^-tau2)
    update = lr mu / (sqrt(q) + eps) + lr * weight_decay * w;  mug = mu

    Chen, Kuzina, Esmaeili & Tomczak, "Variational Stochastic Gradient Descent for Deep Neural
    Networks" (2024).
    """
    a = 2 * ps + 1 + 0.0001
    prior_g = 2 * ps
    prior_h = 2 * ghattg * ps
    sg = where(t - 1, bg / a, prior_g / (a - 1))
    sh = where(t - 1, bhg / a, prior_h / (a - 1))
    mu = (mug * sh + g * sg) / (sg + sh)
    q = mu * mu + sg * sh / (sg + sh)
    bg = interp(bg, prior_g + q - 2 * mu * mug + mug * mug, t ** (0 - tau1))
    bhg = interp(bhg, prior_h + q - 2 * g * mu + g * g, t ** (0 - tau2))
    return lr / (sqrt(q) + eps) * mu + lr * weight_decay * w, mu, bg, bhg
'''


def _kate(params, h):
    return po_class("Kate")(params, lr=h["lr"], delta=h["delta"], eps=h["eps"],
                            weight_decay=h["weight_decay"])


def _adasmooth(params, h):
    return po_class("AdaSmooth")(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"],
                                 weight_decay=h["weight_decay"])


def _ftrl(params, h):
    return po_class("FTRL")(params, lr=h["lr"], lr_power=h["lr_power"], beta=h["beta"],
                            lambda_1=h["lambda_1"], lambda_2=h["lambda_2"])


def _madgrad(params, h):
    return po_class("MADGRAD")(params, lr=h["lr"], momentum=h["momentum"], eps=h["eps"],
                               weight_decay=h["weight_decay"],
                               weight_decouple=bool(h["weight_decouple"]))


def _msvag(params, h):
    return po_class("MSVAG")(params, lr=h["lr"], beta=h["beta"])


def _vsgd(params, h):
    return po_class("VSGD")(params, lr=h["lr"], ghattg=h["ghattg"], ps=h["ps"], tau1=h["tau1"],
                            tau2=h["tau2"], eps=h["eps"], weight_decay=h["weight_decay"])


def _entry(name, source, paper, authors, year, cls, make, settings, notes, **kw):
    return Entry(name=name, source=source, paper=paper, authors=authors, year=year,
                 reference=f"pytorch_optimizer.{cls}", make_reference=make,
                 requires="pytorch-optimizer", settings=settings, notes=notes, **kw)


ENTRIES = (
    Entry(
        name="kate",
        source=KATE,
        paper="Remove that Square Root: A New Efficient Scale-Invariant Version of AdaGrad",
        authors="Choudhury et al.",
        year=2024,
        references=(Reference("pytorch_optimizer.Kate", _kate, requires="pytorch-optimizer"),),
        settings=({}, {"lr": 0.01, "delta": 0.1, "weight_decay": 0.01},
                  {"lr": 0.003, "delta": 0.5, "eps": 1e-4}),
        notes="eps is added to b^2 every step, as pytorch_optimizer. Decoupled weight decay.",
    ),
    Entry(
        name="adasmooth",
        source=ADASMOOTH,
        paper="AdaSmooth: An Adaptive Learning Rate Method based on Effective Ratio",
        authors="Lu",
        year=2022,
        references=(
            Reference("pytorch_optimizer.AdaSmooth", _adasmooth, requires="pytorch-optimizer"),
        ),
        settings=({}, {"lr": 0.01, "beta1": 0.3, "beta2": 0.9, "weight_decay": 0.01},
                  {"lr": 0.003, "beta1": 0.6, "beta2": 0.999, "eps": 1e-8}),
        notes="As pytorch_optimizer, the path sums s and n run over all steps; the paper "
              "measures the effective ratio over a window of recent steps. L2 weight decay.",
    ),
    Entry(
        name="ftrl",
        source=FTRL,
        paper="Ad Click Prediction: a View from the Trenches",
        authors="McMahan et al.",
        year=2013,
        references=(Reference("pytorch_optimizer.FTRL", _ftrl, requires="pytorch-optimizer"),),
        settings=({}, {"lr": 0.05, "beta": 1.0, "lambda_1": 0.01, "lambda_2": 0.1},
                  {"lr": 0.01, "beta": 0.5, "lambda_1": 0.001, "lambda_2": 0.01}),
        notes="The update replaces the weights: it is w - w_new. The denominator uses sqrt(n) "
              "whatever lr_power is, as pytorch_optimizer does (the paper's per-coordinate rate "
              "is the lr_power = -0.5 case).",
    ),
    Entry(
        name="madgrad",
        source=MADGRAD,
        paper="A Momentumized, Adaptive, Dual Averaged Gradient Method for Stochastic Optimization",
        authors="Defazio & Jelassi",
        year=2021,
        references=(
            Reference("pytorch_optimizer.MADGRAD", _madgrad, requires="pytorch-optimizer"),
        ),
        settings=({}, {"lr": 0.01, "momentum": 0.5, "weight_decay": 0.01},
                  {"lr": 0.003, "momentum": 0.0, "weight_decay": 0.05, "weight_decouple": 1.0,
                   "eps": 1e-8}),
        notes="As the official code: lr + eps is the effective learning rate, lam = lr sqrt(t), "
              "and the weights interpolate towards the dual-averaging point (momentum on the "
              "iterates). The initial weights are the state x0.",
    ),
    Entry(
        name="msvag",
        source=MSVAG,
        paper="Dissecting Adam: The Sign, Magnitude and Variance of Stochastic Gradients",
        authors="Balles & Hennig",
        year=2018,
        references=(Reference("pytorch_optimizer.MSVAG", _msvag, requires="pytorch-optimizer"),),
        settings=({}, {"lr": 0.05, "beta": 0.8}, {"lr": 0.003, "beta": 0.99}),
        notes="pytorch_optimizer maps NaN factors (0 / 0 where m = v = 0) to 0; the program "
              "clamps only, so it differs where a gradient coordinate is exactly zero at every "
              "step so far.",
    ),
    Entry(
        name="vsgd",
        source=VSGD,
        paper="Variational Stochastic Gradient Descent for Deep Neural Networks",
        authors="Chen, Kuzina, Esmaeili & Tomczak",
        year=2024,
        references=(Reference("pytorch_optimizer.VSGD", _vsgd, requires="pytorch-optimizer"),),
        settings=({}, {"lr": 0.03, "ghattg": 10.0, "tau1": 0.7, "tau2": 0.8, "weight_decay": 0.01},
                  {"lr": 0.3, "ghattg": 100.0, "ps": 1e-6, "eps": 1e-12}),
        notes="Deterministic: pytorch_optimizer's VSGD draws no random numbers. The rates "
              "t^-tau replace the state at t = 1, so the priors' start values do not matter. "
              "Decoupled weight decay.",
    ),
)
