"""Step sizes adapted from gradient statistics or local smoothness: AdaGrad-Norm (one AdaGrad
step size for the whole model), Delta-SGD (after Malitsky & Mishchenko's adaptive gradient
descent) and pytorch_optimizer's ASGD (its reading of the same rule).

Both keep group-level scalars (the accumulated squared norm; Delta-SGD's step size and ratio
``theta``) as state of shape ``()``; the norms are over every tensor of the group.
"""

from __future__ import annotations

from ..base import Entry, Reference

__all__ = ["ENTRIES"]

ADAGRAD_NORM = '''
def adagrad_norm(w, g, acc, lr=1.0, b0=1e-08):
    """AdaGrad-Norm: SGD with one AdaGrad step size for the whole model.

    acc = acc + ||g||_glob^2;  update = lr * g / sqrt(b0^2 + acc)

    Ward, Wu & Bottou, "AdaGrad stepsizes: sharp convergence over nonconvex landscapes"
    (2019); analysed in Attia & Koren, "SGD with AdaGrad Stepsizes: Full Adaptivity with High
    Probability to Unknown Parameters, Unbounded Gradients and Affine Variance" (2023).
    """
    acc = acc + global_sum(g * g)
    return lr * g / sqrt(b0 * b0 + acc), acc
'''

DELTA_SGD = '''
def delta_sgd(w, g, w_prev, g_prev, eta, theta: theta0, t, lr=0.2, gamma=2.0, delta=0.1,
              theta0=1.0, eps=1e-05):
    """Delta-SGD: SGD whose step size follows the local smoothness of the loss.

    t = 1: eta = lr (eta_0)
    t > 1: eta = min(gamma ||w - w_prev|| / (2 ||g - g_prev||), sqrt(1 + delta theta) eta_prev)
                 + eps,  theta = eta / eta_prev   (norms over the whole group)
    update = eta * g

    Kim et al., "Adaptive Federated Learning with Auto-Tuned Clients" (2024), after Malitsky &
    Mishchenko, "Adaptive Gradient Descent without Descent" (2020).
    """
    ratio = gamma * global_norm(w - w_prev) / (2 * global_norm(g - g_prev))
    eta_new = where(t - 1, min(ratio, sqrt(1 + delta * theta) * eta) + eps, lr)
    theta = where(t - 1, eta_new / eta, theta)
    return eta_new * g, w, g, eta_new, theta
'''

ADAPTIVE_SGD = '''
def adaptive_sgd(w, g, lr_t: lr, theta_t: theta, pn_prev, gn_prev, t, lr=0.01, amplifier=0.02,
                 weight_decay=0.0, theta=1.0, dampening=1.0, eps=1e-05):
    """pytorch_optimizer.ASGD: adaptive SGD from differences of global norms.

    dp = ||w|| - ||w_prev||;  dg = ||g|| - ||g_prev||   (over the group; 0 at t = 1)
    lr_t = lr_{t-1} sqrt(1 + amplifier theta), or where dp > 0 and dg > 0
    lr_t = min(that, dp / (dampening dg)) + eps;  theta = lr_t / lr_{t-1}
    update = lr_t * weight_decay * w + lr_t * g

    The package's reading of Malitsky & Mishchenko, "Adaptive Gradient Descent without
    Descent" (2020), which uses norms of differences (see delta_sgd).
    """
    pn = global_norm(w)
    gn = global_norm(g)
    dp = pn - where(t - 1, pn_prev, pn)
    dg = gn - where(t - 1, gn_prev, gn)
    grow = lr_t * sqrt(1 + amplifier * theta_t)
    new = where(dp, where(dg, min(grow, dp / (dampening * dg)) + eps, grow), grow)
    return new * weight_decay * w + new * g, new, new / lr_t, pn, gn
'''


def _adagrad_norm(params, h):
    from discover.references.step_size import AdaGradNorm  # noqa: PLC0415

    return AdaGradNorm(params, lr=h["lr"], b0=h["b0"])


def _delta_sgd(params, h):
    from discover.references.step_size import DeltaSGD  # noqa: PLC0415

    return DeltaSGD(params, lr=h["lr"], gamma=h["gamma"], delta=h["delta"], theta0=h["theta0"],
                    eps=h["eps"])

def _adaptive_sgd_kwargs(h):
    return dict(lr=h["lr"], amplifier=h["amplifier"], weight_decay=h["weight_decay"],
                theta=h["theta"], dampening=h["dampening"], eps=h["eps"])


def _adaptive_sgd(params, h):
    from discover.references.step_size import AdaptiveSGD64  # noqa: PLC0415

    return AdaptiveSGD64(params, **_adaptive_sgd_kwargs(h))


def _adaptive_sgd_po(params, h):
    from pytorch_optimizer import ASGD  # noqa: PLC0415 - optional dependency

    return ASGD(params, **_adaptive_sgd_kwargs(h))


ENTRIES = (
    Entry(
        name="adagrad_norm",
        source=ADAGRAD_NORM,
        paper="SGD with AdaGrad Stepsizes: Full Adaptivity with High Probability to Unknown "
              "Parameters, Unbounded Gradients and Affine Variance",
        authors="Attia & Koren",
        year=2023,
        references=(
            Reference("discover.references.step_size.AdaGradNorm (paper form)", _adagrad_norm),
        ),
        settings=({}, {"lr": 3.0, "b0": 1.0}, {"lr": 0.5, "b0": 10.0}),
        notes="The step size includes the current gradient (b_t^2 = b_0^2 + sum_{s<=t} "
              "||g_s||^2), as in the analysed algorithm; the norm is over all tensors of the "
              "group. No package implements it.",
    ),
    Entry(
        name="delta_sgd",
        source=DELTA_SGD,
        paper="Adaptive Federated Learning with Auto-Tuned Clients",
        authors="Kim et al.",
        year=2024,
        references=(Reference("discover.references.step_size.DeltaSGD (paper form)", _delta_sgd),),
        settings=(
            {},
            {"lr": 0.05, "gamma": 1.0, "delta": 1.0, "theta0": 1e30, "eps": 1e-4},
            {"lr": 0.1, "gamma": 1.5, "delta": 0.5, "eps": 1e-3},
        ),
        notes="One client's local rule, with the previous step's stochastic gradient (a "
              "second gradient of the same minibatch at the previous weights would need an "
              "extra backward pass). gamma = delta = 1 with theta0 = inf (here 1e30) and eps = 0 "
              "is Malitsky & Mishchenko's adaptive GD. The floor eps on the step size is not "
              "in the paper's rule: with eps = 0 the step size shrinks geometrically once "
              "gradient noise dominates the gradient difference (on verify's noisy quadratic "
              "it reaches 0 within 200 steps); practical implementations "
              "(pytorch_optimizer.ASGD) add such an eps. The norms are of the differences over "
              "the whole parameter vector; pytorch_optimizer.ASGD instead uses differences of "
              "norms and is not a reference. The defaults (eta_0 = 0.2, gamma = 2, delta = 0.1, "
              "theta_0 = 1) are this library's choice: the paper's are not confirmed.",
    ),
    Entry(
        name="adaptive_sgd",
        source=ADAPTIVE_SGD,
        paper="Adaptive Gradient Descent without Descent",
        authors="Malitsky & Mishchenko",
        year=2020,
        references=(
            Reference("discover.references.step_size.AdaptiveSGD64 (the package's algorithm in "
                      "float64)", _adaptive_sgd),
            Reference("pytorch_optimizer.ASGD", _adaptive_sgd_po, "pytorch-optimizer",
                      tolerance=1e-4,
                      tolerance_note="the package sums the global norms in float32, and their "
                                     "step-to-step differences set the step size (measured "
                                     "3.7e-5 over 200 steps)"),
        ),
        settings=(
            {},
            {"lr": 0.05, "amplifier": 0.1, "weight_decay": 0.01},
            {"lr": 0.003, "dampening": 2.0, "eps": 1e-6},
        ),
        notes="pytorch_optimizer.ASGD (not torch.optim.ASGD, averaged SGD; see asgd). It "
              "departs from Malitsky & Mishchenko: differences of norms replace norms of "
              "differences, a growth rule applies whenever either difference is not positive, "
              "and eps is added to the step size. delta_sgd is the paper-faithful rule. The "
              "reference is the package's algorithm with float64 norms; the package itself is "
              "checked at 1e-4.",
    ),
)
