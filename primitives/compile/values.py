"""Lazy per-tensor values and the scalar factors of fused kernels (the planner's algebra).

Values are lazy (:class:`_V`): ``c * x`` with a Python-float factor ``c``, ``x * y``, ``x / y``
and sums stay unevaluated until a consumer needs a tensor, so that they fuse into the consumer's
kernel; products of factors are computed once per step (:class:`Coefs`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Coefs"]


@dataclass(frozen=True)
class _V:
    """A per-tensor value, perhaps not computed yet: ``(-1 if neg) * prod(coef) * node``.

    ``node``: ``("buf", var)``, ``("mul", a, b)`` / ``("div", a, b)`` over computed tensors,
    ``("sum", v1, v2, ...)``, or ``("name", n)``: the value of the SSA name ``n`` (computed once
    if other statements need it, else inlined); ``coef``: factors ``(name or number, +1 or -1)``,
    Python floats.
    """

    node: tuple
    coef: tuple = ()
    neg: bool = False


def _buf(var):
    return _V(("buf", var))


def _scaled(v: _V, coef=(), neg=False) -> _V:
    return _V(v.node, v.coef + tuple(coef), v.neg != neg)


def _plain(v: _V) -> bool:
    return v.node[0] == "buf" and not v.coef and not v.neg


def _rename(v: _V, old, new) -> _V:
    if v.node[0] == "name":
        return v
    if v.node[0] == "sum":
        return _V(("sum",) + tuple(_rename(t, old, new) for t in v.node[1:]), v.coef, v.neg)
    return _V((v.node[0],) + tuple(new if x == old else x for x in v.node[1:]), v.coef, v.neg)


class Coefs:
    """Scalar factors of fused kernels, computed once per step in ``_scalars_<name>``."""

    def __init__(self):
        self.names: dict[tuple, str] = {}

    def src(self, coef, neg=False) -> str:
        if not coef:
            return "-1" if neg else "1"
        if len(coef) == 1 and coef[0][1] == 1:
            x = coef[0][0]
            if isinstance(x, float):
                return repr(-x if neg else x)
            return f"-{x}" if neg else x
        name = self.names.setdefault(tuple(coef), f"_c{len(self.names) + 1}")
        return f"-{name}" if neg else name

    @staticmethod
    def dynamic(coef) -> bool:
        return any(isinstance(x, str) for x, _ in coef)

    def host_lines(self):
        for coef, name in self.names.items():
            src = lambda x: repr(x) if isinstance(x, float) else x  # noqa: E731
            num = [src(x) for x, p in coef if p == 1]
            den = [src(x) for x, p in coef if p == -1]
            if all(isinstance(x, float) for x, _ in coef):  # literals only: keep torch semantics
                num = [f"_f64({num[0] if num else '1.0'})"] + num[1:]
            text = " * ".join(num) if num else "1.0"
            yield f"{name} = {text}" + "".join(f" / {d}" for d in den)
