"""Diagonal quasi-Newton steps: Apollo (``pytorch_optimizer.ApolloDQN``).

Apollo keeps a diagonal approximation ``b`` of the Hessian, updated from the change of the
(bias-corrected) gradient moment along the last step (a weak secant condition), and divides the
moment by ``|b|`` rectified by a lower bound. The program follows the package class line by line;
its docstring says where the package departs from the paper.
"""

from __future__ import annotations

from ..base import Entry, Reference

__all__ = ["ENTRIES"]

APOLLO_DQN = '''
def apollo_dqn(w, g, avg, b, u, t, lr=0.01, init_lr=1e-05, beta=0.9, rebound_belief=0.0,
               weight_decay=0.0, weight_decay_type=0.0, warmup_steps=500.0, eps=0.0001):
    \"\"\"Apollo: a diagonal quasi-Newton method with a rectified Hessian bound
    (pytorch_optimizer.ApolloDQN; weight_decay_type 0 = l2, 1 = decoupled, 2 = stable;
    rebound_belief 1 = rebound 'belief', 0 = 'constant').

    d = g + wd w (l2);  delta = d - avg;  alpha = (1 - beta) / (1 - beta^t)
    avg = avg + alpha delta;  e = eps / 0.01 ('constant') or eps ('belief')
    u = u / (||u||_4 + e);  q = sum(delta / (||u_old||_4 + e) * u) * -alpha - sum(b u^2)
    b = b + u^2 q;  den = max(|b|, 0.01) ('constant'), max(|b|, ||delta||_inf) + e / alpha ('belief')
    u = avg / den (+ wd w decoupled, + wd / mean(den) * w stable)
    lr_t = lr once t >= warmup_steps, else init_lr + (lr - init_lr) t / warmup_steps
    update = lr_t u

    Ma, "Apollo: An Adaptive Parameter-wise Diagonal Quasi-Newton Method for Nonconvex
    Stochastic Optimization" (2020).
    \"\"\"
    d = g + where(weight_decay_type, 0, weight_decay) * w
    delta = d - avg
    rebound = where(rebound_belief, absmax(delta), 0.01)
    alpha = (1 - beta) / (1 - beta ** t)
    avg = avg + alpha * delta
    e = where(rebound_belief, eps, eps / 0.01)
    nrm = sum(u * u * (u * u)) ** 0.25 + e
    u = u / nrm
    vsq = u * u
    q = sum(delta / nrm * u) * (0 - alpha) - sum(b * vsq)
    b = b + vsq * q
    den = max(abs(b), rebound) + where(rebound_belief, e / alpha, 0)
    u = avg / den
    decay = where(weight_decay_type, where(weight_decay_type - 1.5, weight_decay / mean(den), weight_decay), 0)
    u = u + decay * w
    lr_t = where(t - warmup_steps + 0.5, lr, (lr - init_lr) * t / warmup_steps + init_lr)
    return lr_t * u, avg, b, u
'''


def _apollo_dqn(params, h):
    from pytorch_optimizer import ApolloDQN  # noqa: PLC0415 - optional dependency

    return ApolloDQN(params, lr=h["lr"], init_lr=h["init_lr"], beta=h["beta"],
                     rebound="belief" if h["rebound_belief"] else "constant",
                     weight_decay=h["weight_decay"],
                     weight_decay_type=("l2", "decoupled", "stable")[int(h["weight_decay_type"])],
                     warmup_steps=int(h["warmup_steps"]), eps=h["eps"])


ENTRIES = (
    Entry(
        name="apollo_dqn",
        source=APOLLO_DQN,
        paper="Apollo: An Adaptive Parameter-wise Diagonal Quasi-Newton Method for Nonconvex "
              "Stochastic Optimization",
        authors="Ma",
        year=2020,
        references=(Reference("pytorch_optimizer.ApolloDQN", _apollo_dqn,
                              requires="pytorch-optimizer"),),
        settings=(
            {},
            {"rebound_belief": 1.0, "weight_decay": 0.01, "warmup_steps": 50.0, "lr": 0.05},
            {"weight_decay_type": 1.0, "weight_decay": 0.01, "warmup_steps": 20.0,
             "beta": 0.8, "init_lr": 0.001},
            {"weight_decay_type": 2.0, "weight_decay": 0.001, "warmup_steps": 10.0},
        ),
        notes="The string options are 0/1/2 hyperparameters: rebound_belief (1 = 'belief') and "
              "weight_decay_type (0 = 'l2', 1 = 'decoupled', 2 = 'stable'). The stored update "
              "u includes the decoupled decay, as in the package, and feeds the next step's "
              "Hessian estimate.",
    ),
)
