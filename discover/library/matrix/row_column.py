"""Second moments shared by the rows and columns of a matrix, and row/column scalings: SM3 (one
accumulator per row and per column, a cover), Subset-Norm AdamW and AdaGrad (one second moment
per row or column subset), RACS (row- and column-scaled SGD) and ROSE (steps scaled by the range
of each row).

As in ``factored.py``, row and column statistics keep the reduced shapes the program gives them
(``(..., R, 1)`` and ``(..., 1, C)``), and vectors are not factored: ``row_mean``/``col_mean``
(and ``row_max``/``col_max``) leave them unchanged, so ``r`` is then their full second moment.
"""

from __future__ import annotations

from ...references.matrix import SubsetNormAdam
from ..base import Entry, Reference

__all__ = ["ENTRIES"]

SM3 = '''
def sm3(w, g, m, ar, ac, lr=0.1, momentum=0.0, beta=0.0, eps=1e-30):
    """SM3: one accumulator per row and per column (a cover of the matrix); each entry's second
    moment is the smallest accumulator covering it.

    nu = min(ar, ac) + g^2 (beta = 0), or beta * min(ar, ac) + (1 - beta) g^2
    ar = row_max(nu), ac = col_max(nu)   (beta > 0: running maxima of these)
    m = interp(g / sqrt(nu + eps), m, momentum);  update = lr * m

    Anil, Gupta, Koren & Singer, "Memory-Efficient Adaptive Optimization" (2019), as
    pytorch_optimizer.SM3.
    """
    low = min(ar, ac)
    nu = where(beta, beta * low, low) + (1 - beta) * (g * g)
    ar = where(beta, max(ar, row_max(nu)), row_max(nu))
    ac = where(beta, max(ac, col_max(nu)), col_max(nu))
    m = interp(g * rsqrt(nu + eps), m, momentum)
    return lr * m, m, ar, ac
'''

ADAMW_SN = '''
def adamw_sn(w, g, m, vr, vc, t, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-06, weight_decay=0.0):
    """AdamW with Subset-Norm second moments: the entries of a row (or of a column, whichever
    is shorter) share one second moment, the EMA of their squared norm.

    vr = interp(row sums of g^2, vr, beta2);  vc = interp(column sums of g^2, vc, beta2)
    v = vr if rows >= cols else vc            (vectors: v = interp(g^2, v, beta2), Adam's)
    m = interp(g, m, beta1);  s = lr sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps)
    update = s + lr * weight_decay * (w - s)  (decay after the step)

    Nguyen & Nguyen, "Lean and Mean Adaptive Optimization via Subset-Norm and Subspace-Momentum
    with Convergence Guarantees" (2025).
    """
    rows = numel(row_mean(g))
    cols = numel(col_mean(g))
    g2 = g * g
    vr = interp(row_mean(g2) * (numel(g) / rows), vr, beta2)
    vc = interp(col_mean(g2) * (numel(g) / cols), vc, beta2)
    v = where(rows - cols + 0.5, vr, vc)
    m = interp(g, m, beta1)
    s = lr * sqrt(1 - beta2 ** t) / (1 - beta1 ** t) * m / (sqrt(v) + eps)
    return s + lr * weight_decay * (w - s), m, vr, vc
'''

ADAGRAD_SN = '''
def adagrad_sn(w, g, vr, vc, lr=0.001, eps=1e-06, weight_decay=0.0):
    """Subset-Norm step size (AdaGrad form): each row (or column, whichever is shorter) of a
    matrix accumulates its squared gradient norm and shares the step lr / sqrt(b^2).

    vr = vr + row sums of g^2;  vc = vc + column sums of g^2
    b2 = vr if rows >= cols else vc           (vectors: coordinate-wise AdaGrad)
    s = lr * g / (sqrt(b2) + eps);  update = s + lr * weight_decay * (w - s)

    Nguyen & Nguyen, "Lean and Mean Adaptive Optimization via Subset-Norm and Subspace-Momentum
    with Convergence Guarantees" (2025).
    """
    rows = numel(row_mean(g))
    cols = numel(col_mean(g))
    g2 = g * g
    vr = vr + row_mean(g2) * (numel(g) / rows)
    vc = vc + col_mean(g2) * (numel(g) / cols)
    s = lr * g / (sqrt(where(rows - cols + 0.5, vr, vc)) + eps)
    return s + lr * weight_decay * (w - s), vr, vc
'''

RACS = '''
def racs(w, g, s, q: 1.0, theta, t, lr=0.001, beta=0.9, alpha=0.05, gamma=1.01, weight_decay=0.0,
         eps=1e-08):
    """RACS: row- and column-scaled SGD with a norm-growth limiter.

    s = interp(row_mean(g^2), s, beta) (from 0);  q = interp(col_mean(g^2), q, beta) (from 1;
    a vector's q comes from the mean of g^2);  gh = g / (sqrt(s + eps) sqrt(q + eps))
    limit = gamma / max(||gh|| / (theta + eps), gamma) after the first step, else 1
    theta = ||gh|| * limit;  update = lr * alpha * limit * gh + lr * weight_decay * w

    Gong et al., "Towards Efficient Optimizer Design for LLM via Structured Fisher Approximation
    with a Low-Rank Extension" (2025), as pytorch_optimizer.RACS.
    """
    g2 = g * g
    s = interp(row_mean(g2), s, beta)
    q = interp(where(ndim(g) - 1, col_mean(g2), mean(g2)), q, beta)
    gh = g / (sqrt(s + eps) * sqrt(q + eps))
    n = norm(gh)
    limit = where(t - 1, gamma / max(n / (theta + eps), gamma), 1)
    return lr * alpha * limit * gh + lr * weight_decay * w, s, q, n * limit
'''

ROSE = '''
def rose(w, g, lr=0.001, weight_decay=0.0001, weight_decouple=0.0, centralize=1.0,
         stabilize=1.0):
    """ROSE: stateless steps scaled by the range of each row of the gradient, blended with the
    mean range when the ranges vary little.

    g = g + weight_decay * w unless weight_decouple;  g = g - row_mean(g) if centralize
    r = |row_max(g)| - row_min(g)   (one range per row);  mu = mean(r), sd = std(r)
    d = interp(mu, r, mu / (sd + mu)) if stabilize else r   (d = 1 where d = 0)
    update = lr * g / d (+ lr * weight_decay * w if weight_decouple)

    "Rose: Range-Of-Slice Equilibration" (2026, github.com/MatthewK78/Rose), as
    pytorch_optimizer.ROSE.
    """
    g = where(weight_decouple, g, g + weight_decay * w)
    g = where(centralize, g - row_mean(g), g)
    r = abs(row_max(g)) + row_max(-g)
    mu = mean(r)
    sd = rms(r - mu)
    blend = interp(mu, r, mu / where(mu, sd + mu, 1))
    d = where(stabilize, blend, r)
    d = where(d, d, 1)
    return lr * g / d + where(weight_decouple, lr * weight_decay * w, 0)
'''


def _sm3(params, h):
    from pytorch_optimizer import SM3  # noqa: PLC0415 - optional dependency

    return SM3(params, lr=h["lr"], momentum=h["momentum"], beta=h["beta"], eps=h["eps"])


def _adamw_sn(params, h):
    return SubsetNormAdam(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"],
                          weight_decay=h["weight_decay"])


def _adagrad_sn(params, h):
    return SubsetNormAdam(params, lr=h["lr"], betas=(0.0, 1.0), eps=h["eps"],
                          weight_decay=h["weight_decay"], correct_bias=False)


def _racs(params, h):
    from pytorch_optimizer import RACS as PoRACS  # noqa: PLC0415 - optional dependency

    return PoRACS(params, lr=h["lr"], beta=h["beta"], alpha=h["alpha"], gamma=h["gamma"],
                  weight_decay=h["weight_decay"], eps=h["eps"])


def _rose(params, h):
    from pytorch_optimizer import ROSE as PoROSE  # noqa: PLC0415 - optional dependency

    return PoROSE(params, lr=h["lr"], weight_decay=h["weight_decay"],
                  weight_decouple=bool(h["weight_decouple"]), centralize=bool(h["centralize"]),
                  stabilize=bool(h["stabilize"]))


ENTRIES = (
    Entry(
        name="sm3",
        source=SM3,
        paper="Memory-Efficient Adaptive Optimization",
        authors="Anil, Gupta, Koren & Singer",
        year=2019,
        references=(Reference("pytorch_optimizer.SM3", _sm3, requires="pytorch-optimizer"),),
        settings=(
            {},
            {"lr": 0.05, "momentum": 0.9},
            {"lr": 0.2, "beta": 0.9, "momentum": 0.5, "eps": 1e-8},
        ),
        max_ndim=2,
        notes="SM3-II with the row/column cover of a matrix (a vector's cover is its entries). "
              "pytorch_optimizer keeps one accumulator per dimension for higher-rank tensors "
              "(max over all other dims); row_max/col_max act on the last two dims, so conv "
              "kernels are not verified. beta > 0 is the package's exponential variant.",
    ),
    Entry(
        name="adamw_sn",
        source=ADAMW_SN,
        paper="Lean and Mean Adaptive Optimization via Subset-Norm and Subspace-Momentum with "
              "Convergence Guarantees",
        authors="Nguyen & Nguyen",
        year=2025,
        references=(Reference("discover.references.matrix.SubsetNormAdam", _adamw_sn),),
        settings=(
            {},
            {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.1},
            {"lr": 0.003, "beta1": 0.0, "eps": 1e-8},
        ),
        max_ndim=2,
        notes="The official AdamW-SN (timmytonga/sn-sm) with the paper's subset heuristic: a "
              "matrix's subsets are its rows if rows >= cols, else its columns; vectors get "
              "Adam; weight decay is applied after the step, as that code does. Both row and "
              "column statistics are kept (R + C numbers) and the shorter side's is used. The "
              "official code has no rule for conv kernels (not verified). pytorch_optimizer's "
              "AdamWSN instead splits the flattened tensor into chunks of a size near "
              "sqrt(numel) (the largest divisor below it), which no program op expresses.",
    ),
    Entry(
        name="adagrad_sn",
        source=ADAGRAD_SN,
        paper="Lean and Mean Adaptive Optimization via Subset-Norm and Subspace-Momentum with "
              "Convergence Guarantees",
        authors="Nguyen & Nguyen",
        year=2025,
        references=(
            Reference("discover.references.matrix.SubsetNormAdam(betas=(0, 1), "
                      "correct_bias=False)",
                      _adagrad_sn),
        ),
        settings=(
            {},
            {"lr": 0.01, "weight_decay": 0.1},
            {"lr": 0.1, "eps": 1e-8},
        ),
        max_ndim=2,
        reference_overrides=("betas", "correct_bias"),
        notes="The Subset-Norm step size the paper analyses (AdaGrad accumulation, no momentum), "
              "as the official code runs it (betas=(0, 1), no bias correction), with the row / "
              "column subset heuristic; vectors get coordinate-wise AdaGrad. Defaults are the "
              "official optimizer's (lr=1e-3, eps=1e-6).",
    ),
    Entry(
        name="racs",
        source=RACS,
        paper="Towards Efficient Optimizer Design for LLM via Structured Fisher Approximation "
              "with a Low-Rank Extension",
        authors="Gong et al.",
        year=2025,
        references=(Reference("pytorch_optimizer.RACS", _racs, requires="pytorch-optimizer"),),
        settings=(
            {},
            {"lr": 0.01, "beta": 0.5, "alpha": 0.2, "weight_decay": 0.1},
            {"lr": 0.003, "gamma": 1.1, "eps": 1e-4},
        ),
        max_ndim=2,
        notes="pytorch_optimizer.RACS: a vector is read as an n x 1 matrix (per-entry s, one q "
              "from the mean of g^2); tensors above 2-D are flattened to (out, rest), whose "
              "column statistics no program op gives, so conv kernels are not verified. Its "
              "low-rank extension Alice needs QR and eigendecompositions every step "
              "(docs/catalogue_matrix.md).",
    ),
    Entry(
        name="rose",
        source=ROSE,
        paper="Rose: Range-Of-Slice Equilibration (PyTorch optimizer, no paper)",
        authors="MatthewK78 (GitHub)",
        year=2026,
        references=(Reference("pytorch_optimizer.ROSE", _rose, requires="pytorch-optimizer"),),
        settings=(
            {},
            {"lr": 0.01, "weight_decay": 0.01, "weight_decouple": 1.0},
            {"lr": 0.003, "centralize": 0.0, "stabilize": 0.0, "weight_decay": 0.0},
        ),
        min_ndim=2,
        max_ndim=2,
        notes="pytorch_optimizer.ROSE for matrices (a row is a unit). Its vectors use the "
              "tensor's |max| - min, which needs a signed per-tensor max no op gives, and its "
              "conv kernels reduce over all dims but the first (a unit max op would be needed); "
              "neither is verified. Stochastic bf16 rounding only acts on bfloat16 weights.",
    ),
)
