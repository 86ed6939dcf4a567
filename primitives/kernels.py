"""The kernels: the torch functions behind the ops that are more than one torch call.

Written once, as plain functions of tensors. :mod:`primitives.ops` wraps them (promoting Python
numbers to tensors), the compiled step (:mod:`primitives.compile`) calls them, and an exported
optimizer module carries a verbatim copy of the ones it uses (:func:`kernel_source`), so the
engine and the file a user receives run the same code.

The names start with an underscore so they can never clash with a program's own names inside
generated code (the compiler renames program names that start with one).

Example::

    >>> import torch
    >>> _row_mean(torch.tensor([[1.0, 3.0], [2.0, 4.0]]))
    tensor([[2.],
            [3.]])
"""

from __future__ import annotations

import inspect
import math

import torch

__all__ = ["PROTECT_EPS", "NS_COEFFICIENTS", "NS_EPS", "KERNELS", "kernel_source"]

#: the epsilon of the protected ops (the Lion search's ``get_eps``)
PROTECT_EPS = 1e-8
#: Newton-Schulz coefficients of Muon (Jordan et al., 2024); torch.optim.Muon's defaults
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
#: the floor of the Frobenius norm newton_schulz divides by
NS_EPS = 1e-7


def _f64(x):
    """A float64 0-d tensor: scalar statements run on these, so they follow torch's IEEE
    semantics (inf or nan, never a ZeroDivisionError) exactly as the tensor statements do."""
    return torch.tensor(float(x), dtype=torch.float64)


def _psign(x):
    """sign(x) with sign(0) = 1, so a protected denominator is never zero."""
    return torch.where(x < 0, -1.0, 1.0).to(x.dtype)


def _pdiv(a, b):
    """Protected division a / (b + PROTECT_EPS sign(b)): never NaN for finite a."""
    return a / (b + PROTECT_EPS * _psign(b))


def _cosine_sim(a, b):
    """dot(a, b) / (||a|| ||b||) over one tensor, protected."""
    return _pdiv(torch.sum(a * b), torch.linalg.vector_norm(a) * torch.linalg.vector_norm(b))


def _clip_scale(xs, c):
    """min(1, |c| / global_norm(xs)): the factor clip_by_global_norm multiplies each tensor by."""
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(x) for x in xs]))
    return torch.minimum(_pdiv(abs(c), norm), norm.new_tensor(1.0))


def _row_mean(x):
    """Mean over the last dim (kept as size 1); tensors below 2-D pass through."""
    return x.mean(dim=-1, keepdim=True) if x.ndim >= 2 else x


def _col_mean(x):
    """Mean over the second-to-last dim (kept as size 1); tensors below 2-D pass through."""
    return x.mean(dim=-2, keepdim=True) if x.ndim >= 2 else x


def _row_max(x):
    """Max over the last dim (kept as size 1); tensors below 2-D pass through."""
    return x.amax(dim=-1, keepdim=True) if x.ndim >= 2 else x


def _col_max(x):
    """Max over the second-to-last dim (kept as size 1); tensors below 2-D pass through."""
    return x.amax(dim=-2, keepdim=True) if x.ndim >= 2 else x


def _unit_sum(x):
    """Sum over every dim but the first (kept as size 1): one value per output unit."""
    return x.sum(dim=tuple(range(1, x.ndim)), keepdim=True) if x.ndim >= 2 else x


def _matrix_norm(x):
    """Frobenius norm of each matrix in the last two dims (kept); below 2-D the 2-norm."""
    if x.ndim < 2:
        return torch.linalg.vector_norm(x)
    return torch.linalg.vector_norm(x, dim=(-2, -1), keepdim=True)


def _matmul(a, b):
    """a @ b on the last two dims; a tensor below 2-D is read as a diagonal matrix."""
    if a.ndim >= 2 and b.ndim >= 2:
        return a @ b
    if a.ndim < 2 <= b.ndim:
        return a.unsqueeze(-1) * b  # diag(a) @ b scales rows
    return a * b  # a @ diag(b) scales columns; diag(a) @ diag(b)


def _transpose(x):
    """x with its last two dims swapped (a view); tensors below 2-D pass through."""
    return x.mT if x.ndim >= 2 else x


def _eye_like(x):
    """The identity matrix shaped like x (an expanded view); ones below 2-D."""
    if x.ndim < 2:
        return torch.ones_like(x)
    return torch.eye(x.shape[-2], x.shape[-1], dtype=x.dtype, device=x.device).expand(x.shape)


def _spd_power(x, p):
    """x ** p of a symmetric PSD matrix: V diag(max(lambda, 0) ** p) V^T (below 2-D elementwise)."""
    if x.ndim < 2:
        return x.clamp(min=0) ** p
    vals, vecs = torch.linalg.eigh(x)
    return (vecs * (vals.clamp(min=0) ** p).unsqueeze(-2)) @ vecs.mT


def _svd_finite(x, part):
    """One factor of the SVD of x (0: U, 2: V^H); NaN for a matrix with a non-finite entry,
    which torch.linalg.svd would refuse (a diverged run must score, not crash)."""
    bad = ~torch.isfinite(x).all(dim=-1, keepdim=True).all(dim=-2, keepdim=True)
    factor = torch.linalg.svd(torch.where(bad, torch.zeros_like(x), x), full_matrices=True)[part]
    return torch.where(bad, torch.full_like(factor, float("nan")), factor)


def _svd_left(x, r):
    """U of x = U S V^T (rows x rows), its top-r columns kept, the rest 0; ones below 2-D."""
    if x.ndim < 2:
        return torch.ones_like(x)
    u = _svd_finite(x, 0)
    return u * (torch.arange(u.shape[-1], dtype=x.dtype, device=x.device) < r).to(x.dtype)


def _svd_right(x, r):
    """V of x = U S V^T (cols x cols), its top-r columns kept, the rest 0; ones below 2-D."""
    if x.ndim < 2:
        return torch.ones_like(x)
    v = _svd_finite(x, 2).mT
    return v * (torch.arange(v.shape[-1], dtype=x.dtype, device=x.device) < r).to(x.dtype)


def _ns_steps(steps):
    """A step count as an int clamped to [0, 20] (a mutated constant must not hang a step);
    None for a count that is NaN or infinite at run time, whose result is NaN."""
    s = float(steps)
    return min(max(int(round(s)), 0), 20) if math.isfinite(s) else None


def _quintic(y, n):
    """``n`` quintic Newton-Schulz steps y = a y + (b A + c A^2) y, A = y y^T, on a wide y."""
    a, b, c = NS_COEFFICIENTS
    for _ in range(n):
        gram = y @ y.mT
        y = a * y + (b * gram + c * gram @ gram) @ y
    return y


def _ns_iterate(x, steps):
    """newton_schulz's quintic steps (clamped to [0, 20]) without its normalisation: the caller
    scales x (spectral norm <= 1). Tensors below 2-D pass through."""
    if x.ndim < 2:
        return x
    n = _ns_steps(steps)
    if n is None:
        return x * float("nan")
    y = _quintic(x.mT if x.shape[-2] > x.shape[-1] else x, n)
    return y.mT if x.shape[-2] > x.shape[-1] else y


def _newton_schulz(x, steps):
    """Muon's quintic Newton-Schulz orthogonalisation of the last two dims.

    x / max(||x||_F, NS_EPS), transposed so rows <= columns, then ``steps`` (clamped to
    [0, 20]) times y = a y + (b A + c A^2) y with A = y y^T and (a, b, c) = NS_COEFFICIENTS.
    Tensors with fewer than two dims pass through.
    """
    if x.ndim < 2:
        return x
    n = _ns_steps(steps)
    if n is None:
        return x * float("nan")
    shape = x.shape
    y = x.reshape(-1, shape[-2], shape[-1]) if x.ndim > 2 else x
    transposed = y.shape[-2] > y.shape[-1]
    if transposed:
        y = y.mT
    y = _quintic(y / y.norm(dim=(-2, -1), keepdim=True).clamp(min=NS_EPS), n)
    if transposed:
        y = y.mT
    return y.reshape(shape)


#: name -> kernel
KERNELS = {fn.__name__: fn for fn in (
    _f64, _psign, _pdiv, _cosine_sim, _clip_scale, _row_mean, _col_mean, _row_max, _col_max,
    _unit_sum, _matrix_norm, _matmul, _transpose, _eye_like, _spd_power, _svd_finite, _svd_left,
    _svd_right, _ns_steps, _quintic, _ns_iterate, _newton_schulz)}

#: the kernels and module constants each kernel calls
_NEEDS = {
    "_pdiv": ("_psign", "PROTECT_EPS"),
    "_cosine_sim": ("_pdiv",),
    "_clip_scale": ("_pdiv",),
    "_svd_left": ("_svd_finite",),
    "_svd_right": ("_svd_finite",),
    "_quintic": ("NS_COEFFICIENTS",),
    "_ns_iterate": ("_ns_steps", "_quintic"),
    "_newton_schulz": ("_ns_steps", "_quintic", "NS_EPS"),
}
_CONSTANTS = {"PROTECT_EPS": PROTECT_EPS, "NS_COEFFICIENTS": NS_COEFFICIENTS, "NS_EPS": NS_EPS}


def _closure(names) -> list[str]:
    """``names`` and everything they need, each once, dependencies first."""
    out: list[str] = []

    def visit(name):
        if name in out:
            return
        for dep in _NEEDS.get(name, ()):
            visit(dep)
        out.append(name)

    for name in names:
        visit(name)
    return out


def kernel_source(names) -> str:
    """The source of the kernels ``names`` (and what they call), copied verbatim from this file,
    with the constants they read: what an exported module pastes in."""
    needed = _closure(names)
    consts = [f"{c} = {_CONSTANTS[c]!r}" for c in needed if c in _CONSTANTS]
    funcs = [inspect.getsource(KERNELS[n]).rstrip("\n") for n in needed if n in KERNELS]
    return "\n\n\n".join((["\n".join(consts)] if consts else []) + funcs) + "\n"
