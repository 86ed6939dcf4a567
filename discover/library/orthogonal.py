"""Orthogonalised updates: Muon (``torch.optim.Muon``)."""

from __future__ import annotations

import torch

from ..references import MuonFloat64
from .base import Entry, Reference

__all__ = ["ENTRIES"]

MUON = '''
def muon(w, g, buf, lr=0.001, weight_decay=0.1, momentum=0.95, nesterov=1.0, ns_steps=5):
    """Muon: momentum orthogonalised by Newton-Schulz, for 2-D weights (torch.optim.Muon).

    buf = interp(g, buf, momentum);  u = interp(g, buf, momentum) if nesterov else buf
    update = lr * sqrt(max(1, rows / cols)) * newton_schulz(u, ns_steps) + lr * weight_decay * w

    Jordan et al., "Muon: An optimizer for hidden layers in neural networks" (2024).
    """
    buf = interp(g, buf, momentum)
    u = where(nesterov, interp(g, buf, momentum), buf)
    scale = sqrt(max(1, numel(row_mean(w)) / numel(col_mean(w))))
    return lr * scale * newton_schulz(u, ns_steps) + lr * weight_decay * w, buf
'''


def _options(h):
    return dict(lr=h["lr"], weight_decay=h["weight_decay"], momentum=h["momentum"],
                nesterov=bool(h["nesterov"]), ns_steps=int(h["ns_steps"]))


def _muon(params, h):
    return torch.optim.Muon(params, **_options(h))


def _muon_float64(params, h):
    return MuonFloat64(params, **_options(h))


ENTRIES = (
    Entry(
        name="muon",
        source=MUON,
        paper="Muon: An optimizer for hidden layers in neural networks",
        authors="Jordan et al.",
        year=2024,
        references=(
            Reference("torch.optim.Muon", _muon, tolerance=2e-2,
                      tolerance_note="torch.optim.Muon runs Newton-Schulz in bfloat16 (8 significant bits), "
                                     "the program in the parameters' dtype (measured: at most 8e-3 over 200 "
                                     "steps, seeds 0-3); the float64 reference "
                                     "(discover.references.MuonFloat64) is matched to 1e-10."),
            Reference("discover.references.MuonFloat64", _muon_float64),
        ),
        settings=(
            {},
            {"lr": 0.02, "weight_decay": 0.0, "momentum": 0.9},
            {"lr": 0.01, "nesterov": 0.0, "ns_steps": 3},
        ),
        min_ndim=2,
        max_ndim=2,
        notes="Momentum is an EMA (torch's lerp; its docstring says mu B + g). The step is "
              "scaled by sqrt(max(1, rows / cols)) (adjust_lr_fn='original'); "
              "'match_rms_adamw' is not modelled. 2-D weights only, as torch.",
    ),
)
