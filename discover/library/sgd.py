"""Stochastic gradient descent with heavy-ball or Nesterov momentum (``torch.optim.SGD``)."""

from __future__ import annotations

import torch

from .base import Entry, Reference

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


def _sgd(params, h):
    return torch.optim.SGD(params, lr=h["lr"], momentum=h["momentum"], dampening=h["dampening"],
                           weight_decay=h["weight_decay"], nesterov=bool(h["nesterov"]))


ENTRIES = (
    Entry(
        name="sgd",
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
)
