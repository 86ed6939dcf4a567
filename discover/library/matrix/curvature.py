"""Rules preconditioned by a Hessian-diagonal estimate ``h``: AdaHessian and Sophia-H.

``h`` is an input the harness provides (Hutchinson's ``z * (H z)``, one Rademacher ``z`` per step,
:func:`primitives.hessian.hutchinson_diagonal`); verify hands the reference the same estimate
through ``step(hessian=...)``. Sophia-G's Gauss-Newton-Bartlett estimator needs labels sampled
from the model's own outputs and an extra backward pass, so it is not a program here (see
``docs/catalogue_matrix.md``).
"""

from __future__ import annotations

from ...references.curvature import OASIS as OASISReference
from ...references.curvature import AdaHessianSpatial, SophiaH
from ..base import Entry, Reference

__all__ = ["ENTRIES"]

ADAHESSIAN = '''
def adahessian(w, g, m, v, h, t, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-16, weight_decay=0.0,
               hessian_power=1.0):
    """AdaHessian: Adam with the squared Hessian diagonal in place of the squared gradient.

    m = interp(g, m, beta1);  v = interp(h^2, v, beta2)
    update = lr * (m / (1 - beta1^t)) / ((v / (1 - beta2^t))^(hessian_power / 2) + eps)
             + lr * weight_decay * w

    Yao et al., "ADAHESSIAN: An Adaptive Second Order Optimizer for Machine Learning" (2021).
    """
    m = interp(g, m, beta1)
    v = interp(h * h, v, beta2)
    denom = (v / (1 - beta2 ** t)) ** (hessian_power / 2) + eps
    return lr / (1 - beta1 ** t) * m / denom + lr * weight_decay * w, m, v
'''

ADAHESSIAN_SPATIAL = '''
def adahessian_spatial(w, g, m, v, h, t, lr=0.15, beta1=0.9, beta2=0.999, eps=0.0001,
                       weight_decay=0.0, hessian_power=1.0):
    """AdaHessian with spatial averaging: for 4-D conv kernels the Hessian diagonal is |h|
    averaged over the kernel's two spatial dims (one value per (out, in) channel pair).

    d = mean over (kh, kw) of |h| for 4-D tensors, else h
    m = interp(g, m, beta1);  v = interp(d^2, v, beta2)
    update = lr * (m / (1 - beta1^t)) / ((v / (1 - beta2^t))^(hessian_power / 2) + eps)
             + lr * weight_decay * w

    Yao et al., "ADAHESSIAN: An Adaptive Second Order Optimizer for Machine Learning" (2021).
    """
    d = where(ndim(h) - 3, row_mean(col_mean(abs(h))), h)
    m = interp(g, m, beta1)
    v = interp(d * d, v, beta2)
    denom = (v / (1 - beta2 ** t)) ** (hessian_power / 2) + eps
    return lr / (1 - beta1 ** t) * m / denom + lr * weight_decay * w, m, v
'''

SOPHIA_H = '''
def sophia_h(w, g, m, hm, h, t, lr=0.0006, beta1=0.96, beta2=0.99, rho=0.01, eps=1e-12,
             weight_decay=0.0, update_period=10):
    """Sophia-H: momentum divided by an EMA of Hutchinson Hessian estimates, clipped per entry.

    m = interp(g, m, beta1)
    hm = interp(h, hm, beta2) on steps 1, k + 1, 2k + 1, ... (k = update_period), else kept
    update = lr * clip(m / max(rho * hm, eps), 1) + lr * weight_decay * w

    Liu et al., "Sophia: A Scalable Stochastic Second-order Optimizer for Language Model
    Pre-training" (2023), Algorithm 3 with the Hutchinson estimator.
    """
    m = interp(g, m, beta1)
    refresh = 0.5 - fmod(t - 1, update_period)
    hm = where(refresh, interp(h, hm, beta2), hm)
    ratio = clamp(m / max(rho * hm, eps), -1, 1)
    return lr * ratio + lr * weight_decay * w, m, hm
'''


OASIS = '''
def oasis(w, g, d, w_prev, g_prev, eta: lr, theta: 1e+300, h, t, lr=0.1, beta2=0.99, alpha=0.01):
    """OASIS: gradient scaled by a truncated EMA of Hutchinson Hessian diagonals, with a step
    size adapted to the local smoothness in that metric (norms over all parameters).

    d = interp(h, d, beta2) (d = h at the first step);  dh = max(|d|, alpha)
    eta = min(sqrt(1 + theta) eta_prev, ||w - w_prev||_dh / (2 ||g - g_prev||*_dh)) after the
    first step (lr at the first), theta = eta / eta_prev (+inf before the second step)
    update = eta * g / dh

    Jahani, Rusakov, Shi, Richtarik, Mahoney & Takac, "Doubly Adaptive Scaled Algorithm for
    Machine Learning Using Second-Order Information" (2022).
    """
    later = t - 1
    d = where(later, interp(h, d, beta2), h)
    dh = max(abs(d), alpha)
    dw = w - w_prev
    dg = g - g_prev
    smooth = 0.5 * sqrt(global_sum(dh * dw * dw) / global_sum(dg * dg / dh))
    step = where(later, min(sqrt(1 + theta) * eta, smooth), lr)
    theta = where(later, step / eta, theta)
    return step * g / dh, d, w, g, step, theta
'''


def _adahessian(params, h):
    from pytorch_optimizer import AdaHessian  # noqa: PLC0415 - optional dependency

    return AdaHessian(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"],
                      weight_decay=h["weight_decay"], hessian_power=h["hessian_power"])


def _adahessian_spatial(params, h):
    return AdaHessianSpatial(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"],
                             weight_decay=h["weight_decay"], hessian_power=h["hessian_power"])


def _sophia_h(params, h):
    return SophiaH(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), rho=h["rho"],
                   eps=h["eps"], weight_decay=h["weight_decay"],
                   update_period=int(h["update_period"]))


def _sophia_h_po(params, h):
    """pytorch_optimizer.SophiaH in the paper's parametrisation: its step is
    ``lr_po * clip(m / max(h, eps_po), p)``, which is the paper's ``lr * clip(m / max(rho h, eps),
    1)`` for ``lr_po = lr / rho``, ``p = rho``, ``eps_po = eps / rho``; its decoupled decay
    ``w * (1 - lr_po * wd_po)`` is the paper's for ``wd_po = weight_decay * rho``."""
    from pytorch_optimizer import SophiaH as PoSophiaH  # noqa: PLC0415 - optional dependency

    period = int(h["update_period"])

    class _EstimateEveryK(PoSophiaH):
        """Hands over the estimate only on the steps where SophiaH would compute its own, so
        that an external estimate follows the same k-step schedule as the internal one."""

        def step(self, closure=None, hessian=None):
            self._t = getattr(self, "_t", 0) + 1
            return super().step(closure, hessian if (self._t - 1) % period == 0 else None)

    rho = h["rho"]
    return _EstimateEveryK(params, lr=h["lr"] / rho, betas=(h["beta1"], h["beta2"]), p=rho,
                           eps=h["eps"] / rho, weight_decay=h["weight_decay"] * rho,
                           update_period=period)



def _oasis(params, h):
    return OASISReference(params, lr=h["lr"], beta2=h["beta2"], alpha=h["alpha"])


ENTRIES = (
    Entry(
        name="adahessian",
        source=ADAHESSIAN,
        paper="ADAHESSIAN: An Adaptive Second Order Optimizer for Machine Learning",
        authors="Yao, Gholami, Shen, Mustafa, Keutzer & Mahoney",
        year=2021,
        references=(
            Reference("pytorch_optimizer.AdaHessian", _adahessian, requires="pytorch-optimizer"),
        ),
        settings=(
            {},
            {"lr": 0.05, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.01},
            {"lr": 0.2, "hessian_power": 0.5, "eps": 0.0001},
        ),
        notes="pytorch_optimizer's AdaHessian with a Hessian estimate every step "
              "(update_period=1): no spatial averaging, lr=0.1 and eps=1e-16 (the official code: "
              "lr=0.15, eps=1e-4 and spatial averaging over conv kernels, which is "
              "adahessian_spatial). Weight decay is decoupled (w * (1 - lr * wd)), as in both.",
    ),
    Entry(
        name="adahessian_spatial",
        source=ADAHESSIAN_SPATIAL,
        paper="ADAHESSIAN: An Adaptive Second Order Optimizer for Machine Learning",
        authors="Yao, Gholami, Shen, Mustafa, Keutzer & Mahoney",
        year=2021,
        references=(
            Reference("discover.references.curvature.AdaHessianSpatial", _adahessian_spatial),
        ),
        settings=(
            {},
            {"lr": 0.05, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.01},
            {"lr": 0.2, "hessian_power": 0.5, "eps": 1e-8},
        ),
        notes="The paper's spatial averaging as the official code does it: |z * Hz| averaged "
              "over the last two dims of 4-D kernels only (3-D kernels are not averaged; the "
              "official code has no branch for them). Defaults of the official code (lr=0.15, "
              "eps=1e-4). The official code refreshes the estimate every step, as here.",
    ),
    Entry(
        name="sophia_h",
        source=SOPHIA_H,
        paper="Sophia: A Scalable Stochastic Second-order Optimizer for Language Model "
              "Pre-training",
        authors="Liu, Li, Hall, Liang & Ma",
        year=2023,
        references=(
            Reference("discover.references.curvature.SophiaH", _sophia_h),
            Reference("pytorch_optimizer.SophiaH (paper parametrisation)", _sophia_h_po,
                      requires="pytorch-optimizer"),
        ),
        settings=(
            {},
            {"lr": 0.001, "beta1": 0.9, "rho": 0.04, "weight_decay": 0.1, "update_period": 1},
            {"lr": 0.0003, "beta2": 0.95, "eps": 1e-6, "update_period": 3},
        ),
        reference_overrides=("lr", "eps"),
        notes="The paper's parametrisation; pytorch_optimizer.SophiaH computes "
              "lr_po * clip(m / max(h, eps_po), p), the same rule for lr_po = lr / rho, "
              "p = rho, eps_po = eps / rho and wd_po = weight_decay * rho (its defaults lr=0.06, "
              "p=0.01 are lr=6e-4, rho=0.01 here; its eps=1e-12 applies to h, the paper's to "
              "rho * h). Its internal estimator uses Gaussian z, the paper Rademacher; with an "
              "external estimate both see the same h. The EMA of h is refreshed every "
              "update_period steps, starting at step 1.",
    ),
    Entry(
        name="oasis",
        source=OASIS,
        paper="Doubly Adaptive Scaled Algorithm for Machine Learning Using Second-Order "
              "Information",
        authors="Jahani, Rusakov, Shi, Richtarik, Mahoney & Takac",
        year=2022,
        references=(Reference("discover.references.curvature.OASIS", _oasis),),
        settings=(
            {},
            {"lr": 0.1, "beta2": 0.95, "alpha": 0.003},
            {"lr": 0.05, "beta2": 0.999, "alpha": 0.01},
        ),
        notes="The adaptive-step OASIS as the catalogue reads the paper (Malitsky-Mishchenko "
              "step in the metric of the truncated Hutchinson diagonal; theta_0 = +inf, written "
              "as a start value of 1e300). Departures: D_0 is the first step's single estimate "
              "(the paper averages several samples at w_0), and g - g_prev uses the previous "
              "step's gradient, which is exact for full gradients; the paper's stochastic "
              "version evaluates both gradients on the current minibatch, which needs a second "
              "gradient at w_prev (a closure). With stochastic gradients the noise in g - g_prev "
              "makes this step shrink geometrically (on verify's noisy quadratic it falls below "
              "the weights' resolution within about 100 steps for alpha >= 0.03, after which "
              "eta = 0 and theta = 0/0), so the settings verified keep alpha small. lr (eta_0), "
              "beta2 and alpha are illustrative defaults. The form is from the catalogue, whose "
              "reading of the paper is marked unverified.",
    ),
)
