"""Stochastic gradient descent and its momentum variants: SGD (heavy ball or Nesterov, as
``torch.optim.SGD``), averaged SGD (``torch.optim.ASGD``), SGDW, QHM, AggMo, PNM, PID and
coordinate-wise clipped SGD.

Heavy-ball momentum with decoupled decay (SGDW), a mix of gradient and momentum (QHM), several
momentum buffers at once (AggMo), alternating positive and negative momentum (PNM), a
proportional-integral-derivative controller (PID), SGD on coordinate-wise clipped gradients, and
SGD with a running (Polyak-Ruppert) average of the iterates (ASGD).

References: torch.optim for SGD and ASGD; the ``pytorch_optimizer`` classes named in each entry;
a paper-form reference (``discover.references.elementwise``) for coordinate-wise clipping, which
no package has.
"""

from __future__ import annotations

import torch

from .. import signatures
from ..base import Entry, Reference, po_class

__all__ = ["ENTRIES"]

SGD = '''
def sgd(w, g, buf, t, lr=0.001, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=0.0):
    """SGD with momentum, dampening, Nesterov and L2 weight decay, as torch.optim.SGD.

    d = g + weight_decay * w
    buf = d at t = 1, else momentum * buf + (1 - dampening) * d
    update = lr * (d + momentum * buf) if nesterov, lr * buf if momentum > 0, else lr * d

    Robbins & Monro, "A Stochastic Approximation Method" (1951); heavy ball: Polyak (1964);
    this Nesterov form: Sutskever et al., "On the importance of initialization and momentum in
    deep learning" (2013).
    """
    d = g + weight_decay * w
    buf = where(t - 1, momentum * buf + (1 - dampening) * d, d)
    step = where(nesterov, d + momentum * buf, buf)
    step = where(momentum, step, d)
    return lr * step, buf
'''

ASGD = '''
def asgd(w, g, ax, t, lr=0.01, lambd=0.0001, alpha=0.75, t0=1000000.0, weight_decay=0.0):
    """Averaged SGD with torch.optim.ASGD's step-size and averaging schedules.

    eta_t = lr / (1 + lambd * lr * (t - 1))^alpha;  mu_t = 1 at t = 1, else 1 / max(1, t - 1 - t0)
    d = g + weight_decay * w;  update = eta_t * (lambd * w + d)
    ax = ax + mu_t * (w_new - ax)   (the average; it is the model to evaluate, not to train)

    Polyak & Juditsky, "Acceleration of Stochastic Approximation by Averaging" (1992); the
    schedule is Bottou's, "Stochastic Gradient Descent Tricks" (2012).
    """
    d = g + weight_decay * w
    eta = lr / (1 + lambd * lr * (t - 1)) ** alpha
    mu = where(t - 1, 1 / max(1, t - 1 - t0), 1)
    step = lambd * eta * w + eta * d
    ax = ax + (w - step - ax) * mu
    return step, ax
'''

SGDW = '''
def sgdw(w, g, buf, t, lr=0.0001, momentum=0.0, weight_decay=0.0, dampening=0.0, nesterov=0.0):
    """SGDW: SGD with momentum and decoupled weight decay.

    buf = g at t = 1, else momentum * buf + (1 - dampening) * g
    step = g + momentum * buf if nesterov, buf if momentum > 0, else g
    update = lr * step + lr * weight_decay * w

    Loshchilov & Hutter, "Decoupled Weight Decay Regularization" (ICLR 2019).
    """
    buf = where(t - 1, momentum * buf + (1 - dampening) * g, g)
    step = where(nesterov, g + momentum * buf, buf)
    step = where(momentum, step, g)
    return lr * step + lr * weight_decay * w, buf
'''

QHM = '''
def qhm(w, g, buf, lr=0.001, momentum=0.0, nu=1.0, weight_decay=0.0):
    """QHM: quasi-hyperbolic momentum, a nu-weighted average of the gradient and its EMA.

    d = g + weight_decay * w;  buf = interp(d, buf, momentum)
    update = lr * (nu * buf + (1 - nu) * d)

    Ma & Yarats, "Quasi-hyperbolic momentum and Adam for deep learning" (ICLR 2019).
    """
    d = g + weight_decay * w
    buf = interp(d, buf, momentum)
    return lr * (nu * buf + (1 - nu) * d), buf
'''

AGGMO = '''
def aggmo(w, g, b1, b2, b3, lr=0.001, beta1=0.0, beta2=0.9, beta3=0.99, weight_decay=0.0):
    """AggMo: the average of three heavy-ball momentum buffers with different dampings.

    d = g + weight_decay * w;  b_i = beta_i * b_i + d  (i = 1, 2, 3)
    update = lr / 3 * (b1 + b2 + b3)

    Lucas, Sun, Zemel & Grosse, "Aggregated Momentum: Stability Through Passive Damping"
    (ICLR 2019).
    """
    d = g + weight_decay * w
    b1 = beta1 * b1 + d
    b2 = beta2 * b2 + d
    b3 = beta3 * b3 + d
    return lr / 3 * (b1 + b2 + b3), b1, b2, b3
'''

PNM = '''
def pnm(w, g, last, other, lr=0.001, beta1=0.9, beta2=1.0, weight_decay=0.0):
    """PNM: positive-negative momentum from two buffers updated on alternate steps.

    The buffer not updated at the previous step (other) takes this step's gradient; the one
    updated then (last) enters negatively:
    pos = interp(g, other, beta1^2)
    update = lr ((1 + beta2) pos - beta2 last) / sqrt((1 + beta2)^2 + beta2^2)
             + lr * weight_decay * w
    and the buffers swap roles: (last, other) <- (pos, last).

    Xie, Yuan, Zhu & Sugiyama, "Positive-Negative Momentum: Manipulating Stochastic Gradient
    Noise to Improve Generalization" (ICML 2021).
    """
    pos = interp(g, other, beta1 ** 2)
    step = ((1 + beta2) * pos - beta2 * last) / sqrt((1 + beta2) ** 2 + beta2 ** 2)
    return lr * step + lr * weight_decay * w, pos, last
'''

PID = '''
def pid(w, g, gprev, i, dbuf, t, lr=0.001, momentum=0.0, dampening=0.0, derivative=10.0,
        integral=5.0, weight_decay=0.0):
    """PID: SGD plus an integral (momentum) and a derivative (gradient change) term.

    d = g + weight_decay * w;  i = momentum * i + (1 - dampening) * d
    dbuf = momentum * dbuf + (1 - momentum) * (d - gprev)  (no difference term at t = 1)
    update = lr * (d + integral * i + derivative * dbuf) if momentum > 0, else lr * d

    An, Wang, Sun, Wang & Zhang, "A PID Controller Approach for Stochastic Optimization of Deep
    Networks" (CVPR 2018).
    """
    d = g + weight_decay * w
    i = momentum * i + (1 - dampening) * d
    dbuf = momentum * dbuf + where(t - 1, (1 - momentum) * (d - gprev), 0)
    step = where(momentum, d + integral * i + derivative * dbuf, d)
    return lr * step, d, i, dbuf
'''

SGD_COORDINATE_CLIP = '''
def sgd_coordinate_clip(w, g, buf, t, lr=0.01, momentum=0.9, clip_value=1.0):
    """SGD with heavy-ball momentum on the gradient clipped coordinate-wise to [-c, c].

    d = clip(g, clip_value);  buf = d at t = 1, else momentum * buf + d;  update = lr * buf

    Coordinate-wise clipping as studied in "Toward Understanding Why Adam Converges Faster Than
    SGD for Transformers" (Pan & Li, 2022), with a fixed threshold.
    """
    d = clip(g, clip_value)
    buf = where(t - 1, momentum * buf + d, d)
    return lr * buf, buf
'''


def _sgd(params, h):
    return torch.optim.SGD(params, lr=h["lr"], momentum=h["momentum"], dampening=h["dampening"],
                           weight_decay=h["weight_decay"], nesterov=bool(h["nesterov"]))


def _asgd(params, h):
    return torch.optim.ASGD(params, lr=h["lr"], lambd=h["lambd"], alpha=h["alpha"], t0=h["t0"],
                            weight_decay=h["weight_decay"])


def _sgdw(params, h):
    return po_class("SGDW")(params, lr=h["lr"], momentum=h["momentum"],
                            weight_decay=h["weight_decay"], dampening=h["dampening"],
                            nesterov=bool(h["nesterov"]))


def _qhm(params, h):
    return po_class("QHM")(params, lr=h["lr"], momentum=h["momentum"], nu=h["nu"],
                           weight_decay=h["weight_decay"])


def _aggmo(params, h):
    return po_class("AggMo")(params, lr=h["lr"], betas=(h["beta1"], h["beta2"], h["beta3"]),
                             weight_decay=h["weight_decay"])


def _pnm(params, h):
    return po_class("PNM")(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]),
                           weight_decay=h["weight_decay"])


def _pid(params, h):
    return po_class("PID")(params, lr=h["lr"], momentum=h["momentum"], dampening=h["dampening"],
                           derivative=h["derivative"], integral=h["integral"],
                           weight_decay=h["weight_decay"])


def _sgd_coordinate_clip(params, h):
    from discover.references.elementwise import CoordinateClipSGD  # noqa: PLC0415

    return CoordinateClipSGD(params, lr=h["lr"], momentum=h["momentum"],
                             clip_value=h["clip_value"])


ENTRIES = (
    Entry(
        name="sgd",
        signature=signatures.SGD,
        source=SGD,
        paper="A Stochastic Approximation Method",
        authors="Robbins & Monro",
        year=1951,
        references=(Reference("torch.optim.SGD", _sgd),),
        settings=(
            {},
            {"lr": 0.05, "weight_decay": 0.01},
            {"lr": 0.02, "momentum": 0.9},
            {"lr": 0.02, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.005},
            {"lr": 0.02, "momentum": 0.8, "nesterov": 1.0, "weight_decay": 0.01},
        ),
        notes="The first momentum step stores d itself (no dampening), as torch does; the "
              "buffer is kept (and unused) when momentum = 0.",
    ),
    Entry(
        name="asgd",
        signature=signatures.ASGD,
        source=ASGD,
        paper="Acceleration of Stochastic Approximation by Averaging",
        authors="Polyak & Juditsky",
        year=1992,
        references=(Reference("torch.optim.ASGD", _asgd),),
        settings=(
            {},
            {"lr": 0.05, "lambd": 0.01, "alpha": 0.5, "t0": 20.0},
            {"lr": 0.02, "t0": 0.0, "weight_decay": 0.01},
        ),
        compare_state=(("ax", "ax"),),
        notes="torch keeps eta and mu as per-parameter state; they are closed-form functions "
              "of t, so the program computes them from t. The averaging starts after t0 steps; "
              "verify also compares the average ax.",
    ),
    Entry(
        name="sgdw",
        source=SGDW,
        paper="Decoupled Weight Decay Regularization",
        authors="Loshchilov & Hutter",
        year=2019,
        references=(Reference("pytorch_optimizer.SGDW", _sgdw, requires="pytorch-optimizer"),),
        settings=({}, {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.1},
                  {"lr": 0.01, "momentum": 0.8, "dampening": 0.3, "nesterov": 1.0,
                   "weight_decay": 0.05}),
        notes="torch.optim.SGD's momentum (the first step stores g) with the decay lr * "
              "weight_decay * w outside the momentum.",
    ),
    Entry(
        name="qhm",
        source=QHM,
        paper="Quasi-hyperbolic momentum and Adam for deep learning",
        authors="Ma & Yarats",
        year=2019,
        references=(Reference("pytorch_optimizer.QHM", _qhm, requires="pytorch-optimizer"),),
        settings=({}, {"lr": 0.01, "momentum": 0.999, "nu": 0.7},
                  {"lr": 0.05, "momentum": 0.9, "nu": 0.3, "weight_decay": 0.01}),
        notes="pytorch_optimizer's defaults (momentum 0, nu 1: plain SGD); the paper recommends "
              "momentum 0.999, nu 0.7 (the second setting). L2 weight decay.",
    ),
    Entry(
        name="aggmo",
        source=AGGMO,
        paper="Aggregated Momentum: Stability Through Passive Damping",
        authors="Lucas, Sun, Zemel & Grosse",
        year=2019,
        references=(Reference("pytorch_optimizer.AggMo", _aggmo, requires="pytorch-optimizer"),),
        settings=({}, {"lr": 0.003, "beta1": 0.5, "beta2": 0.8, "beta3": 0.95,
                       "weight_decay": 0.01},
                  {"lr": 0.0005, "beta1": 0.9, "beta2": 0.99, "beta3": 0.999}),
        notes="Three buffers (the paper's K = 3 default betas 0, 0.9, 0.99); a different K is a "
              "different program. pytorch_optimizer keys its buffers by beta, so the betas must "
              "differ. L2 weight decay.",
    ),
    Entry(
        name="pnm",
        source=PNM,
        paper="Positive-Negative Momentum: Manipulating Stochastic Gradient Noise to Improve "
              "Generalization",
        authors="Xie, Yuan, Zhu & Sugiyama",
        year=2021,
        references=(Reference("pytorch_optimizer.PNM", _pnm, requires="pytorch-optimizer"),),
        settings=({}, {"lr": 0.01, "beta1": 0.8, "beta2": 0.5, "weight_decay": 0.1},
                  {"lr": 0.003, "beta1": 0.95, "beta2": 0.8}),
        notes="pytorch_optimizer alternates which buffer is positive by the parity of t; the "
              "program swaps the two state tensors every step instead, which needs no parity. "
              "Decoupled weight decay.",
    ),
    Entry(
        name="pid",
        source=PID,
        paper="A PID Controller Approach for Stochastic Optimization of Deep Networks",
        authors="An, Wang, Sun, Wang & Zhang",
        year=2018,
        references=(Reference("pytorch_optimizer.PID", _pid, requires="pytorch-optimizer"),),
        settings=({}, {"lr": 0.01, "momentum": 0.9, "derivative": 5.0, "integral": 2.0},
                  {"lr": 0.003, "momentum": 0.8, "dampening": 0.2, "weight_decay": 0.01}),
        notes="pytorch_optimizer's defaults (momentum 0: plain SGD; the buffers are kept and "
              "unused). L2 weight decay.",
    ),
    Entry(
        name="sgd_coordinate_clip",
        source=SGD_COORDINATE_CLIP,
        paper="Toward Understanding Why Adam Converges Faster Than SGD for Transformers",
        authors="Pan & Li",
        year=2022,
        references=(
            Reference("discover.references.elementwise.CoordinateClipSGD", _sgd_coordinate_clip),
        ),
        settings=({}, {"lr": 0.05, "momentum": 0.0, "clip_value": 0.5},
                  {"lr": 0.01, "momentum": 0.95, "clip_value": 0.1}),
        notes="A fixed clipping threshold; the paper's threshold is data-driven (a quantile of "
              "|g| per step), which needs a quantile op the language does not have. Where the "
              "paper puts the clip relative to the momentum is not verified here: the program "
              "clips the gradient before heavy-ball momentum.",
    ),
)
