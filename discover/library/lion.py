"""Sign-of-momentum rules found by program search: Lion (``pytorch_optimizer.Lion``)."""

from __future__ import annotations

from .base import Entry, Reference

__all__ = ["ENTRIES"]

LION = '''
def lion(w, g, m, lr=0.0001, beta1=0.9, beta2=0.99, weight_decay=0.0):
    """Lion: EvoLved Sign Momentum.

    update = lr * (sign(interp(g, m, beta1)) + weight_decay * w);  m = interp(g, m, beta2)

    Chen et al., "Symbolic Discovery of Optimization Algorithms" (2023).
    """
    u = sign(interp(g, m, beta1))
    m = interp(g, m, beta2)
    return lr * (u + weight_decay * w), m
'''


def _lion(params, h):
    from pytorch_optimizer import Lion  # noqa: PLC0415 - optional dependency

    return Lion(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]),
                weight_decay=h["weight_decay"])


ENTRIES = (
    Entry(
        name="lion",
        source=LION,
        paper="Symbolic Discovery of Optimization Algorithms",
        authors="Chen et al.",
        year=2023,
        references=(Reference("pytorch_optimizer.Lion", _lion, requires="pytorch-optimizer"),),
        settings=(
            {},
            {"lr": 0.001, "beta1": 0.95, "beta2": 0.98, "weight_decay": 0.1},
            {"lr": 0.0003, "beta1": 0.5, "beta2": 0.999, "weight_decay": 1.0},
        ),
        notes="The paper's program; decoupled weight decay scaled by lr (the paper's lambda). "
              "Use an lr 3-10x smaller than AdamW's and a weight decay 3-10x larger.",
    ),
)
