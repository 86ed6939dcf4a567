"""The program as the planner sees it: identifiers, value kinds and shape classes."""

from __future__ import annotations

import keyword
from dataclasses import dataclass

from ..kinds import Kind, value_kinds
from ..ops import OPS
from ..program import Program, ProgramError, stmt_source
from .shapes import FULL, join
from .templates import TEMPLATES

__all__ = ["CompileError", "IRStmt", "StepIR", "RESERVED_NAMES"]

#: identifiers the generated functions use, so program names must avoid them
RESERVED_NAMES = {"torch", "math", "float", "zip", "max", "min", "abs", "sum", "int", "round",
                  "len", "dict", "list", "range", "tuple", "self", "group", "state", "p", "meta",
                  "shapes", "new", "key"}


#: the planner's spelling of the kinds: a host scalar, a group value, a per-parameter tensor
_CODE = {Kind.SCALAR: "S", Kind.GROUP: "D", Kind.TENSOR: "T"}


class CompileError(ProgramError):
    """A program the compiler cannot turn into a step; the message names the statement."""


@dataclass(frozen=True)
class IRStmt:
    """One IR statement: ``target = op(*args)`` with generated-code identifiers."""

    target: str
    op: str
    args: tuple
    comment: str


class StepIR:
    """A program as the planner sees it: generated-code identifiers, one :class:`IRStmt` per op
    (clip_by_global_norm split into its group factor and a product), each value's kind (``"S"``
    a host scalar: hyperparameters, ``t``, ``loss`` and what only they feed; ``"D"`` a group
    value, a 0-d tensor shared by the group; ``"T"`` a per-parameter tensor) and shape class."""

    def __init__(self, program: Program):
        self.program = program
        self.ident = self._identifiers(program)
        n = lambda a: self.ident[a] if isinstance(a, str) else float(a)  # noqa: E731
        self.hypers = {self.ident[p.name]: p for p in program.params if p.role == "hyper"}
        self.inputs = {self.ident[p.name]: p.name for p in program.params if p.role == "input"}
        self.states = {self.ident[p.name]: p for p in program.params if p.role == "state"}
        self.stmts: list[IRStmt] = []
        self.factors: set[str] = set()
        for s in program.body:
            tpl = TEMPLATES.get(s.op)
            if tpl is None:
                raise CompileError(f"{program.name}: op {s.op!r} has no template")
            args, text = tuple(n(a) for a in s.args), f"{s.target} = {stmt_source(s)}"
            if tpl.scale_after:  # y = x * factor(x, c), the factor a group value
                factor = self._fresh(f"{self.ident[s.target]}_factor")
                self.factors.add(factor)
                self.stmts += [IRStmt(factor, s.op, args, text), IRStmt(self.ident[s.target], "mul",
                                                               (args[0], factor), text)]
            else:
                self.stmts.append(IRStmt(self.ident[s.target], s.op, args, text))
        self.returns = tuple(n(a) for a in program.returns)
        self._kinds_and_classes()

    def _identifiers(self, program):
        names = [p.name for p in program.params] + [s.target for s in program.body]
        ident, taken = {}, set(names)
        for name in names:
            if name in RESERVED_NAMES or name.startswith("_") or name.endswith("_") or \
                    keyword.iskeyword(name):
                k, base = 1, name.strip("_") or "v"
                while f"{base}_v{k}" in taken:
                    k += 1
                ident[name] = f"{base}_v{k}"
                taken.add(ident[name])
            else:
                ident[name] = name
        self.taken = taken | set(ident.values())
        return ident

    def _fresh(self, base):
        name, k = base, 1
        while name in self.taken:
            name, k = f"{base}{k}", k + 1
        self.taken.add(name)
        return name

    def kind(self, a) -> str:
        return "S" if isinstance(a, float) else self.kinds[a]

    def _kinds_and_classes(self):
        # the kinds of primitives.kinds (which also rejects an op given the wrong kind), in the
        # planner's spelling; the split clip_by_global_norm factors are group values
        self.kinds = {self.ident[name]: _CODE[kind]
                      for name, kind in value_kinds(self.program).items()}
        self.kinds.update(dict.fromkeys(self.factors, "D"))
        prog = self.program
        self.state_cls = {s: (FULL if p.init == "w" else None) for s, p in self.states.items()}
        cap = 4 * len(self.states) + 8  # a chain of n states settles in n + 1 rounds
        for rounds in range(cap + 1):  # state takes the broadcast of what it is assigned
            self.cls = {"w": FULL, "g": FULL}
            for p in prog.params[2:]:
                i = self.ident[p.name]
                self.cls[i] = self.state_cls[i] if p.role == "state" else FULL
            for s in self.stmts:
                self._classify(s)
            new = {s: join(c, self.cls.get(r) if self.kind(r) == "T" else None)
                   for (s, c), r in zip(self.state_cls.items(), self.returns[1:])}
            if new == self.state_cls or rounds == cap:
                break
            if rounds == cap - 1:  # not settling (a state fed through matmul): opaque classes
                new = {s: (c if new[s] == c else ("state", s)) for s, c in self.state_cls.items()}
            self.state_cls = new

    def _classify(self, s: IRStmt):
        """The shape class of ``s``'s result (None unless it is a per-parameter tensor)."""
        op, tpl = OPS[s.op], TEMPLATES[s.op]
        kinds = [self.kind(a) for a in s.args]
        if self.kinds[s.target] != "T" or op.kind == "group_reduction":
            self.cls[s.target] = None
            return
        if op.kind == "tensor_reduction":
            cls = None
        elif op.kind == "matrix":
            arg = [self.cls[a] if k == "T" else None for a, k in zip(s.args, kinds)]
            if tpl.shape == "matmul":  # "the shape of this statement's result"
                cls = ("stmt", s.target)
            elif tpl.shape == "same" or arg[0] is None:
                cls = arg[0]
            else:
                cls = (tpl.shape, arg[0])
        else:
            cls = None
            for a, k in zip(s.args, kinds):
                if k == "T":
                    cls = join(cls, self.cls[a])
        if len(repr(cls)) > 200:  # a term grown through state rounds: name it by its statement
            cls = ("stmt", s.target)
        self.cls[s.target] = cls

    def needed(self, roots, kinds=("T", "D"), stop=()):
        """The statements of ``kinds`` the ``roots`` depend on (not looking past ``stop``)."""
        by_target = {s.target: s for s in self.stmts}
        need, todo = set(), [r for r in roots if isinstance(r, str)]
        while todo:
            name = todo.pop()
            if name in need or name in stop or name not in by_target:
                continue
            need.add(name)
            todo += [a for a in by_target[name].args if isinstance(a, str)]
        return [s for s in self.stmts if s.target in need and self.kinds[s.target] in kinds]
