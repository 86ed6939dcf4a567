"""The mapping table: every op of :data:`primitives.ops.OPS` as torch source.

Each :class:`OpTemplate` reproduces its op's ``fn`` exactly (same torch calls, same protected
constants, the same kernels of :mod:`primitives.kernels`), in up to four spellings: ``tensor``,
an expression over one tensor per argument (also used on 0-d float64 tensors for the scalar
statements of a step); ``inplace``, the same computed into argument 0 (a dead temporary of the
result's shape); ``foreach`` / ``foreach_inplace`` over lists with ``torch._foreach_*`` kernels
where torch has them (``lists``: the positions that must be lists), else a loop over the tensors;
and ``group`` / ``group_foreach`` for group reductions, over whole lists. Placeholders: ``{0}``,
``{1}``, ``{2}`` are the arguments; ``{1:t}`` is argument 1 as a tensor (a Python number becomes
a 0-d tensor like the first tensor argument, as ``ops._like`` does). Matrix ops carry ``shape``
(how the result's shape follows from the arguments') and ``numbers`` (positions that must be
Python numbers); their results may be views of their input (identity below 2-D, ``.mT``), so
nothing is ever written into them. :data:`FUSED` are the fused kernels of the planner.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..kernels import PROTECT_EPS

__all__ = ["OpTemplate", "TEMPLATES", "FUSED"]

_EPS = repr(PROTECT_EPS)

@dataclass(frozen=True)
class OpTemplate:
    """Torch source for one op (see the module docstring)."""

    tensor: str | None = None
    inplace: str | None = None
    foreach: str | None = None
    foreach_inplace: str | None = None
    lists: str = ""
    group: str | None = None
    group_foreach: str | None = None
    #: a group reduction whose value is ``arg0 * group(...)`` per tensor (clip_by_global_norm)
    scale_after: bool = False
    #: product / quotient / negate / square / sum / difference / interp / select (planner rules)
    algebra: str | None = None
    #: the kernels of primitives.kernels the spellings call
    helpers: tuple[str, ...] = ()
    #: matrix ops: how the result's shape follows from the arguments' (see module docstring)
    shape: str | None = None
    #: positions that must be Python numbers (a step count, an exponent)
    numbers: str = ""


def _unary(fn, foreach=True, inplace=True):
    """``torch.fn(x)``, ``x.fn_()`` and, if torch has it, ``torch._foreach_fn(xs)``."""
    return OpTemplate(f"torch.{fn}({{0}})", f"{{0}}.{fn}_()" if inplace else None,
                      f"torch._foreach_{fn}({{0}})" if foreach else None,
                      f"torch._foreach_{fn}_({{0}})" if foreach else None, lists="0")


def _binary(method, foreach, algebra=None):
    """A Python operator: works for any mix of tensors and numbers."""
    symbol = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}[method]
    return OpTemplate(f"{{0}} {symbol} {{1}}", f"{{0}}.{method}_({{1}})",
                      f"torch._foreach_{foreach}({{0}}, {{1}})",
                      f"torch._foreach_{foreach}_({{0}}, {{1}})",
                      lists="" if method == "pow" else "0", algebra=algebra)


def _matrix(helper, shape, numbers="", arity=1):
    """A matrix op computed by a module-level helper of the same name."""
    args = ", ".join(f"{{{i}:t}}" if arity > 1 and str(i) not in numbers else f"{{{i}}}"
                     for i in range(arity))
    return OpTemplate(f"{helper}({args})", helpers=(helper,), shape=shape, numbers=numbers)


def _protected_log(fn):
    return OpTemplate(f"torch.{fn}(torch.abs({{0}}).clamp(min=1e-30))",
                      f"{{0}}.abs_().clamp_(min=1e-30).{fn}_()")


TEMPLATES: dict[str, OpTemplate] = {
    "get_pi": OpTemplate("math.pi"),
    "get_e": OpTemplate("math.e"),
    "get_eps": OpTemplate(_EPS),
    "add": _binary("add", "add", "sum"),
    "sub": _binary("sub", "sub", "difference"),
    "mul": _binary("mul", "mul", "product"),
    "div": _binary("div", "div", "quotient"),
    "pdiv": OpTemplate("_pdiv({0:t}, {1:t})", helpers=("_pdiv",)),
    "pow": _binary("pow", "pow"),
    "power": OpTemplate("torch.pow(torch.abs({0:t}) + " + _EPS + ", {1:t}).clamp(max=1e+30)"),
    "max": OpTemplate("torch.maximum({0:t}, {1:t})", "torch.maximum({0}, {1:t}, out={0})",
                      "torch._foreach_maximum({0}, {1})", "torch._foreach_maximum_({0}, {1})",
                      lists="0"),
    "min": OpTemplate("torch.minimum({0:t}, {1:t})", "torch.minimum({0}, {1:t}, out={0})",
                      "torch._foreach_minimum({0}, {1})", "torch._foreach_minimum_({0}, {1})",
                      lists="0"),
    # the exact formula; with a scalar weight the planner uses lerp kernels instead
    "interp": OpTemplate("(1 - {2}) * {0} + {2} * {1}", algebra="interp"),
    "clip": OpTemplate("torch.minimum(torch.maximum({0:t}, -torch.abs({1:t})), torch.abs({1:t}))"),
    "clamp": OpTemplate("torch.minimum(torch.maximum({0:t}, {1:t}), {2:t})"),
    "where": OpTemplate("torch.where({0:t} > 0, {1:t}, {2:t})", algebra="select"),
    "abs": _unary("abs"),
    "cos": _unary("cos"),
    "sin": _unary("sin"),
    "tan": _unary("tan"),
    "arcsin": OpTemplate("torch.asin(torch.clamp({0}, -1, 1))", "{0}.clamp_(-1, 1).asin_()"),
    "arccos": OpTemplate("torch.acos(torch.clamp({0}, -1, 1))", "{0}.clamp_(-1, 1).acos_()"),
    "arctan": _unary("atan"),
    "sinh": _unary("sinh"),
    "cosh": _unary("cosh"),
    "tanh": _unary("tanh"),
    "arcsinh": _unary("asinh", foreach=False),
    "arccosh": OpTemplate("torch.acosh(torch.abs({0}).clamp(min=1))",
                          "{0}.abs_().clamp_(min=1).acosh_()"),
    "arctanh": OpTemplate(f"torch.atanh(torch.clamp({{0}}, {-1 + 1e-7!r}, {1 - 1e-7!r}))",
                          f"{{0}}.clamp_({-1 + 1e-7!r}, {1 - 1e-7!r}).atanh_()"),
    "exp": _unary("exp"),
    "exp2": _unary("exp2", foreach=False),
    "exp10": OpTemplate("torch.pow(10.0, {0})", None, "torch._foreach_pow(10.0, {0})",
                        lists="0"),
    "expm1": _unary("expm1"),
    "plog": _protected_log("log"),
    "log10": _protected_log("log10"),
    "log2": _protected_log("log2"),
    "log1p": OpTemplate("torch.log(torch.abs(1 + {0}).clamp(min=1e-30))"),
    "square": OpTemplate("torch.square({0})", "{0}.square_()", "torch._foreach_mul({0}, {0})",
                         "torch._foreach_mul_({0}, {0})", lists="0", algebra="square"),
    "psqrt": OpTemplate("torch.sqrt(torch.abs({0}))", "{0}.abs_().sqrt_()"),
    "cube": OpTemplate("{0} * {0} * {0}"),
    "cbrt": OpTemplate(f"torch.sign({{0}}) * torch.abs({{0}}).pow({1.0 / 3.0!r})"),
    "sign": _unary("sign"),
    "reciprocal": OpTemplate("_pdiv(1.0, {0})", helpers=("_pdiv",)),
    "norm": OpTemplate("torch.linalg.vector_norm({0})", None, "torch._foreach_norm({0})",
                       lists="0"),
    "invert": OpTemplate("1 - {0}"),
    "negative": OpTemplate("torch.neg({0})", "{0}.neg_()", "torch._foreach_neg({0})",
                           "torch._foreach_neg_({0})", lists="0", algebra="negate"),
    "sqrt": _unary("sqrt"),
    "log": _unary("log"),
    "sigmoid": _unary("sigmoid"),
    "relu": _unary("relu", foreach=False),
    "rsqrt": _unary("rsqrt"),
    # per-tensor reductions (0-d results)
    "rms": OpTemplate("torch.linalg.vector_norm({0}) / math.sqrt(max({0}.numel(), 1))"),
    "mean": OpTemplate("torch.mean({0})"),
    "sum": OpTemplate("torch.sum({0})"),
    "absmax": OpTemplate("torch.abs({0}).max()"),
    "numel": OpTemplate("{0}.new_tensor(float({0}.numel()))"),
    "ndim": OpTemplate("{0}.new_tensor(float({0}.ndim))"),
    "dot": OpTemplate("torch.sum({0} * {1})"),
    "cosine_sim": OpTemplate("_cosine_sim({0:t}, {1:t})", helpers=("_cosine_sim", "_pdiv")),
    # group reductions: one 0-d tensor from every tensor of the group
    "global_norm": OpTemplate(
        group="torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(x_) for x_ in {0}]))",
        group_foreach="torch.linalg.vector_norm(torch.stack(torch._foreach_norm({0})))",
        lists="0"),
    "global_sum": OpTemplate(group="torch.stack([torch.sum(x_) for x_ in {0}]).sum()", lists="0"),
    "global_dot": OpTemplate(
        group="torch.stack([torch.sum(x_ * y_) for x_, y_ in zip({0}, {1})]).sum()", lists="01"),
    "global_max": OpTemplate(group="torch.stack([x_.max() for x_ in {0}]).max()", lists="0"),
    "global_numel": OpTemplate(
        group="torch.tensor(float(sum(x_.numel() for x_ in {0})), dtype=torch.float64)",
        lists="0"),
    "clip_by_global_norm": OpTemplate(group="_clip_scale({0}, {1})", scale_after=True,
                                      lists="0", helpers=("_clip_scale", "_pdiv")),
    "fmod": OpTemplate("torch.fmod({0:t}, {1})", "{0}.fmod_({1})"),
    # matrix ops on the last two dims
    "newton_schulz": _matrix("_newton_schulz", "same", numbers="1", arity=2),
    "ns_iterate": _matrix("_ns_iterate", "same", numbers="1", arity=2),
    "row_mean": _matrix("_row_mean", "row"),
    "col_mean": _matrix("_col_mean", "col"),
    "row_max": _matrix("_row_max", "row"),
    "col_max": _matrix("_col_max", "col"),
    "unit_sum": _matrix("_unit_sum", "unit"),
    "matrix_norm": _matrix("_matrix_norm", "mnorm"),
    "matmul": _matrix("_matmul", "matmul", arity=2),
    "transpose": _matrix("_transpose", "transpose"),
    "eye_like": _matrix("_eye_like", "same"),
    "spd_power": _matrix("_spd_power", "same", numbers="1", arity=2),
    "svd_left": _matrix("_svd_left", "matmul", numbers="1", arity=2),
    "svd_right": _matrix("_svd_right", "matmul", numbers="1", arity=2),
}

#: the fused kernels of the planner: name -> (one tensor, foreach over lists); ``{d}`` is the
#: tensor written in place, ``{c}`` a Python number
FUSED: dict[str, tuple[str, str | None]] = {
    "mul_": ("{d}.mul_({c})", "torch._foreach_mul_({d}, {c})"),
    "div_": ("{d}.div_({c})", "torch._foreach_div_({d}, {c})"),
    "neg_": ("{d}.neg_()", "torch._foreach_neg_({d})"),
    "mul": ("{x} * {c}", "torch._foreach_mul({x}, {c})"),
    "div": ("{x} / {c}", "torch._foreach_div({x}, {c})"),
    "neg": ("torch.neg({x})", "torch._foreach_neg({x})"),
    "prod_": ("{d}.mul_({b})", "torch._foreach_mul_({d}, {b})"),
    "quot_": ("{d}.div_({b})", "torch._foreach_div_({d}, {b})"),
    "prod": ("{a} * {b}", "torch._foreach_mul({a}, {b})"),
    "quot": ("{a} / {b}", "torch._foreach_div({a}, {b})"),
    "add_": ("{d}.add_({x})", "torch._foreach_add_({d}, {x})"),
    "sub_": ("{d}.sub_({x})", "torch._foreach_sub_({d}, {x})"),
    "axpy_": ("{d}.add_({x}, alpha={c})", "torch._foreach_add_({d}, {x}, alpha={c})"),
    "addcmul_": ("{d}.addcmul_({a}, {b}, value={c})",
                 "torch._foreach_addcmul_({d}, {a}, {b}, value={c})"),
    "addcdiv_": ("{d}.addcdiv_({a}, {b}, value={c})",
                 "torch._foreach_addcdiv_({d}, {a}, {b}, value={c})"),
    "plus": ("{y} + {x}", "torch._foreach_add({y}, {x})"),
    "minus": ("{y} - {x}", "torch._foreach_sub({y}, {x})"),
    "axpy": ("torch.add({y}, {x}, alpha={c})", "torch._foreach_add({y}, {x}, alpha={c})"),
    "addcmul": ("torch.addcmul({y}, {a}, {b}, value={c})",
                "torch._foreach_addcmul({y}, {a}, {b}, value={c})"),
    "addcdiv": ("torch.addcdiv({y}, {a}, {b}, value={c})",
                "torch._foreach_addcdiv({y}, {a}, {b}, value={c})"),
    "lerp_": ("{d}.lerp_({x}, {c})", "torch._foreach_lerp_({d}, {x}, {c})"),
    "lerp": ("torch.lerp({x}, {y}, {c})", "torch._foreach_lerp({x}, {y}, {c})"),
    "copy_": ("{d}.copy_({x})", "torch._foreach_copy_({d}, {x})"),
    "fill_": ("{d}.fill_({c})", None),
    "clone": ("{x}.clone()", None),
}
