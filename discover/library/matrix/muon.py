"""Muon and its relatives: momentum orthogonalised by Newton-Schulz -- Muon (``torch.optim.Muon``),
AdaGO's AdaGrad-norm step, pytorch_optimizer's AdaMuon and NorMuon (a second moment on the
orthogonalised momentum) and MARS-Shampoo (Newton-Schulz on MARS's variance-reduced momentum).

torch.optim.Muon and pytorch_optimizer run Newton-Schulz in bfloat16, whereas the
``newton_schulz`` op works in the parameters' dtype, so each program is verified twice: against
the class as shipped (bfloat16, a tolerance that says so) and against a float64 twin
(:class:`discover.references.MuonFloat64`, or the same class with Newton-Schulz switched to
float64 by :func:`discover.references.matrix.with_float64_newton_schulz`; 1e-10).
pytorch_optimizer also flattens tensors with more than two dims to ``(out, in * kh * kw)``, where
the op works on the last two dims, so its programs are verified on matrices only. Their AdamW
fallback for ``use_muon=False`` groups is the ``adamw`` entry.
"""

from __future__ import annotations

import torch

from ...references import MuonFloat64
from ...references.matrix import AdaGO, with_float64_newton_schulz
from .. import signatures
from ..base import Entry, Reference

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

ADAGO = '''
def adago(w, g, m, v: v0, lr=0.05, momentum=0.95, gamma=10.0, eps=0.0005, v0=1e-06, ns_steps=5):
    """AdaGO: Muon's orthogonalised momentum with an AdaGrad-norm step size, for matrices.

    m = interp(g, m, momentum)
    v = sqrt(v^2 + min(||g||^2, gamma^2))                 (v starts at v0)
    update = max(eps, lr * min(||g||, gamma) / v) * newton_schulz(m, ns_steps)

    Zhang, Liu & Schaeffer, "AdaGrad Meets Muon: Adaptive Stepsizes for Orthogonal Updates"
    (2025).
    """
    m = interp(g, m, momentum)
    gn = norm(g)
    v = sqrt(v * v + min(gn * gn, gamma * gamma))
    alpha = max(eps, lr * min(gn, gamma) / v)
    return alpha * newton_schulz(m, ns_steps), m, v
'''

ADAGO_PO = '''
def adago_po(w, g, m, v: v0, lr=0.05, momentum=0.95, weight_decay=0.0, gamma=10.0, eps=0.0005,
             v0=1e-06, nesterov=0.0, ns_steps=5):
    """AdaGO as pytorch_optimizer.AdaGO: the accumulated squared norms divide the step unrooted.

    m = interp(g, m, momentum);  u = interp(g, m, momentum) if nesterov else m
    v = v + min(||g||^2, gamma^2)                          (v starts at v0)
    alpha = max(lr * sqrt(max(1, rows / cols)) * min(||g or u||, gamma) / v, eps)
    update = alpha * newton_schulz(u, ns_steps) + lr * weight_decay * w

    Zhang, Liu & Schaeffer, "AdaGrad Meets Muon: Adaptive Stepsizes for Orthogonal Updates"
    (2025); the paper divides by sqrt(v) (see adago).
    """
    m = interp(g, m, momentum)
    gn = norm(g)
    v = v + min(gn * gn, gamma * gamma)
    u = where(nesterov, interp(g, m, momentum), m)
    un = where(nesterov, norm(u), gn)
    scale = sqrt(max(1, numel(row_mean(w)) / numel(col_mean(w))))
    alpha = max(lr * scale * min(un, gamma) / v, eps)
    return alpha * newton_schulz(u, ns_steps) + lr * weight_decay * w, m, v
'''

ADAMUON = '''
def adamuon(w, g, m, v, t, lr=0.02, beta1=0.9, beta2=0.95, weight_decay=0.0, eps=1e-10,
            use_adjusted_lr=1.0, ns_steps=5):
    """AdaMuon as pytorch_optimizer.AdaMuon: Adam's second moment on the orthogonalised momentum,
    rescaled to norm sqrt(min(rows, cols)).

    m = interp(g, m, beta1);  o = newton_schulz(m, ns_steps);  v = interp(o^2, v, beta2)
    u = o / (sqrt(v / (1 - beta2^t)) + eps);  u = sqrt(min(rows, cols)) * u / (||u|| + eps)
    update = lr * s * u + lr * weight_decay * w,
    s = 0.2 sqrt(max(rows, cols)) if use_adjusted_lr else sqrt(max(1, rows / cols))

    Si et al., "AdaMuon: Adaptive Muon Optimizer" (2025), as implemented by pytorch_optimizer.
    """
    rows = numel(row_mean(w))
    cols = numel(col_mean(w))
    m = interp(g, m, beta1)
    o = newton_schulz(m, ns_steps)
    v = interp(o * o, v, beta2)
    u = o / (sqrt(v / (1 - beta2 ** t)) + eps)
    u = u * sqrt(min(rows, cols)) / (norm(u) + eps)
    s = where(use_adjusted_lr, 0.2 * sqrt(max(rows, cols)), sqrt(max(1, rows / cols)))
    return lr * s * u + lr * weight_decay * w, m, v
'''

NORMUON = '''
def normuon(w, g, m, v, lr=0.02, momentum=0.95, beta2=0.95, weight_decay=0.0, eps=1e-10,
            nesterov=1.0, match_rms=0.0, ns_steps=5):
    """NorMuon: Muon's orthogonalised momentum normalised per row by an EMA of its row mean
    square, then rescaled to the orthogonalised update's norm.

    m = interp(g, m, momentum);  o = newton_schulz(interp(g, m, momentum) if nesterov else m)
    v = interp(row_mean(o^2), v, beta2)          (one value per row)
    u = o / (sqrt(v) + eps)
    update = lr * sqrt(max(1, rows / cols)) * ||o|| * u / (||u|| + eps) + lr * weight_decay * w
    (match_rms: lr * 0.2 sqrt(numel) * u / (||u|| + eps) instead)

    Li et al., "NorMuon: Making Muon more efficient and scalable" (2025), as implemented by
    pytorch_optimizer.
    """
    m = interp(g, m, momentum)
    o = newton_schulz(where(nesterov, interp(g, m, momentum), m), ns_steps)
    v = interp(row_mean(o * o), v, beta2)
    u = o / (sqrt(v) + eps)
    keep = lr * sqrt(max(1, numel(row_mean(w)) / numel(col_mean(w)))) * norm(o)
    by_rms = lr * 0.2 * sqrt(numel(u))
    return where(match_rms, by_rms, keep) * u / (norm(u) + eps) + lr * weight_decay * w, m, v
'''

MARS_SHAMPOO = '''
def mars_shampoo(w, g, m, v, last_grad, t, lr=0.003, beta1=0.95, beta2=0.99, gamma=0.025,
                 optimize_1d=0.0, lr_1d=0.003, beta1_1d=0.9, beta2_1d=0.95, weight_decay=0.0,
                 weight_decay_1d=0.1, eps=1e-08):
    """MARS-Shampoo (approximate MARS): Newton-Schulz on a momentum of clipped
    variance-reduced gradients, for matrices; AdamW for the other tensors.

    c = g + gamma * beta1 / (1 - beta1) * (g - g_prev);  c = c / max(||c||, 1)
    matrices: m = interp(c, m, beta1)
              update = lr * sqrt(max(1, rows / cols)) * newton_schulz(m / (1 - beta1), 5)
    others: AdamW on c (optimize_1d) or on g with (lr_1d, beta1_1d, beta2_1d, weight_decay_1d):
            update = lr * m / ((sqrt(v + 1e-15) + eps) / sqrt(1 - beta2^t) * (1 - beta1^t))
    plus decoupled weight decay lr * weight_decay * w

    Yuan et al., "MARS: Unleashing the Power of Variance Reduction for Training Large Models"
    (2024).
    """
    matrix = ndim(g) - 1
    mixed = where(optimize_1d, 1, matrix)
    c = g + gamma * beta1 / (1 - beta1) * (g - last_grad)
    c = c / max(norm(c), 1)
    d = where(mixed, c, g)
    b1 = where(mixed, beta1, beta1_1d)
    b2 = where(mixed, beta2, beta2_1d)
    m = interp(d, m, b1)
    v = where(matrix, v, interp(d * d, v, b2))
    adam = m / ((sqrt(v + 1e-15) + eps) / sqrt(1 - b2 ** t) * (1 - b1 ** t))
    shape = sqrt(max(1, numel(row_mean(w)) / numel(col_mean(w))))
    ortho = newton_schulz(m / (1 - beta1), 5) * shape
    lr_t = where(mixed, lr, lr * (lr_1d / lr))
    decay = where(mixed, weight_decay, weight_decay_1d)
    return lr_t * where(matrix, ortho, adam) + lr_t * decay * w, m, v, g
'''


def _options(h):
    return dict(lr=h["lr"], weight_decay=h["weight_decay"], momentum=h["momentum"],
                nesterov=bool(h["nesterov"]), ns_steps=int(h["ns_steps"]))


def _muon(params, h):
    return torch.optim.Muon(params, **_options(h))


def _muon_float64(params, h):
    return MuonFloat64(params, **_options(h))


BF16_NOTE = ("pytorch_optimizer runs Newton-Schulz in bfloat16 (8 significant bits), the program "
             "in the parameters' dtype; the tolerance is about twice the largest difference "
             "measured over 200 steps, seeds 0-3 ({measured:.1e}). The same class with float64 "
             "Newton-Schulz is the primary reference, matched to 1e-10.")


def _adago(params, h):
    return AdaGO(params, lr=h["lr"], momentum=h["momentum"], gamma=h["gamma"], eps=h["eps"],
                 v0=h["v0"], ns_steps=int(h["ns_steps"]))


def _muon_group(name: str, float64: bool):
    """``Reference.make`` for pytorch_optimizer class ``name`` on one ``use_muon=True`` group."""

    def make(params, h):
        import pytorch_optimizer  # noqa: PLC0415 - optional dependency

        cls = getattr(pytorch_optimizer, name)
        if float64:
            cls = with_float64_newton_schulz(cls)
        group = {"params": list(params), "use_muon": True}
        return cls([group], **_PO_OPTIONS[name](h))

    return make


_PO_OPTIONS = {
    "AdaGO": lambda h: dict(lr=h["lr"], momentum=h["momentum"], weight_decay=h["weight_decay"],
                            gamma=h["gamma"], eps=h["eps"], v=h["v0"],
                            nesterov=bool(h["nesterov"]), ns_steps=int(h["ns_steps"])),
    "AdaMuon": lambda h: dict(lr=h["lr"], betas=(h["beta1"], h["beta2"]),
                              weight_decay=h["weight_decay"], eps=h["eps"],
                              use_adjusted_lr=bool(h["use_adjusted_lr"]),
                              ns_steps=int(h["ns_steps"])),
    "NorMuon": lambda h: dict(lr=h["lr"], momentum=h["momentum"], beta2=h["beta2"],
                              weight_decay=h["weight_decay"], eps=h["eps"],
                              nesterov=bool(h["nesterov"]), ns_steps=int(h["ns_steps"]),
                              update_scale="match_rms" if h["match_rms"] else "preserve_norm"),
}


def _mars_shampoo(float64: bool):
    def make(params, h):
        from pytorch_optimizer import MARS  # noqa: PLC0415 - optional dependency

        cls = with_float64_newton_schulz(MARS) if float64 else MARS
        return cls(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), gamma=h["gamma"],
                   mars_type="shampoo", optimize_1d=bool(h["optimize_1d"]), lr_1d=h["lr_1d"],
                   betas_1d=(h["beta1_1d"], h["beta2_1d"]), weight_decay=h["weight_decay"],
                   weight_decay_1d=h["weight_decay_1d"], eps=h["eps"])

    return make


def _po_references(cls, bf16_measured, bf16_tolerance):
    """pytorch_optimizer.<cls> with float64 Newton-Schulz (1e-10), then the class as shipped
    (bfloat16 Newton-Schulz) within twice the measured difference."""
    return (
        Reference(f"pytorch_optimizer.{cls} (float64 Newton-Schulz)",
                  _muon_group(cls, float64=True), requires="pytorch-optimizer"),
        Reference(f"pytorch_optimizer.{cls} (bfloat16 Newton-Schulz, as shipped)",
                  _muon_group(cls, float64=False), requires="pytorch-optimizer",
                  tolerance=bf16_tolerance,
                  tolerance_note=BF16_NOTE.format(measured=bf16_measured)),
    )


ENTRIES = (
    Entry(
        name="muon",
        signature=signatures.MUON,
        source=MUON,
        paper="Muon: An optimizer for hidden layers in neural networks",
        authors="Jordan et al.",
        year=2024,
        references=(
            Reference("torch.optim.Muon", _muon, tolerance=2e-2,
                      tolerance_note="torch.optim.Muon runs Newton-Schulz in bfloat16 (8 "
                                     "significant bits), the program in the parameters' dtype "
                                     "(measured: at most 8e-3 over 200 steps, seeds 0-3); the "
                                     "float64 reference (discover.references.MuonFloat64) is "
                                     "matched to 1e-10."),
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
    Entry(
        name="adago",
        source=ADAGO,
        paper="AdaGrad Meets Muon: Adaptive Stepsizes for Orthogonal Updates",
        authors="Zhang, Liu & Schaeffer",
        year=2025,
        references=(Reference("discover.references.matrix.AdaGO", _adago),),
        settings=(
            {},
            {"lr": 0.1, "momentum": 0.9, "gamma": 1.0},
            {"lr": 0.02, "eps": 0.01, "v0": 0.5, "ns_steps": 3},
        ),
        min_ndim=2,
        max_ndim=2,
        notes="The paper's rule: the step divides by v = sqrt(v0^2 + sum min(||g||^2, gamma^2)). "
              "pytorch_optimizer.AdaGO divides by the unrooted sum (adago_po), starts that sum "
              "at v0, scales lr by sqrt(max(1, rows / cols)) and offers Nesterov momentum and "
              "weight decay. Defaults are pytorch_optimizer's. Matrices only.",
    ),
    Entry(
        name="adago_po",
        source=ADAGO_PO,
        paper="AdaGrad Meets Muon: Adaptive Stepsizes for Orthogonal Updates",
        authors="Zhang, Liu & Schaeffer",
        year=2025,
        references=_po_references("AdaGO", bf16_measured=2.2e-3, bf16_tolerance=5e-3),
        settings=({}, {"lr": 0.1, "momentum": 0.9, "gamma": 1.0, "weight_decay": 0.01},
                  {"lr": 0.02, "eps": 0.01, "v0": 0.5, "nesterov": 1.0, "ns_steps": 3}),
        min_ndim=2,
        max_ndim=2,
        notes="pytorch_optimizer's form: divides by the accumulated squared norms, not their root "
              "(the paper's adago); with Nesterov the step size uses the Nesterov-mixed "
              "gradient's norm, as the package does. Its conv kernels are flattened to (out, "
              "rest); here matrices only.",
    ),
    Entry(
        name="adamuon",
        source=ADAMUON,
        paper="AdaMuon: Adaptive Muon Optimizer",
        authors="Si, Zhang, Zhang, Wu, Wang & Yang",
        year=2025,
        references=_po_references("AdaMuon", bf16_measured=1.0e-1, bf16_tolerance=2e-1),
        settings=({}, {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.01},
                  {"lr": 0.05, "use_adjusted_lr": 0.0, "eps": 1e-6, "ns_steps": 3}),
        min_ndim=2,
        max_ndim=2,
        notes="pytorch_optimizer.AdaMuon; whether the paper's adaptive Muon (and the one studied "
              "in 'What Really Matters in Matrix-Whitening Optimizers?') matches it exactly is "
              "unverified. Matrices only. The shipped class's bfloat16 error is amplified by the "
              "elementwise division by sqrt(v), hence its loose bfloat16 tolerance.",
    ),
    Entry(
        name="normuon",
        source=NORMUON,
        paper="NorMuon: Making Muon more efficient and scalable",
        authors="Li et al.",
        year=2025,
        references=_po_references("NorMuon", bf16_measured=7.1e-3, bf16_tolerance=1.5e-2),
        settings=({}, {"lr": 0.01, "momentum": 0.9, "beta2": 0.99, "weight_decay": 0.01},
                  {"lr": 0.05, "nesterov": 0.0, "match_rms": 1.0, "eps": 1e-6, "ns_steps": 3}),
        min_ndim=2,
        max_ndim=2,
        notes="pytorch_optimizer.NorMuon (update_scale 'preserve_norm', or 'match_rms' with "
              "match_rms=1). Matrices only.",
    ),
    Entry(
        name="mars_shampoo",
        source=MARS_SHAMPOO,
        paper="MARS: Unleashing the Power of Variance Reduction for Training Large Models",
        authors="Yuan, Liu, Wu, Zhou, Gu & Gu",
        year=2024,
        references=(
            Reference("pytorch_optimizer.MARS(mars_type='shampoo') (float64 Newton-Schulz)",
                      _mars_shampoo(float64=True), requires="pytorch-optimizer"),
            Reference("pytorch_optimizer.MARS(mars_type='shampoo') (bfloat16 Newton-Schulz, as "
                      "shipped)", _mars_shampoo(float64=False), requires="pytorch-optimizer",
                      tolerance=1e-2,
                      tolerance_note="pytorch_optimizer runs Newton-Schulz in bfloat16; "
                                     "measured at most 3e-3 over 200 steps, seeds 0-3. The "
                                     "float64 twin is matched to 1e-10."),
        ),
        settings=(
            {},
            {"lr": 0.01, "beta1": 0.9, "gamma": 0.05, "weight_decay": 0.1, "lr_1d": 0.01},
            {"lr": 0.001, "optimize_1d": 1.0, "beta2": 0.95, "weight_decay_1d": 0.0},
        ),
        max_ndim=2,
        reference_overrides=("mars_type",),
        notes="Approximate MARS as pytorch_optimizer implements it (g_prev is the previous "
              "step's stochastic gradient; exact MARS needs the gradient of the current batch "
              "at the previous weights). The 'Shampoo' type is the paper's Newton-Schulz "
              "(Muon-like) instance, not a Kronecker preconditioner. The package passes eps "
              "(1e-8) as the Newton-Schulz norm floor where the op uses 1e-7 (equal unless "
              "||m|| / (1 - beta1) < 1e-7) and flattens conv kernels (not verified).",
    ),
)
