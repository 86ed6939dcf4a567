"""Low-rank gradient projections: GaLore keeps Adam's state in the span of the gradient's top
singular vectors, refreshed every ``update_proj_gap`` steps.

GaLore projects on the shorter side: a tall matrix (rows >= cols) on its top right singular
vectors, a wide one on its left ones. The program writes this as ``low = ql^T g qr`` with
``ql = U`` (top-r columns kept, the rest zeroed) and ``qr = I`` for a wide matrix, ``ql = I`` and
``qr = V`` for a tall one, so every shape is fixed by the gradient's. The projected gradient and
Adam's moments therefore keep the gradient's shape with zeros outside the rank-r coordinates:
GaLore's maths, not its memory saving. Vectors are not projected (``svd_left``/``svd_right`` of a
vector are ones), so they get Adam, as in the package.
"""

from __future__ import annotations

from ...references.matrix import SubspaceMomentumSN, with_float64_svd
from ..base import Entry, Reference

__all__ = ["ENTRIES"]

GALORE = '''
def galore(w, g, ql, qr, m, v, t, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-06, weight_decay=0.0,
           rank=128, update_proj_gap=200, scale=0.25):
    """GaLore: Adam on the gradient projected onto its top-r singular vectors (on the shorter
    side), the basis refreshed at the first step and every update_proj_gap steps.

    at t = 1 and t % update_proj_gap = 0: ql, qr = I, V_r (rows >= cols) or U_r, I (wide)
    low = ql^T g qr;  m = interp(low, m, beta1);  v = interp(low^2, v, beta2)
    s = lr sqrt(1 - beta2^t) / (1 - beta1^t) * scale * ql (m / (sqrt(v) + eps)) qr^T
    update = s + lr * weight_decay * (w - s)       (vectors: Adam, scale 1)

    Zhao et al., "GaLore: Memory-Efficient LLM Training by Gradient Low-Rank Projection" (2024).
    """
    refresh = where(t - 1, 0.5 - fmod(t, update_proj_gap), 1)
    tall = numel(row_mean(g)) - numel(col_mean(g)) + 0.5
    left = svd_left(g, rank)
    right = svd_right(g, rank)
    ql = where(refresh, where(tall, eye_like(left), left), ql)
    qr = where(refresh, where(tall, right, eye_like(right)), qr)
    low = matmul(matmul(transpose(ql), g), qr)
    m = interp(low, m, beta1)
    v = interp(low * low, v, beta2)
    back = matmul(matmul(ql, m / (sqrt(v) + eps)), transpose(qr))
    s = lr * sqrt(1 - beta2 ** t) / (1 - beta1 ** t) * where(ndim(g) - 1, scale, 1) * back
    return s + lr * weight_decay * (w - s), ql, qr, m, v
'''


ADAMW_SNSM = '''
def adamw_snsm(w, g, ql, qr, m, vr, vc, t, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-06,
               weight_decay=0.0, rank=128, update_proj_gap=200):
    """SNSM: Subspace-Momentum (momentum in the gradient's top-r singular subspace, plain
    gradient on the complement) with Subset-Norm second moments.

    ql, qr as in galore (refreshed at t = 1 and t % update_proj_gap = 0);  low = ql^T g qr
    mu = interp(low, m, beta1);  n = ql mu qr^T + (g - ql low qr^T)   (vectors: n = mu)
    m = 0 after a refresh step (t > 1), else mu          (the code resets the stored momentum)
    v = subset-norm second moment (rows if rows >= cols, else columns; as adamw_sn)
    s = lr sqrt(1 - beta2^t) / (1 - beta1^t) * n / (sqrt(v) + eps)
    update = s + lr * weight_decay * (w - s)

    Nguyen & Nguyen, "Lean and Mean Adaptive Optimization via Subset-Norm and Subspace-Momentum
    with Convergence Guarantees" (2025).
    """
    matrix = ndim(g) - 1
    refresh = where(t - 1, 0.5 - fmod(t, update_proj_gap), 1)
    rows = numel(row_mean(g))
    cols = numel(col_mean(g))
    tall = rows - cols + 0.5
    left = svd_left(g, rank)
    right = svd_right(g, rank)
    ql = where(refresh, where(tall, eye_like(left), left), ql)
    qr = where(refresh, where(tall, right, eye_like(right)), qr)
    low = matmul(matmul(transpose(ql), g), qr)
    mu = interp(low, m, beta1)
    inside = matmul(matmul(ql, mu), transpose(qr))
    n = where(matrix, inside + (g - matmul(matmul(ql, low), transpose(qr))), mu)
    m = where(matrix, where(t - 1, where(refresh, 0, mu), mu), mu)
    g2 = g * g
    vr = interp(row_mean(g2) * (numel(g) / rows), vr, beta2)
    vc = interp(col_mean(g2) * (numel(g) / cols), vc, beta2)
    s = lr * sqrt(1 - beta2 ** t) / (1 - beta1 ** t) * n / (sqrt(where(tall, vr, vc)) + eps)
    return s + lr * weight_decay * (w - s), ql, qr, m, vr, vc
'''


FIRA = '''
def fira(w, g, ql, qr, m, v, limit, t, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-06,
         weight_decay=0.0, rank=128, update_proj_gap=200, scale=0.25):
    """Fira: GaLore plus the gradient's out-of-subspace residual, scaled per row (tall) or column
    (wide) by how much Adam rescaled the projected gradient, under a norm-growth limiter.

    ql, qr, low, m, v and the projected Adam step n = m / (sqrt(v) + eps) as in galore
    phi = ||n|| / (||low|| + 1e-8) per row of a tall matrix (per column of a wide one)
    c = phi * (g - scale * ql low qr^T);  after the first step c = c / max(||c|| / (limit +
    1e-8), 1.01) * 1.01 and limit = ||c||
    s = lr sqrt(1 - beta2^t) / (1 - beta1^t) * (scale * ql n qr^T + c)
    update = s + lr * weight_decay * (w - s)       (vectors: Adam)

    Chen et al., "Fira: Can We Achieve Full-rank Training of LLMs Under Low-rank Constraint?"
    (2024), as pytorch_optimizer.Fira.
    """
    refresh = where(t - 1, 0.5 - fmod(t, update_proj_gap), 1)
    rows = numel(row_mean(g))
    cols = numel(col_mean(g))
    tall = rows - cols + 0.5
    left = svd_left(g, rank)
    right = svd_right(g, rank)
    ql = where(refresh, where(tall, eye_like(left), left), ql)
    qr = where(refresh, where(tall, right, eye_like(right)), qr)
    low = matmul(matmul(transpose(ql), g), qr)
    m = interp(low, m, beta1)
    v = interp(low * low, v, beta2)
    n = m / (sqrt(v) + eps)
    k = where(ndim(g) - 1, scale, 1)
    by_row = sqrt(row_mean(n * n) * cols) / (sqrt(row_mean(low * low) * cols) + 1e-08)
    by_col = sqrt(col_mean(n * n) * rows) / (sqrt(col_mean(low * low) * rows) + 1e-08)
    c = where(tall, by_row, by_col) * (g - k * matmul(matmul(ql, low), transpose(qr)))
    cn = norm(c)
    cut = where(t - 1, max(cn / (limit + 1e-08), 1.01) / 1.01, 1)
    step = k * matmul(matmul(ql, n), transpose(qr)) + c / cut
    s = lr * sqrt(1 - beta2 ** t) / (1 - beta1 ** t) * step
    return s + lr * weight_decay * (w - s), ql, qr, m, v, cn / cut
'''


CONDA = '''
def conda(w, g, m, ql, qr, v, t, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08, weight_decay=0.0,
          update_proj_gap=2000, scale=1.0):
    """Conda: Adam whose second moment lives in the singular basis of the momentum (a full-rank
    rotation on the shorter side, refreshed every update_proj_gap steps).

    m = interp(g, m, beta1)
    at t = 1 and t % update_proj_gap = 0: ql, qr = I, V (rows >= cols) or U, I from svd(m)
    low = ql^T g qr;  v = interp(low^2, v, beta2)
    s = lr sqrt(1 - beta2^t) / (1 - beta1^t) * scale * ql ((ql^T m qr) / (sqrt(v) + eps)) qr^T
    update = s + lr * weight_decay * (w - s)       (vectors: Adam, scale 1)

    Wang et al., "Conda: Column-Normalized Adam for Training Large Language Models Faster"
    (2025), as pytorch_optimizer.Conda.
    """
    m = interp(g, m, beta1)
    refresh = where(t - 1, 0.5 - fmod(t, update_proj_gap), 1)
    tall = numel(row_mean(g)) - numel(col_mean(g)) + 0.5
    left = svd_left(m, 1e+09)
    right = svd_right(m, 1e+09)
    ql = where(refresh, where(tall, eye_like(left), left), ql)
    qr = where(refresh, where(tall, right, eye_like(right)), qr)
    low = matmul(matmul(transpose(ql), g), qr)
    v = interp(low * low, v, beta2)
    n = matmul(matmul(transpose(ql), m), qr) / (sqrt(v) + eps)
    back = matmul(matmul(ql, n), transpose(qr)) * where(ndim(g) - 1, scale, 1)
    s = lr * sqrt(1 - beta2 ** t) / (1 - beta1 ** t) * back
    return s + lr * weight_decay * (w - s), m, ql, qr, v
'''


def _galore(float64: bool, name: str = "GaLore"):
    def make(params, h):
        import pytorch_optimizer  # noqa: PLC0415 - optional dependency

        cls = getattr(pytorch_optimizer, name)
        cls = with_float64_svd(cls) if float64 else cls
        group = {"params": list(params), "rank": int(h["rank"]),
                 "update_proj_gap": int(h["update_proj_gap"]), "scale": h["scale"],
                 "projection_type": "std"}
        return cls([group], lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"],
                   weight_decay=h["weight_decay"])

    return make


def _adamw_snsm(params, h):
    return SubspaceMomentumSN(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"],
                              weight_decay=h["weight_decay"], rank=int(h["rank"]),
                              update_proj_gap=int(h["update_proj_gap"]))



def _conda(params, h):
    from pytorch_optimizer import Conda  # noqa: PLC0415 - optional dependency

    return with_float64_svd(Conda)(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]),
                                   eps=h["eps"], weight_decay=h["weight_decay"],
                                   update_proj_gap=int(h["update_proj_gap"]), scale=h["scale"])


#: the settings galore and fira are verified on (the package's projected Adam step in both)
_GALORE_SETTINGS = (
    {},
    {"rank": 2, "update_proj_gap": 10, "scale": 1.0, "lr": 0.01},
    {"rank": 4, "update_proj_gap": 25, "weight_decay": 0.1, "beta1": 0.8, "eps": 1e-8},
)

ENTRIES = (
    Entry(
        name="galore",
        source=GALORE,
        paper="GaLore: Memory-Efficient LLM Training by Gradient Low-Rank Projection",
        authors="Zhao, Zhang, Chen, Wang, Anandkumar & Tian",
        year=2024,
        references=(
            Reference("pytorch_optimizer.GaLore (projection 'std', float64 SVD)",
                      _galore(float64=True), requires="pytorch-optimizer"),
        ),
        settings=_GALORE_SETTINGS,
        max_ndim=2,
        notes="pytorch_optimizer.GaLore with the 'std' projection (right singular vectors for "
              "tall matrices, left for wide ones) and the paper's rank 128, gap 200, scale 0.25 "
              "as defaults (the rank is clamped to the shorter side). Adam's moments live in the "
              "projected space and are kept across refreshes, as both the package and the "
              "official code do. Weight decay is applied after the step. The package projects "
              "only 2-D tensors; the program would project conv kernels per kh x kw slice, so "
              "they are not verified. The package casts float64 gradients to float32 for the "
              "SVD; the reference is the same class with the SVD in float64. Against the class "
              "as shipped the difference reaches 0.16 relative in 200 steps at rank 2 (a rank-2 "
              "subspace is sensitive to the float32 rounding when singular values are close), "
              "so it is not compared. The moments are stored at the gradient's shape with zeros "
              "outside the rank-r coordinates (see the module docstring).",
    ),
    Entry(
        name="adamw_snsm",
        source=ADAMW_SNSM,
        paper="Lean and Mean Adaptive Optimization via Subset-Norm and Subspace-Momentum with "
              "Convergence Guarantees",
        authors="Nguyen & Nguyen",
        year=2025,
        references=(Reference("discover.references.matrix.SubspaceMomentumSN", _adamw_snsm),),
        settings=(
            {},
            {"rank": 2, "update_proj_gap": 10, "lr": 0.01, "beta1": 0.8},
            {"rank": 4, "update_proj_gap": 25, "weight_decay": 0.1, "beta2": 0.99, "eps": 1e-8},
        ),
        max_ndim=2,
        notes="The official SNSM (GenericOptim with subspace momentum and subset norm, SVD "
              "projection): at a refresh step after the first, that step still uses the old "
              "momentum (in the old coordinates) and the stored momentum is reset to zero, as "
              "the code does. The code takes the SVD in float32; the program and the reference "
              "take it in the gradient's dtype. Vectors get Adam; conv kernels are not "
              "verified (the code handles matrices only). Defaults: the code's lr, eps and "
              "betas with GaLore's rank 128 and gap 200.",
    ),
    Entry(
        name="fira",
        source=FIRA,
        paper="Fira: Can We Achieve Full-rank Training of LLMs Under Low-rank Constraint?",
        authors="Chen, Zhang, Wang, Chen, Wang, Wang & Tian",
        year=2024,
        references=(
            Reference("pytorch_optimizer.Fira (projection 'std', float64 SVD)",
                      _galore(float64=True, name="Fira"), requires="pytorch-optimizer"),
        ),
        settings=_GALORE_SETTINGS,
        max_ndim=2,
        notes="pytorch_optimizer.Fira with the 'std' projection: GaLore's projected Adam step "
              "plus the residual g - scale * P(low) scaled per row (tall) or column (wide) by "
              "the ratio of the Adam step's norm to the projected gradient's, with the "
              "package's norm-growth limiter (1.01); the residual uses the GaLore scale as the "
              "package does. Same SVD and shape notes as galore (float64 SVD in the reference; "
              "matrices and vectors verified).",
    ),
    Entry(
        name="conda",
        source=CONDA,
        paper="Conda: Column-Normalized Adam for Training Large Language Models Faster",
        authors="Wang et al.",
        year=2025,
        references=(
            Reference("pytorch_optimizer.Conda (projection 'std', float64 SVD)", _conda,
                      requires="pytorch-optimizer"),
        ),
        settings=(
            {},
            {"update_proj_gap": 10, "scale": 0.5, "lr": 0.01, "beta1": 0.8},
            {"update_proj_gap": 25, "weight_decay": 0.1, "beta2": 0.99, "eps": 1e-6},
        ),
        max_ndim=2,
        notes="pytorch_optimizer.Conda ('std' projection, full rank): the basis comes from the "
              "SVD of the updated momentum; both momentum and gradient are rotated into it, the "
              "second moment is kept in the rotated coordinates across refreshes. The package "
              "takes the SVD of float64 tensors in float32; the reference is the same class with "
              "the SVD in float64. Matrices and vectors verified.",
    ),
)
