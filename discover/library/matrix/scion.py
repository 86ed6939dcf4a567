"""SCION and SCIONLight: momentum through a linear minimisation oracle over a norm ball (spectral
for matrices, RMS for vectors), the steepest-descent view of Muon.

pytorch_optimizer runs the spectral oracle's Newton-Schulz in bfloat16; each program is verified
against the class with Newton-Schulz switched to float64
(:func:`discover.references.matrix.with_float64_newton_schulz`, 1e-10), and SCION also against
the class as shipped, within a tolerance that says so.
"""

from __future__ import annotations

from ...references.matrix import with_float64_newton_schulz
from ..base import Entry, Reference

__all__ = ["ENTRIES"]

SCION = '''
def scion(w, g, d, lr=0.001, momentum=0.1, scale=1.0, weight_decay=0.0, constraint=0.0):
    """SCION: momentum through a linear minimisation oracle over a norm ball, spectral for
    matrices (Muon's direction scaled by sqrt(rows / cols)) and RMS for vectors.

    d = interp(d, g, momentum)                      (momentum is the weight of the new gradient)
    lmo = sqrt(rows / cols) newton_schulz(d, 5) for matrices, d / (rms(d) + 1e-8) for vectors
    update = lr * scale * lmo + (lr * w if constraint else lr * weight_decay * w)

    Pethick, Xie, Erdogan, Mertikopoulos & Cevher, "Training Deep Learning Models with
    Norm-Constrained LMOs" (2025).
    """
    d = interp(d, g, momentum)
    spectral = newton_schulz(d, 5) * sqrt(numel(row_mean(w)) / numel(col_mean(w)))
    lmo = where(ndim(d) - 1, spectral, d / (rms(d) + 1e-08))
    decay = where(constraint, lr * w, lr * weight_decay * w)
    return lr * scale * lmo + decay, d
'''

SCION_LIGHT = '''
def scion_light(w, g, d, lr=0.001, momentum=0.1, scale=1.0, weight_decay=0.0, constraint=0.0):
    """SCIONLight: SCION with the momentum kept in the gradient buffer, which the step scales
    by 1 - momentum and the next backward pass adds to.

    b = d + g;  lmo = sqrt(rows / cols) newton_schulz(b, 5) (matrices) or b / (rms(b) + 1e-8)
    update = lr * scale * lmo + (lr * w if constraint else lr * weight_decay * w)
    d = (1 - momentum) * b

    Pethick, Xie, Erdogan, Mertikopoulos & Cevher, "Training Deep Learning Models with
    Norm-Constrained LMOs" (2025).
    """
    b = d + g
    spectral = newton_schulz(b, 5) * sqrt(numel(row_mean(w)) / numel(col_mean(w)))
    lmo = where(ndim(b) - 1, spectral, b / (rms(b) + 1e-08))
    decay = where(constraint, lr * w, lr * weight_decay * w)
    return lr * scale * lmo + decay, (1 - momentum) * b
'''


def _scion(light: bool, float64: bool):
    """pytorch_optimizer.SCION / SCIONLight (norm_type AUTO) on one group. SCIONLight keeps its
    momentum in ``p.grad``, relying on ``backward()`` adding new gradients to it (no
    ``zero_grad``); verify assigns fresh gradients, so the wrapper adds the kept buffer back."""

    def make(params, h):
        import pytorch_optimizer  # noqa: PLC0415 - optional dependency

        cls = pytorch_optimizer.SCIONLight if light else pytorch_optimizer.SCION
        if float64:
            cls = with_float64_newton_schulz(cls)
        if light:
            cls = _accumulating_gradients(cls)
        return cls(params, lr=h["lr"], momentum=h["momentum"], scale=h["scale"],
                   weight_decay=h["weight_decay"], constraint=bool(h["constraint"]))

    return make


def _accumulating_gradients(cls: type) -> type:
    class AccumulatingGradients(cls):
        def step(self, closure=None):
            params = [p for group in self.param_groups for p in group["params"]
                      if p.grad is not None]
            kept = getattr(self, "_kept", {})
            for p in params:
                if id(p) in kept and kept[id(p)] is not p.grad:
                    p.grad.add_(kept[id(p)])  # what backward() into the kept buffer would give
            loss = super().step(closure)
            self._kept = {id(p): p.grad for p in params}  # scaled in place by the step
            return loss

    return AccumulatingGradients


ENTRIES = (
    Entry(
        # momentum is the weight of the new gradient: 1.0 means none kept
        bounds=(("momentum", (0.0, None)),),
        name="scion",
        source=SCION,
        paper="Training Deep Learning Models with Norm-Constrained LMOs",
        authors="Pethick, Xie, Erdogan, Mertikopoulos & Cevher",
        year=2025,
        references=(
            Reference("pytorch_optimizer.SCION (float64 Newton-Schulz)",
                      _scion(light=False, float64=True), requires="pytorch-optimizer"),
            Reference("pytorch_optimizer.SCION (bfloat16 Newton-Schulz, as shipped)",
                      _scion(light=False, float64=False), requires="pytorch-optimizer",
                      tolerance=4e-2,
                      tolerance_note="pytorch_optimizer runs Newton-Schulz in bfloat16 (8 "
                                     "significant bits); measured at most 1.9e-2 over 200 "
                                     "steps, seeds 0-3. The float64 twin is matched to 1e-10."),
        ),
        settings=(
            {},
            {"lr": 0.01, "momentum": 0.5, "scale": 2.0, "weight_decay": 0.1},
            {"lr": 0.02, "momentum": 1.0, "constraint": 1.0, "scale": 0.5},
        ),
        max_ndim=2,
        notes="pytorch_optimizer's SCION with its AUTO norm (spectral LMO for matrices, RMS for "
              "vectors; uSCG, or SCG with constraint=1: w = (1 - lr) w - lr * scale * lmo). Conv "
              "kernels use a flattened spectral LMO divided by the kernel volume, which the "
              "program does not express (not verified). Newton-Schulz is fixed at 5 steps, as "
              "the AUTO norm fixes it. Coupled weight decay (weight_decouple=False) is not "
              "modelled.",
    ),
    Entry(
        bounds=(("momentum", (0.0, None)),),
        name="scion_light",
        source=SCION_LIGHT,
        paper="Training Deep Learning Models with Norm-Constrained LMOs",
        authors="Pethick, Xie, Erdogan, Mertikopoulos & Cevher",
        year=2025,
        references=(
            Reference("pytorch_optimizer.SCIONLight (float64 Newton-Schulz, accumulated "
                      "gradients)",
                      _scion(light=True, float64=True), requires="pytorch-optimizer"),
        ),
        settings=(
            {},
            {"lr": 0.01, "momentum": 0.5, "scale": 2.0, "weight_decay": 0.1},
            {"lr": 0.02, "momentum": 0.9, "constraint": 1.0, "scale": 0.5},
        ),
        max_ndim=2,
        notes="SCIONLight's momentum lives in p.grad: the step scales it by 1 - momentum and the "
              "next backward() adds the new gradient (the training loop must not zero the "
              "gradients). The program keeps that buffer as state d; the reference is the "
              "package class with float64 Newton-Schulz and gradients accumulated as backward() "
              "would. Same norms and limits as scion. With momentum=1 the package leaves the "
              "buffer unscaled (it expects the loop to zero it), so the program's d = 0 matches "
              "it only if gradients are zeroed; momentum=1 is not verified.",
    ),
)
