"""The planner: one function body of the fused step, from the program's statements.

Values are lazy (:mod:`primitives.compile.values`) until a consumer needs a tensor, so that they
fuse into the consumer's kernel, using ``w - c * a / b = w.addcdiv_(a, b, value=-c)``,
``x + c * a * b = x.addcmul_(a, b, value=c)``, ``x + c * y = x.add_(y, alpha=c)``,
``interp(x, y, a) = y.lerp_(x, 1 - a)`` and ``interp(c * a * b, y, beta) =
y.mul_(beta).addcmul_(a, b, value=(1 - beta) c)``. A result is written in place into a temporary
or state tensor whose value is dead (liveness over the SSA form, buffers tracked with their
aliases); the state and the weight are written at the end in an order that reads every value
before it is overwritten, copying one tensor where two states swap. A term whose scalar factor is
0 at run time is skipped, as torch.optim skips ``weight_decay=0``; that differs from the reference
only when the term is inf or NaN.
"""

from __future__ import annotations

from ..ops import OPS
from .ir import IRStmt
from .render import Field, render_expr, render_stmt
from .shapes import join
from .templates import FUSED, TEMPLATES
from .values import Coefs, _buf, _plain, _rename, _scaled, _V

__all__ = ["Emitter"]


class Emitter:
    """Writes one function body (``mode``: tensor, foreach or loop) for ``stmts``."""

    END = 10**9

    def __init__(self, an, coefs: Coefs, mode, stmts, outputs, write_state: bool):
        self.an, self.coefs, self.mode, self.stmts = an, coefs, mode, stmts
        self.lines: list[str] = []
        self.used: set[str] = set()  # scalar names the body reads
        self.env = {name: _buf(name) for name in ["w", "g", *an.states, *an.inputs.keys()]
                    if an.kinds.get(name) == "T"}
        self.cls = {name: an.cls[name] for name in self.env}
        self.writable = set(an.states) if write_state else set()
        self.aliases: dict[str, set] = {}
        self.vars = set(self.env)
        self.last = {}
        for i, s in enumerate(stmts):
            for a in s.args:
                if isinstance(a, str):
                    self.last[a] = i
        for name in outputs:
            if isinstance(name, str):
                self.last[name] = self.END
        self.home = {r: s for s, r in zip(an.states, an.returns[1:]) if isinstance(r, str)}
        self.i, self.pending = 0, []

    # ---- bookkeeping ---------------------------------------------------------------------

    def field(self, a) -> Field:
        if isinstance(a, float):
            return Field(f"({a!r})" if a < 0 else repr(a), "S")
        kind = self.an.kinds[a]
        if kind == "S":
            self.used.add(a)
        return Field(a, "S" if kind == "S" else kind)

    def refs(self, v: _V) -> set:
        """The buffers ``v`` reads."""
        if v.node[0] == "name":
            return self.refs(self.env[v.node[1]])
        out = set()
        for x in v.node[1:]:
            out |= self.refs(x) if isinstance(x, _V) else {x} | self.aliases.get(x, set())
        return out

    def vcls(self, v: _V):
        if v.node[0] == "name":
            return self.an.cls[v.node[1]]
        if v.node[0] == "buf":
            return self.cls[v.node[1]]
        parts = v.node[1:] if v.node[0] == "sum" else [_buf(x) for x in v.node[1:]]
        out = None
        for p in parts:
            out = join(out, self.vcls(p))
        return out

    def live(self, name) -> bool:
        return self.last.get(name, -1) > self.i or name in self.pending

    def ref(self, name) -> _V:
        """A lazy reference to ``name`` (a copy if it is a computed tensor)."""
        v = self.env[name]
        return v if v.node[0] == "buf" else _V(("name", name))

    def resolve(self, v: _V) -> _V:
        """``v`` with a top-level name reference replaced: by its tensor if the name is needed
        later (computing it once), else by its lazy value."""
        while v.node[0] == "name":
            n = v.node[1]
            inner = _buf(self.value(n)) if self.live(n) else self.env[n]
            v = _scaled(inner, v.coef, v.neg)
        return v

    def base(self, name, busy=()):
        """``name`` as (tensor, coef, neg): its product or sum part computed (once)."""
        v = self.env[name]
        if v.node[0] == "name":
            var, coef, neg = self.base(v.node[1], busy)
            return var, v.coef + coef, v.neg != neg
        if v.node[0] != "buf":
            var = self.materialize(_V(v.node), hint=name, keep={name}, busy=busy)
            v = self.env[name] = _V(("buf", var), v.coef, v.neg)
        return v.node[1], v.coef, v.neg

    def free(self, var, cls, keep=(), busy=()) -> bool:
        """May ``var`` be overwritten now by a value of shape class ``cls``?"""
        if var not in self.writable or var in busy or self.cls[var] != cls:
            return False
        return not any(name not in keep and self.live(name) and var in self.refs(v)
                       for name, v in self.env.items())

    def new_var(self, hint, cls, writable=True) -> str:
        name, k = hint, 1
        while name in self.vars or name in self.an.taken - {hint}:
            name, k = f"_t{k}", k + 1
        self.vars.add(name)
        self.cls[name] = cls
        if writable:
            self.writable.add(name)
        return name

    def kernel(self, name, dest=None, cond=None, alias=None, **fields):
        """Emit a fused kernel; ``dest``: assign its value; ``cond``: skip it when cond is 0."""
        fs = {k: v if isinstance(v, Field) else Field(v, "T") for k, v in fields.items()}
        tensor, foreach = FUSED[name]
        if dest is not None:
            expr = render_expr(tensor, foreach, fs, self.mode)
            self.lines.append(f"{dest} = {alias} if {cond} == 0 else {expr}" if alias else
                              f"{dest} = {expr}")
            return
        body = render_stmt(tensor, foreach, fs, self.mode)
        self.lines += [f"if {cond} != 0:"] + ["    " + b for b in body] if cond else body

    def c(self, coef, neg=False) -> Field:
        for x, _ in coef:
            if isinstance(x, str) and x in self.an.kinds:
                self.used.add(x)
        return Field(self.coefs.src(coef, neg), "S")

    # ---- materialising a lazy value -----------------------------------------------------

    def value(self, name, busy=(), prefer=None) -> str:
        var = self.materialize(self.env[name], hint=name, keep={name}, busy=busy, prefer=prefer)
        self.env[name] = _buf(var)
        return var

    def scale(self, var, v: _V, dest=None):
        """``var`` times v's coefficient: in place, or into the new ``dest``."""
        if not v.coef and not v.neg:
            return
        inverse = len(v.coef) == 1 and v.coef[0][1] == -1
        coef = ((v.coef[0][0], 1),) if inverse else v.coef
        if not v.coef:
            kind, fields = "neg", {}
        else:
            kind, fields = ("div" if inverse else "mul"), {"c": self.c(coef, v.neg)}
        if dest is None:
            self.kernel(kind + "_", d=var, **fields)
        else:
            self.kernel(kind, dest=dest, x=var, **fields)

    def materialize(self, v: _V, hint="_t", keep=(), busy=(), prefer=None) -> str:
        v = self.resolve(v)
        cls, node = self.vcls(v), v.node
        if node[0] == "buf":
            var = node[1]
            if _plain(v):
                return var
            if self.free(var, cls, keep, busy):
                self.scale(var, v)
                return var
            new = self.new_var(hint, cls)
            self.scale(var, v, dest=new)
            return new
        if node[0] == "sum":
            return self.sum(v, hint, keep, busy, prefer)
        a, b = node[1], node[2]
        pairs = [(a, b), (b, a)] if node[0] == "mul" else [(a, b)]
        pairs.sort(key=lambda p: p[0] != prefer)
        for d, other in pairs:
            if self.free(d, cls, keep, set(busy) | ({other} - {d})):
                self.kernel("prod_" if node[0] == "mul" else "quot_", d=d, b=other)
                var = d
                break
        else:
            var = self.new_var(hint, cls)
            self.kernel("prod" if node[0] == "mul" else "quot", dest=var, a=a, b=b)
        self.scale(var, v)
        return var

    def terms(self, v: _V, limit=8) -> list:
        """``v`` as a flat list of terms (each coef * buf or coef * product)."""
        v = self.resolve(v)
        if v.node[0] != "sum":
            return [v]
        parts = [_scaled(p, v.coef, v.neg) for p in v.node[1:]]
        out = [t for p in parts for t in self.terms(p)]
        if len(out) <= limit:
            return out
        return [_buf(self.materialize(p)) if p.node[0] == "sum" else p for p in parts]

    def absorb(self, d, t: _V, cond=None, sign=False):
        """``d += t`` in place (``d -= t`` with ``sign``); skipped at run time when cond is 0."""
        neg = t.neg != sign
        if t.node[0] == "buf" and not t.coef:
            self.kernel("sub_" if neg else "add_", d=d, x=t.node[1], cond=cond)
        elif t.node[0] == "buf":
            self.kernel("axpy_", d=d, x=t.node[1], c=self.c(t.coef, neg), cond=cond)
        else:
            kind = "addcmul_" if t.node[0] == "mul" else "addcdiv_"
            self.kernel(kind, d=d, a=t.node[1], b=t.node[2], c=self.c(t.coef, neg), cond=cond)

    def combine(self, dest, y, t: _V, cond=None):
        """``dest = y + t`` into a new tensor; with ``cond``: ``y`` itself when cond is 0."""
        if t.node[0] == "buf" and not t.coef:
            kind, fields = ("minus" if t.neg else "plus"), {"x": t.node[1]}
        elif t.node[0] == "buf":
            kind, fields = "axpy", {"x": t.node[1], "c": self.c(t.coef, t.neg)}
        else:
            kind = "addcmul" if t.node[0] == "mul" else "addcdiv"
            fields = {"a": t.node[1], "b": t.node[2], "c": self.c(t.coef, t.neg)}
        self.kernel(kind, dest=dest, cond=cond, alias=y if cond else None, y=y, **fields)

    def sum(self, v: _V, hint, keep, busy, prefer) -> str:
        terms = [t if t.node[0] != "sum" else _buf(self.materialize(t)) for t in self.terms(v)]
        cls = self.vcls(v)

        def skip(t):  # a term whose factor may be 0 at run time is skipped then
            return self.c(t.coef).src if self.coefs.dynamic(t.coef) else None

        def others(k):
            return set(busy).union(*(self.refs(u) for j, u in enumerate(terms) if j != k))

        order = sorted(range(len(terms)), key=lambda k: (terms[k].node[1] != prefer,
                                                        terms[k].node[0] != "buf",
                                                        not _plain(terms[k])))
        for k in order:  # a term whose buffer may hold the sum: accumulate in place
            t, rest = terms[k], terms[:k] + terms[k + 1:]
            spots = [t.node[1]] if t.node[0] != "mul" else [t.node[1], t.node[2]]
            if self.vcls(t) == cls and any(self.free(d, cls, keep, others(k)) for d in spots):
                d = self.materialize(t, hint, keep, others(k), prefer)
                for u in rest:
                    self.absorb(d, u, cond=skip(u))
                return d
        # out of place: start from the largest (then plain) term, one new tensor per widening
        terms.sort(key=lambda t: (self.vcls(t) != cls, not _plain(t)))
        first, rest = terms[0], terms[1:]
        owned = not _plain(first)
        d = self.materialize(first, hint, keep, set(busy).union(*map(self.refs, rest)))
        for n, t in enumerate(rest):
            if owned and join(self.cls[d], self.vcls(t)) == self.cls[d]:
                self.absorb(d, t, cond=skip(t))
                continue
            last = n == len(rest) - 1
            cond = skip(t) if last else None
            new = self.new_var(hint, join(self.cls[d], self.vcls(t)), writable=not cond)
            self.combine(new, d, t, cond)
            if cond:  # new may be d itself: never write into it
                self.aliases[new] = {d} | self.aliases.get(d, set())
            d, owned = new, True
        return d

    # ---- statements ----------------------------------------------------------------------

    def statement(self, i, s: IRStmt):
        self.i = i
        an, tpl = self.an, TEMPLATES[s.op]
        kinds = [an.kind(a) for a in s.args]
        env, ref = (lambda a: self.env[a]), self.ref
        alg = tpl.algebra if an.kinds[s.target] == "T" else None
        self.lines.append(f"# {s.comment}")
        at = len(self.lines) - 1
        for a in s.args:
            if isinstance(a, str) and an.kinds[a] == "S":
                self.used.add(a)
        lazy = None
        if alg in ("product", "quotient") and kinds in (["T", "S"], ["S", "T"], ["T", "T"]):
            x, y = s.args
            if kinds == ["T", "S"]:
                lazy = _scaled(ref(x), ((y, 1 if alg == "product" else -1),))
            elif kinds == ["S", "T"] and alg == "product":
                lazy = _scaled(ref(y), ((x, 1),))
            elif kinds == ["T", "T"]:
                lazy = self.product(alg, x, y)
        elif alg == "square" and kinds == ["T"]:
            lazy = self.product("product", s.args[0], s.args[0])
        elif alg == "negate" and kinds == ["T"]:
            lazy = _scaled(ref(s.args[0]), (), True)
        elif alg in ("sum", "difference") and kinds == ["T", "T"]:
            lazy = _V(("sum", ref(s.args[0]), _scaled(ref(s.args[1]), (), alg == "difference")))
        if lazy is not None:
            self.lines[at] += "  (deferred: fused into a later kernel)"
            self.env[s.target] = lazy
        elif alg == "interp" and kinds == ["T", "T", "S"]:
            self.interp(s)
        elif alg == "select" and kinds == ["S", "T", "T"] and \
                self.vcls(env(s.args[1])) == self.vcls(env(s.args[2])):
            self.select(s)
        else:
            self.generic(s, tpl)

    def product(self, alg, x, y) -> _V:
        """x * y or x / y as a lazy product of two computed tensors times their factors."""
        a, ca, na = self.base(x, busy=self.refs(self.env[y]))
        b, cb, nb = self.base(y, busy={a})
        inv = tuple((f, -p) for f, p in cb) if alg == "quotient" else cb
        return _V(("mul" if alg == "product" else "div", a, b), ca + inv, na != nb)

    def interp(self, s: IRStmt):
        """interp(x, y, a) with a number a: lerp_ into whichever of x, y is dead, fusing x."""
        x, y = self.resolve(self.ref(s.args[0])), self.resolve(self.ref(s.args[1]))
        a = self.field(s.args[2]).src
        cls, home = self.an.cls[s.target], self.home.get(s.target)
        y_ok = _plain(y) and y.node[1] not in self.refs(x) and self.free(y.node[1], cls)
        x_ok = _plain(x) and x.node[1] not in self.refs(y) and self.free(x.node[1], cls)
        if x_ok and (not y_ok or x.node[1] == home != y.node[1]):
            d = x.node[1]  # x + a (y - x)
            self.kernel("lerp_", d=d, x=self.materialize(y, busy={d}), c=Field(a, "S"))
        elif y_ok and (x.node[0] == "sum" or _plain(x)):
            d = y.node[1]  # y + (1 - a) (x - y)
            self.kernel("lerp_", d=d, x=self.materialize(x, busy={d}), c=Field(f"1 - {a}", "S"))
        elif y_ok:
            d = y.node[1]  # a y + (1 - a) c x, x a scaled tensor or product (EMA of g * g)
            self.kernel("mul_", d=d, c=Field(a, "S"))
            weight = f"1 - {a}" if not x.coef and not x.neg else \
                f"(1 - {a}) * {self.c(x.coef, x.neg).src}"
            self.absorb(d, _V(x.node, ((weight, 1),)))
        else:
            xv = self.materialize(x, hint=s.target, busy=self.refs(y))
            yv = self.materialize(y, hint=s.target, busy={xv})
            d = self.new_var(s.target, cls)
            self.kernel("lerp", dest=d, x=xv, y=yv, c=Field(a, "S"))
        self.env[s.target] = _buf(d)

    def select(self, s: IRStmt):
        c = self.field(s.args[0]).src
        a = self.value(s.args[1], busy=self.refs(self.env[s.args[2]]))
        b = self.value(s.args[2], busy=self.refs(self.env[s.args[1]]))
        d = self.new_var(s.target, self.an.cls[s.target], writable=False)
        self.aliases[d] = {a, b} | self.aliases.get(a, set()) | self.aliases.get(b, set())
        self.lines.append(f"{d} = {a} if {c} > 0 else {b}")
        self.env[s.target] = _buf(d)

    def generic(self, s: IRStmt, tpl):
        an, fields = self.an, []
        tensors = [a for a in s.args if isinstance(a, str) and an.kinds[a] == "T"]
        for a in s.args:
            if isinstance(a, str) and an.kinds[a] == "T":
                others = set().union(*(self.refs(self.env[o]) for o in tensors if o != a))
                fields.append(Field(self.value(a, busy=others), "T"))
            else:
                fields.append(self.field(a))
        if an.kinds[s.target] == "D":
            group = tpl.group_foreach if self.mode == "foreach" and tpl.group_foreach else \
                tpl.group
            expr = render_expr(group or tpl.tensor, None, fields, "whole")
            self.lines.append(f"{s.target} = {expr}")
            return
        cls = an.cls[s.target]
        if tpl.inplace:
            spots = [0, 1] if OPS[s.op].commutative and len(fields) == 2 else [0]
            for k in spots:
                f, rest = fields[k], fields[:k] + fields[k + 1:]
                if f.kind == "T" and all(r.src != f.src for r in rest) and \
                        self.free(f.src, cls, busy={r.src for r in rest if r.kind == "T"}):
                    ordered = [f] + rest
                    self.lines += render_stmt(tpl.inplace, tpl.foreach_inplace, ordered,
                                              self.mode, tpl.lists)
                    self.env[s.target] = _buf(f.src)
                    return
        view = OPS[s.op].kind == "matrix"  # maybe a view of its input: never written into
        d = self.new_var(s.target, cls, writable=not view)
        if view:
            self.aliases[d] = set().union(*(self.refs(_buf(f.src)) for f in fields
                                            if f.kind == "T"))
        expr = render_expr(tpl.tensor, tpl.foreach, fields, self.mode, tpl.lists)
        self.lines.append(f"{d} = {expr}")
        self.env[s.target] = _buf(d)

    # ---- the end of a step: the update and the state -------------------------------------

    def writeback(self):
        an = self.an
        self.i = self.END
        self.lines.append(f"# return {', '.join(str(r) for r in an.returns)}")
        pairs = list(zip(an.states, an.returns[1:]))
        # a state whose new value already sits in its own buffer needs no write; another state
        # returning the same value still does (``return u, v, v``: m must become v)
        in_place = {s for s, r in pairs
                    if isinstance(r, str) and an.kinds[r] == "T" and self.env[r] == _buf(s)}
        done = [r for s, r in pairs if s in in_place]
        outs = [(s, r) for s, r in pairs if s not in in_place]
        outs.append(("w", an.returns[0]))
        cloned = set()
        reads = lambda r: self.refs(self.env[r]) if isinstance(r, str) and an.kinds[r] == "T" \
            else set()  # noqa: E731
        while outs:
            for j, (dest, r) in enumerate(outs):
                if not any(dest in reads(r2) for j2, (_, r2) in enumerate(outs) if j2 != j):
                    break
            else:  # a cycle (e.g. two states swap): keep a copy of one destination
                dest = next(d for d, _ in outs if d not in cloned)
                cloned.add(dest)
                for var, shared in list(self.aliases.items()):  # variables that may be dest
                    if dest in shared and any(var in reads(r) for _, r in outs):
                        self.kernel("clone", dest=var, x=var)
                        self.aliases[var] = set()
                if any(dest in reads(r) for d, r in outs if d != dest):
                    old = self.new_var(f"{dest}_old", self.cls[dest])
                    self.kernel("clone", dest=old, x=dest)
                    self.env = {k: _rename(v, dest, old) for k, v in self.env.items()}
                continue
            outs.pop(j)
            self.pending = [r2 for _, r2 in outs] + done  # state already in place stays intact
            if dest == "w":
                self.update(r)
            else:
                self.store(dest, r)

    def store(self, dest, r):
        if isinstance(r, float) or self.an.kinds[r] == "S":
            self.kernel("fill_", d=dest, c=self.field(r))
        elif self.an.kinds[r] == "D":
            self.kernel("copy_", d=dest, x=Field(r, "D"))
        else:
            var = self.value(r, prefer=dest)
            if var != dest:
                self.kernel("copy_", d=dest, x=var)

    def update(self, r):
        if isinstance(r, float) or self.an.kinds[r] != "T":
            if r != 0.0:
                self.kernel("sub_", d="w", x=self.field(r))
            return
        terms = self.terms(self.env[r])
        on_w = [t for t in terms if "w" in self.refs(t)]
        if len(on_w) > 1:
            terms = [_buf(self.value(r))]
        terms = [t if t.node[0] != "sum" else _buf(self.materialize(t)) for t in terms]
        terms.sort(key=lambda t: "w" not in self.refs(t))
        for t in terms:
            cond = self.c(t.coef).src if len(terms) > 1 and self.coefs.dynamic(t.coef) else None
            self.absorb("w", t, cond=cond, sign=True)