"""Accelerated and inertial methods: AccSGD, INNAprop, Gravity and A2Grad.

AccSGD couples a short and a long gradient step; INNAprop discretises INNA's inertial
Newton-like dynamics with an RMSprop scaling of the gradient; Gravity moves with a velocity
driven by a bounded transform of the gradient; A2Grad combines Nesterov-style averaging with a
step size from accumulated gradient variance (three schedules for that accumulator).

References: the ``pytorch_optimizer`` classes named in each entry; a paper-form reference for
INNAprop (``discover.references.elementwise.INNAprop``), which no package has.
"""

from __future__ import annotations

from ..base import Entry, Reference, po_class

__all__ = ["ENTRIES"]

ACCSGD = '''
def accsgd(w, g, buf: w, lr=0.001, kappa=1000.0, xi=10.0, constant=0.7, weight_decay=0.0):
    """AccSGD: accelerated SGD, an average of a short step and a long (kappa-times) step.

    d = g + weight_decay * w;  long = lr kappa / constant;  beta = xi constant^2 / kappa
    zeta = constant / (constant + beta)
    buf = (1 - beta) buf + beta (w - long * d)   (buf starts at w)
    w_new = zeta (w - lr d) + (1 - zeta) buf

    Kidambi, Netrapalli, Jain & Kakade, "On the insufficiency of existing momentum schemes for
    Stochastic Optimization" (ICLR 2018); Jain, Kakade, Kidambi, Netrapalli & Sidford,
    "Accelerating Stochastic Gradient Descent for Least Squares Regression" (COLT 2018).
    """
    d = g + weight_decay * w
    long = lr * kappa / constant
    beta = 1 - (1 - xi * constant ** 2 / kappa)
    zeta = constant / (constant + beta)
    buf = ((1 / beta - 1) * buf - long * d + w) * beta
    return w - interp(w - lr * d, buf, 1 - zeta), buf
'''

INNAPROP = '''
def innaprop(w, g, v, psi, t, lr=0.001, alpha=0.1, beta=0.9, sigma=0.999, eps=1e-08,
             weight_decay=0.01):
    """INNAprop: INNA's inertial dynamics in (w, psi) with the gradient scaled as in RMSprop.

    w' = (1 - lr weight_decay) w;  v = interp(g^2, v, sigma);  d = sqrt(v / (1 - sigma^t)) + eps
    psi starts at (1 - alpha beta) w
    w_new = w' + lr ((1/beta - alpha) w' - psi / beta - beta g / d)
    psi = psi + lr ((1/beta - alpha) w' - psi / beta)

    Bolte et al., "A second-order-like optimizer with adaptive gradient scaling for deep
    learning" (2024).
    """
    psi = where(t - 1, psi, (1 - alpha * beta) * w)
    w1 = (1 - lr * weight_decay) * w
    v = interp(g * g, v, sigma)
    d = sqrt(v / (1 - sigma ** t)) + eps
    drift = (1 / beta - alpha) * w1 - psi / beta
    w2 = w1 + lr * (drift - beta * g / d)
    return w - w2, v, psi + lr * drift
'''

GRAVITY = '''
def gravity(w, g, v, t, lr=0.01, beta=0.9):
    """Gravity: a velocity driven by g / (1 + (g max|g|)^2), a bounded pull of each coordinate.

    zeta = g / (1 + (g * max|g|)^2)   (max over the tensor)
    beta_t = (beta t + 1) / (t + 2);  v = interp(zeta, v, beta_t);  update = lr * v

    Bahrami & Zadeh, "Gravity Optimizer: a Kinematic Approach on Optimization in Deep
    Learning" (2021).
    """
    zeta = g / (1 + square(g / (1 / absmax(g))))
    v = interp(zeta, v, (beta * t + 1) / (t + 2))
    return lr * v, v
'''

A2GRAD = '''
def a2grad_{variant}(w, g, avg, v, {extra}x: w, t, beta=10.0, lips=10.0{hyper}):
    """A2Grad ({label}): Nesterov-style averaging with a step size from the accumulated variance.

    avg = running mean of g;  delta = sum((g - avg)^2) over the tensor
    {accumulator}
    coef = 1 / (2 lips / (t + 1) + beta h);  x = x - coef g   (x starts at w)
    a = 2 / (t + 3);  a_prev = 2 / (t + 2) (1 at t = 1)
    w_new = interp(w, x, a) - (1 - a) a_prev coef g

    Deng, Cheng & Lan, "Optimal Adaptive and Accelerated Stochastic Gradient Descent" (2018).
    """
    avg = interp(avg, g, 1 / t)
    delta = sum(square(g - avg))
{body}    coef = 1 / (2 * lips / (t + 1) + beta * h)
    x = x - coef * g
    a = 2 / (t + 3)
    a_prev = where(t - 1, 2 / (t + 2), 1)
    return w - (interp(w, x, a) - (1 - a) * a_prev * coef * g), avg, v, {ret}x
'''

_A2GRAD = {
    "uni": dict(label="uniform averaging", extra="", hyper="", ret="",
                accumulator="v = v + delta;  h = sqrt(v)",
                body="    v = v + delta\n    h = sqrt(v)\n"),
    "inc": dict(label="increasing weights", extra="", hyper="", ret="",
                accumulator="v = (t / (t + 1))^2 v + delta;  h = sqrt(v) sqrt(t + 1)",
                body="    v = (t / (t + 1)) ** 2 * v + delta\n    h = sqrt(v) * sqrt(t + 1)\n"),
    "exp": dict(label="exponential moving average", extra="vexp, ", hyper=", rho=0.5",
                ret="vexp, ",
                accumulator="vexp = interp(delta, vexp, rho);  v = max(v, vexp);  "
                            "h = sqrt(v) sqrt(t + 1)",
                body="    vexp = interp(delta, vexp, rho)\n    v = max(v, vexp)\n"
                     "    h = sqrt(v) * sqrt(t + 1)\n"),
}


def _a2grad_source(variant):
    return A2GRAD.format(variant=variant, **_A2GRAD[variant])


def _accsgd(params, h):
    return po_class("AccSGD")(params, lr=h["lr"], kappa=h["kappa"], xi=h["xi"],
                              constant=h["constant"], weight_decay=h["weight_decay"])


def _innaprop(params, h):
    from discover.references.elementwise import INNAprop  # noqa: PLC0415

    return INNAprop(params, lr=h["lr"], alpha=h["alpha"], beta=h["beta"], sigma=h["sigma"],
                    eps=h["eps"], weight_decay=h["weight_decay"])


def _gravity(params, h):
    return po_class("Gravity")(params, lr=h["lr"], beta=h["beta"], alpha=0.0)


def _a2grad(variant):
    def make(params, h):
        extra = {"rho": h["rho"]} if variant == "exp" else {}
        return po_class("A2Grad")(params, beta=h["beta"], lips=h["lips"], variant=variant, **extra)

    return make


_A2GRAD_SETTINGS = ({}, {"beta": 2.0, "lips": 5.0}, {"beta": 30.0, "lips": 50.0})

ENTRIES = (
    Entry(
        name="accsgd",
        source=ACCSGD,
        paper="On the insufficiency of existing momentum schemes for Stochastic Optimization",
        authors="Kidambi, Netrapalli, Jain & Kakade",
        year=2018,
        references=(Reference("pytorch_optimizer.AccSGD", _accsgd, requires="pytorch-optimizer"),),
        settings=(
            {},
            {"lr": 0.01, "kappa": 100.0, "xi": 5.0, "constant": 0.5, "weight_decay": 0.01},
            {"lr": 0.003, "kappa": 500.0, "xi": 20.0, "constant": 0.9},
        ),
        notes="The official AccSGD code's parametrisation (kappa, xi, constant); the long-step "
              "buffer starts at the initial weights. L2 weight decay.",
    ),
    Entry(
        # beta divides (1/beta) and alpha is a friction: any positive values (1.5 and 2.0 are
        # the paper's)
        bounds=(("beta", (0.0, None)), ("alpha", (0.0, None))),
        name="innaprop",
        source=INNAPROP,
        paper="A second-order-like optimizer with adaptive gradient scaling for deep learning",
        authors="Bolte et al.",
        year=2024,
        references=(Reference("discover.references.elementwise.INNAprop", _innaprop),),
        settings=(
            {},
            {"lr": 0.01, "alpha": 0.5, "beta": 1.5, "sigma": 0.99, "weight_decay": 0.0},
            {"lr": 0.003, "alpha": 2.0, "beta": 0.5, "eps": 1e-12, "weight_decay": 0.1},
        ),
        notes="The program takes INNA's explicit step with the old psi; the reference is the "
              "official code's form (psi updated first, then w with (beta - lr) factors), "
              "algebraically the same. psi starts at (1 - alpha beta) w0, before the first "
              "decay.",
    ),
    Entry(
        name="gravity",
        source=GRAVITY,
        paper="Gravity Optimizer: a Kinematic Approach on Optimization in Deep Learning",
        authors="Bahrami & Zadeh",
        year=2021,
        references=(
            Reference("pytorch_optimizer.Gravity(alpha=0)", _gravity,
                      requires="pytorch-optimizer"),
        ),
        settings=({}, {"lr": 0.05, "beta": 0.5}, {"lr": 0.003, "beta": 0.99}),
        reference_overrides=("alpha",),
        notes="The paper starts the velocity at N(0, (alpha / lr)^2) noise (alpha = 0.01); the "
              "language has no random start values, so the program starts it at 0 and is "
              "verified against Gravity(alpha=0), whose noise has zero variance.",
    ),
    *(Entry(
          name=f"a2grad_{variant}",
          source=_a2grad_source(variant),
          paper="Optimal Adaptive and Accelerated Stochastic Gradient Descent",
          authors="Deng, Cheng & Lan",
          year=2018,
          references=(
              Reference(f"pytorch_optimizer.A2Grad(variant='{variant}')", _a2grad(variant),
                        requires="pytorch-optimizer"),
          ),
          settings=_A2GRAD_SETTINGS + (({"rho": 0.9},) if variant == "exp" else ()),
          notes="The variance accumulator is a per-tensor scalar (state of shape ()); "
                "pytorch_optimizer's A2Grad has no learning rate (its lr argument is unused).",
      ) for variant in ("uni", "inc", "exp")),
)
