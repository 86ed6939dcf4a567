"""Steps scaled by an estimate of the gradient's noise: M-SVAG and VSGD.

M-SVAG damps the momentum per coordinate by an estimate of the gradient's relative variance;
VSGD infers the true gradient with a Gaussian noise model and steps along its posterior mean.

References: the ``pytorch_optimizer`` classes named in each entry.
"""

from __future__ import annotations

from ..base import Entry, Reference, po_class

__all__ = ["ENTRIES"]

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


def _msvag(params, h):
    return po_class("MSVAG")(params, lr=h["lr"], beta=h["beta"])


def _vsgd(params, h):
    return po_class("VSGD")(params, lr=h["lr"], ghattg=h["ghattg"], ps=h["ps"], tau1=h["tau1"],
                            tau2=h["tau2"], eps=h["eps"], weight_decay=h["weight_decay"])


ENTRIES = (
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
