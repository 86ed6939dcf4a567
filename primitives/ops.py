"""The op registry: every function a program may call.

One explicit table maps a name to an :class:`Op` (arity, kind, torch implementation, docstring).
Programs, the parser, the executor, the exporter and the search all read this table; nothing is
registered by side effect.

Kinds:

- ``constant``: no argument (``get_pi()``, ``get_e()``, ``get_eps()``).
- ``elementwise``: broadcasting maths on tensors and scalars.
- ``tensor_reduction``: reduces one parameter tensor to a 0-d value that broadcasts back
  (``norm``, ``rms``, ``dot``: LAMB/LARS trust ratios).
- ``group_reduction``: reduces over every tensor of a parameter group (``global_norm``); the
  implementation takes lists of tensors and returns one 0-d tensor.
- ``matrix``: acts on the last two dimensions of a tensor (Newton-Schulz, row/column means);
  tensors with fewer than two dimensions pass through as documented per op.

Exact ops (``div``, ``sqrt``, ``log``, ``pow``) are plain IEEE maths so that library programs
match their references bit for bit; the protected forms (``pdiv``, ``psqrt``, ``plog``,
``power``, ``reciprocal``, ...) cannot produce NaN on their own and are what random search uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from . import kernels
from .kernels import NS_COEFFICIENTS, NS_EPS, PROTECT_EPS

__all__ = ["Op", "OPS", "KINDS", "OPERATOR_OPS", "HERO_OPS", "get_op", "PROTECT_EPS",
           "NS_COEFFICIENTS", "NS_EPS"]

KINDS = ("constant", "elementwise", "tensor_reduction", "group_reduction", "matrix")


@dataclass(frozen=True)
class Op:
    """One primitive: ``fn`` is the per-tensor torch implementation."""

    name: str
    arity: int
    kind: str
    fn: Callable
    doc: str
    commutative: bool = False
    #: part of the search's default op set
    search: bool = True
    #: Python operator spelling, for ops written as ``a + b``
    symbol: str | None = None
    #: argument positions that take a number, each with a typical value: ((1, 5.0),) for
    #: ``newton_schulz(x, steps)``; used by tests and by anything that generates calls
    numbers: tuple[tuple[int, float], ...] = ()
    #: False for matrix ops whose result shape differs from a non-square input's (matmul, ...)
    keeps_shape: bool = True
    #: group reductions: the argument positions that take the whole group's tensors (a
    #: per-parameter value); the op's other arguments are scalars or group values
    lists: tuple[int, ...] = ()
    #: group reductions whose result is one tensor per parameter (the list scaled), not one
    #: 0-d value for the group (primitives.kinds)
    per_tensor_result: bool = False


def _like(x, ref):
    """``x`` as a tensor with ``ref``'s dtype and device (Python numbers are promoted)."""
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(ref, torch.Tensor):
        return torch.as_tensor(x, dtype=ref.dtype, device=ref.device)
    return torch.as_tensor(x, dtype=torch.float64)


def _pair(a, b):
    ref = a if isinstance(a, torch.Tensor) else b
    return _like(a, ref), _like(b, ref)


def _t(x):
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=torch.float64)


def _pdiv(a, b):
    return kernels._pdiv(*_pair(a, b))


def _interp(x, y, a):
    return (1 - a) * x + a * y


def _maximum(a, b):
    a, b = _pair(a, b)
    return torch.maximum(a, b)


def _minimum(a, b):
    a, b = _pair(a, b)
    return torch.minimum(a, b)


def _where(c, a, b):
    c = _t(c)
    a, b = _like(a, c), _like(b, c)
    return torch.where(c > 0, a, b)


def _clip(x, c):
    x, c = _pair(x, c)
    c = c.abs()
    return torch.minimum(torch.maximum(x, -c), c)


def _clamp(x, lo, hi):
    x = _t(x)
    return torch.minimum(torch.maximum(x, _like(lo, x)), _like(hi, x))


def _power(x, y):
    x, y = _pair(x, y)
    return torch.pow(x.abs() + PROTECT_EPS, y).clamp(max=1e30)


def _pow(x, y):
    if not isinstance(x, torch.Tensor) and not isinstance(y, torch.Tensor):
        return torch.as_tensor(x, dtype=torch.float64) ** y
    return x**y


def _norm(x):
    return torch.linalg.vector_norm(_t(x))


def _rms(x):
    x = _t(x)
    return torch.linalg.vector_norm(x) / math.sqrt(max(x.numel(), 1))


def _dot(a, b):
    a, b = _pair(a, b)
    return (a * b).sum()


def _cosine_sim(a, b):
    return kernels._cosine_sim(*_pair(a, b))


def _global_norm(xs):
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(_t(x)) for x in xs]))


def _global_sum(xs):
    return torch.stack([_t(x).sum() for x in xs]).sum()


def _global_dot(xs, ys):
    return torch.stack([_dot(x, y) for x, y in zip(xs, ys)]).sum()


def _global_max(xs):
    return torch.stack([_t(x).max() for x in xs]).max()


def _global_numel(xs):
    return torch.as_tensor(float(sum(_t(x).numel() for x in xs)), dtype=torch.float64)


def _clip_by_global_norm(xs, c):
    """Each tensor of ``xs`` scaled by ``min(1, |c| / global_norm(xs))``."""
    scale = kernels._clip_scale([_t(x) for x in xs], c)
    return [x * scale for x in xs]


def _tensor_kernel(fn):
    """A kernel of :mod:`primitives.kernels` taking Python numbers too (as float64 tensors)."""
    return lambda x, *rest: fn(_t(x), *rest)


def _fmod(a, b):
    a, b = _pair(a, b)
    return torch.fmod(a, b)


def _matmul(a, b):
    return kernels._matmul(*_pair(a, b))


def _svd_left(x, r):
    return kernels._svd_left(_t(x), _like(r, _t(x)))


def _svd_right(x, r):
    return kernels._svd_right(_t(x), _like(r, _t(x)))


_newton_schulz = _tensor_kernel(kernels._newton_schulz)
_ns_iterate = _tensor_kernel(kernels._ns_iterate)
_spd_power = _tensor_kernel(kernels._spd_power)
_row_mean = _tensor_kernel(kernels._row_mean)
_col_mean = _tensor_kernel(kernels._col_mean)
_row_max = _tensor_kernel(kernels._row_max)
_col_max = _tensor_kernel(kernels._col_max)
_unit_sum = _tensor_kernel(kernels._unit_sum)
_transpose = _tensor_kernel(kernels._transpose)
_eye_like = _tensor_kernel(kernels._eye_like)
_matrix_norm = _tensor_kernel(kernels._matrix_norm)


def _unary(name, fn, doc, search=True):
    return Op(name, 1, "elementwise", lambda x: fn(_t(x)), doc, search=search)


def _binary(name, fn, doc, commutative=False, symbol=None, search=True):
    return Op(name, 2, "elementwise", fn, doc, commutative=commutative, symbol=symbol, search=search)


def _pabs(x):
    return x.abs()


_OP_LIST = [
    # constants (the Lion search's get_pi / get_e / get_eps)
    Op("get_pi", 0, "constant", lambda: math.pi, "pi = 3.14159..."),
    Op("get_e", 0, "constant", lambda: math.e, "e = 2.71828..."),
    Op("get_eps", 0, "constant", lambda: PROTECT_EPS, "eps = 1e-8"),
    # Python operators (exact) and their protected forms
    _binary("add", lambda a, b: a + b, "a + b", commutative=True, symbol="+"),
    _binary("sub", lambda a, b: a - b, "a - b", symbol="-"),
    _binary("mul", lambda a, b: a * b, "a * b", commutative=True, symbol="*"),
    _binary("div", lambda a, b: a / b, "a / b (exact IEEE division)", symbol="/", search=False),
    _binary("pdiv", _pdiv, "a / (b + 1e-8 sign(b)): protected division, never NaN for finite a"),
    _binary("pow", _pow, "x ** y (exact)", symbol="**", search=False),
    _binary("power", _power, "(|x| + 1e-8) ** y, clamped to 1e30: protected power"),
    _binary("max", _maximum, "elementwise maximum", commutative=True),
    _binary("min", _minimum, "elementwise minimum", commutative=True),
    Op("interp", 3, "elementwise", _interp, "interp(x, y, a) = (1 - a) x + a y (Lion's interpolate)"),
    _binary("clip", _clip, "clip(x, c) = x clamped to [-|c|, |c|]"),
    Op("clamp", 3, "elementwise", _clamp, "clamp(x, lo, hi) = min(max(x, lo), hi)", search=False),
    Op("where", 3, "elementwise", _where, "where(c, a, b) = a where c > 0, else b", search=False),
    # unary maths: the Lion search's 30 (log/sqrt protected by |x| as there), plus exact forms
    _unary("abs", torch.abs, "|x|"),
    _unary("cos", torch.cos, "cos x"),
    _unary("sin", torch.sin, "sin x"),
    _unary("tan", torch.tan, "tan x"),
    _unary("arcsin", lambda x: torch.asin(x.clamp(-1, 1)), "arcsin of x clamped to [-1, 1]"),
    _unary("arccos", lambda x: torch.acos(x.clamp(-1, 1)), "arccos of x clamped to [-1, 1]"),
    _unary("arctan", torch.atan, "arctan x"),
    _unary("sinh", torch.sinh, "sinh x"),
    _unary("cosh", torch.cosh, "cosh x"),
    _unary("tanh", torch.tanh, "tanh x"),
    _unary("arcsinh", torch.asinh, "arcsinh x"),
    _unary("arccosh", lambda x: torch.acosh(x.abs().clamp(min=1)), "arccosh of max(|x|, 1)"),
    _unary("arctanh", lambda x: torch.atanh(x.clamp(-1 + 1e-7, 1 - 1e-7)),
           "arctanh of x clamped to (-1, 1)"),
    _unary("exp", torch.exp, "e ** x"),
    _unary("exp2", torch.exp2, "2 ** x"),
    _unary("exp10", lambda x: torch.pow(10.0, x), "10 ** x"),
    _unary("expm1", torch.expm1, "e ** x - 1"),
    _unary("plog", lambda x: torch.log(x.abs().clamp(min=1e-30)), "log |x| (protected log)"),
    _unary("log10", lambda x: torch.log10(x.abs().clamp(min=1e-30)), "log10 |x| (protected)"),
    _unary("log2", lambda x: torch.log2(x.abs().clamp(min=1e-30)), "log2 |x| (protected)"),
    _unary("log1p", lambda x: torch.log((1 + x).abs().clamp(min=1e-30)), "log |1 + x| (protected)"),
    _unary("square", torch.square, "x ** 2"),
    _unary("psqrt", lambda x: torch.sqrt(x.abs()), "sqrt |x| (protected sqrt)"),
    _unary("cube", lambda x: x * x * x, "x ** 3"),
    _unary("cbrt", lambda x: torch.sign(x) * x.abs().pow(1.0 / 3.0), "cube root"),
    _unary("sign", torch.sign, "sign x (0 at 0)"),
    _unary("reciprocal", lambda x: _pdiv(1.0, x), "1 / x (protected)"),
    Op("norm", 1, "tensor_reduction", _norm, "||x||_2 of one tensor, broadcast back"),
    _unary("invert", lambda x: 1 - x, "1 - x (jnp.invert is bitwise; this is the float complement)"),
    _unary("negative", torch.neg, "-x"),
    _unary("sqrt", torch.sqrt, "sqrt x (exact; NaN for x < 0)", search=False),
    _unary("log", torch.log, "log x (exact)", search=False),
    _unary("sigmoid", torch.sigmoid, "1 / (1 + e ** -x)"),
    _unary("relu", torch.relu, "max(x, 0)"),
    _unary("rsqrt", torch.rsqrt, "1 / sqrt x (exact)", search=False),
    # per-tensor reductions
    Op("rms", 1, "tensor_reduction", _rms, "||x||_2 / sqrt(numel x) of one tensor"),
    Op("mean", 1, "tensor_reduction", lambda x: _t(x).mean(), "mean of one tensor"),
    Op("sum", 1, "tensor_reduction", lambda x: _t(x).sum(), "sum of one tensor", search=False),
    Op("absmax", 1, "tensor_reduction", lambda x: _t(x).abs().max(), "max |x| of one tensor"),
    Op("numel", 1, "tensor_reduction",
       lambda x: torch.as_tensor(float(_t(x).numel()), dtype=_t(x).dtype, device=_t(x).device),
       "number of elements of one tensor", search=False),
    Op("ndim", 1, "tensor_reduction",
       lambda x: torch.as_tensor(float(_t(x).ndim), dtype=_t(x).dtype, device=_t(x).device),
       "number of dimensions of one tensor (Adafactor factors only tensors with ndim >= 2)",
       search=False),
    Op("dot", 2, "tensor_reduction", _dot, "sum(a * b) over one tensor", commutative=True),
    Op("cosine_sim", 2, "tensor_reduction", _cosine_sim,
       "dot(a, b) / (||a|| ||b||) over one tensor (protected)", commutative=True),
    # group reductions: over every tensor of a parameter group
    Op("global_norm", 1, "group_reduction", _global_norm, "||x||_2 over all tensors of the group",
       lists=(0,)),
    Op("global_sum", 1, "group_reduction", _global_sum, "sum over all tensors of the group",
       search=False, lists=(0,)),
    Op("global_dot", 2, "group_reduction", _global_dot, "sum(a * b) over all tensors of the group",
       commutative=True, search=False, lists=(0, 1)),
    Op("global_max", 1, "group_reduction", _global_max, "max over all tensors of the group",
       search=False, lists=(0,)),
    Op("global_numel", 1, "group_reduction", _global_numel,
       "number of elements in the group", search=False, lists=(0,)),
    Op("clip_by_global_norm", 2, "group_reduction", _clip_by_global_norm,
       "x * min(1, |c| / global_norm(x)): x clipped to global norm |c| (per tensor list)", numbers=((1, 1.0),),
       lists=(0,), per_tensor_result=True),
    # matrix ops on the last two dims
    Op("newton_schulz", 2, "matrix", _newton_schulz,
       "newton_schulz(x, steps): Muon's quintic iteration, (a, b, c) = (3.4445, -4.775, 2.0315), "
       "after x / max(||x||_F, 1e-7), steps clamped to [0, 20]; tensors with < 2 dims pass through", search=False, numbers=((1, 5.0),)),
    Op("row_mean", 1, "matrix", _row_mean, "mean over the last dim (keepdim); identity below 2-D",
       search=False),
    Op("col_mean", 1, "matrix", _col_mean,
       "mean over the second-to-last dim (keepdim); identity below 2-D", search=False),
    # per-unit (output channel / row) reductions: AdamP, Nero, AGC
    Op("unit_sum", 1, "matrix", _unit_sum,
       "sum over every dim but the first (keepdim): one value per output unit (row, conv "
       "filter); identity below 2-D", search=False),
    # periodic schedules: SPAM's moment reset every DeltaT steps
    _binary("fmod", _fmod, "fmod(a, b): remainder of a / b with a's sign (torch.fmod)",
            search=False),
    # linear algebra on the last two dims (Shampoo, ScaledGD); below 2-D a tensor is read as a
    # diagonal matrix, so a vector's "matrix" preconditioner is diagonal
    Op("matmul", 2, "matrix", _matmul,
       "a @ b on the last two dims (batched over leading dims); a tensor with < 2 dims is a "
       "diagonal matrix", search=False, keeps_shape=False),
    Op("transpose", 1, "matrix", _transpose, "swap the last two dims; identity below 2-D",
       search=False, keeps_shape=False),
    Op("eye_like", 1, "matrix", _eye_like,
       "identity matrix shaped like x (ones on the diagonal of the last two dims); ones below 2-D",
       search=False),
    Op("spd_power", 2, "matrix", _spd_power,
       "spd_power(x, p): x ** p of a symmetric PSD matrix by eigendecomposition, eigenvalues "
       "clamped at 0 (inf for p < 0 and a zero eigenvalue); max(x, 0) ** p below 2-D",
       search=False, numbers=((1, -0.5),), keeps_shape=False),
    Op("row_max", 1, "matrix", _row_max, "max over the last dim (keepdim); identity below 2-D",
       search=False),
    Op("col_max", 1, "matrix", _col_max,
       "max over the second-to-last dim (keepdim); identity below 2-D", search=False),
    Op("ns_iterate", 2, "matrix", _ns_iterate,
       "ns_iterate(x, steps): newton_schulz's quintic steps without its normalisation (the "
       "caller scales x, e.g. x / (matrix_norm(x) + eps)); < 2 dims pass through", search=False, numbers=((1, 5.0),)),
    Op("matrix_norm", 1, "matrix", _matrix_norm,
       "Frobenius norm of each matrix in the last two dims (keepdim); below 2-D the tensor's "
       "2-norm", search=False),
    # low-rank projections (GaLore, Subspace-Momentum)
    Op("svd_left", 2, "matrix", _svd_left,
       "svd_left(x, r): the left singular vectors U of x (rows x rows, descending singular "
       "values), the top r columns kept and the rest zeroed (a shape independent of r); ones "
       "below 2-D", search=False, numbers=((1, 2.0),), keeps_shape=False),
    Op("svd_right", 2, "matrix", _svd_right,
       "svd_right(x, r): the right singular vectors V of x (cols x cols), the top r columns "
       "kept and the rest zeroed; ones below 2-D", search=False, numbers=((1, 2.0),), keeps_shape=False),
]

#: name -> Op
OPS: dict[str, Op] = {op.name: op for op in _OP_LIST}
if len(OPS) != len(_OP_LIST):  # pragma: no cover - a programming error in the table above
    raise RuntimeError("duplicate op names in the registry")

#: Python operator AST spelling -> op name (used by the parser and the printer)
OPERATOR_OPS = {"+": "add", "-": "sub", "*": "mul", "/": "div", "**": "pow"}

#: the 45 functions of the Lion search space (google/automl hero/fn_lib.py + Python primitives),
#: with division protected as there
HERO_OPS = (
    "get_pi", "get_e", "get_eps",
    "abs", "cos", "sin", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh",
    "arccosh", "arctanh", "exp", "exp2", "exp10", "expm1", "plog", "log10", "log2", "log1p",
    "square", "psqrt", "cube", "cbrt", "sign", "reciprocal", "norm", "invert", "negative",
    "global_norm", "interp", "dot", "cosine_sim", "clip_by_global_norm", "power",
    "add", "sub", "mul", "pdiv", "max", "min",
)


def get_op(name: str) -> Op:
    """The op called ``name``; ``KeyError`` with the known names otherwise."""
    try:
        return OPS[name]
    except KeyError:
        raise KeyError(f"unknown op {name!r}") from None
