"""Programs: the data model of an update rule, and parsing/printing it as Python source.

A program is a restricted Python function (DESIGN.md section 2)::

    def lion(w, g, m, lr=1e-4, beta1=0.9, beta2=0.99, wd=0.0):
        \"\"\"Lion: EvoLved Sign Momentum (Chen et al., 2023).\"\"\"
        u = sign(interp(g, m, beta1))
        m = interp(g, m, beta2)
        return lr * (u + wd * w), m

Arguments by role: ``w`` and ``g`` first; then optimizer state (no default; zero at step 1 unless
annotated with a start value: a number, a hyperparameter name, or ``w``) and the reserved inputs
``t`` (step, 1 at the first step), ``loss`` and ``h`` (Hessian-diagonal estimate); then
hyperparameters (numeric defaults). The return value is ``(update, *state)``: the weight becomes
``w - update`` and the state comes back in argument order.

:func:`parse` flattens nested expressions into SSA form, one op per statement (the genome the
search mutates), renaming reassigned variables (``m`` -> ``m_1``); :func:`to_source` prints it
back as valid source, and ``parse(to_source(p)) == p``. Parsing also checks the kind of every
value (:mod:`primitives.kinds`: scalar, group value or per-parameter tensor), so an op given the
wrong kind is an error that names its line.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass, field, replace
from typing import Union

from .errors import ProgramError
from .kinds import RESERVED_INPUTS, value_kinds
from .ops import OPERATOR_OPS, OPS

__all__ = ["Param", "Stmt", "Program", "ProgramError", "parse", "to_source", "RESERVED_INPUTS"]

Arg = Union[str, float]


@dataclass(frozen=True)
class Param:
    """One function argument. ``role`` is weight, grad, state, input or hyper."""

    name: str
    role: str
    default: float | int | None = None  # hyperparameters only
    init: float | str | None = None  # state only: start value (number, hyper name or "w")


@dataclass(frozen=True)
class Stmt:
    """``target = op(*args)``; an arg is a variable name (str) or a constant (float)."""

    target: str
    op: str
    args: tuple[Arg, ...]


@dataclass(frozen=True)
class Program:
    """An update rule in SSA form: parameters, one op per statement, and the returned values."""

    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    returns: tuple[Arg, ...]
    doc: str = field(default="", compare=False)

    @property
    def state_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params if p.role == "state")

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params if p.role == "input")

    @property
    def hyperparameters(self) -> dict[str, float]:
        """Hyperparameter name -> default, in argument order."""
        return {p.name: p.default for p in self.params if p.role == "hyper"}

    @property
    def state_inits(self) -> dict[str, float | str]:
        """State name -> start value (0.0 unless the program declares one)."""
        return {p.name: (0.0 if p.init is None else p.init) for p in self.params if p.role == "state"}

    @property
    def source(self) -> str:
        return to_source(self)

    def with_defaults(self, **defaults: float) -> "Program":
        """A copy with new hyperparameter defaults; unknown names are an error."""
        unknown = set(defaults) - set(self.hyperparameters)
        if unknown:
            raise ProgramError(f"{self.name}: unknown hyperparameter(s) {sorted(unknown)}; "
                               f"known: {list(self.hyperparameters)}")
        params = tuple(replace(p, default=defaults[p.name]) if p.name in defaults else p
                       for p in self.params)
        return replace(self, params=params)

    def __str__(self) -> str:
        return to_source(self)


# --------------------------------------------------------------------------------------------
# parsing


def _err(node: ast.AST | None, msg: str) -> ProgramError:
    line = getattr(node, "lineno", None)
    return ProgramError(f"line {line}: {msg}" if line else msg)


def _number(node: ast.AST) -> float | int | None:
    """The value of a numeric literal (with unary minus/plus), else None."""
    sign = 1
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -sign if isinstance(node.op, ast.USub) else sign  # a loop: -(-(...)) can be deep
        node = node.operand
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return sign * node.value
    return None


def _finite(value: float | int) -> bool:
    """Whether ``value`` is a finite float (an integer literal too large for a float is not)."""
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _text(node: ast.AST, limit: int = 60) -> str:
    """Short source text of ``node`` for a message (its type name if it is too deep to print)."""
    try:
        text = ast.unparse(node)
    except RecursionError:
        return type(node).__name__
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


#: how deeply expressions may nest (the library's deepest is about 10 levels); deeper is an error
#: rather than a RecursionError: split a long expression into statements
MAX_NESTING = 100

_AST_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_FORBIDDEN = {
    (ast.For, ast.AsyncFor, ast.While): "loops are not allowed",
    (ast.If, ast.IfExp, ast.Match): "conditionals are not allowed (use where(c, a, b))",
    (ast.Compare, ast.BoolOp): "comparisons are not allowed (use where(c, a, b))",
    (ast.Lambda, ast.FunctionDef, ast.AsyncFunctionDef): "nested functions are not allowed",
    (ast.Attribute,): "attribute access is not allowed (only calls to registry ops)",
    (ast.Subscript,): "indexing is not allowed",
}


class _Parser:
    def __init__(self, fn: ast.FunctionDef, taken: set[str]):
        self.fn = fn
        self.taken = set(taken)  # every identifier in the source, to keep fresh names fresh
        self.env: dict[str, Arg] = {}  # source name -> current SSA name or constant
        self.body: list[Stmt] = []
        self.lines: list[int | None] = []  # the source line of each statement of ``body``
        self.defined: set[str] = set()  # SSA names defined so far (parameters included)
        self.counters: dict[str, int] = {}
        self.depth = 0  # nesting of the expression being flattened

    def fresh(self, base: str | None) -> str:
        """``base`` itself at its first definition, else ``base_k`` (or ``tmpk`` for temporaries)."""
        if base is not None and base not in self.defined:
            self.defined.add(base)
            return base
        prefix = f"{base}_" if base else "tmp"
        while True:
            self.counters[prefix] = self.counters.get(prefix, 0) + 1
            name = f"{prefix}{self.counters[prefix]}"
            if name not in self.taken and name not in self.defined:
                self.defined.add(name)
                return name

    def expr(self, node: ast.expr, target: str | None = None) -> Arg:
        """Flatten ``node``; the outermost op is assigned to ``target`` (a source name)."""
        self.depth += 1
        try:
            if self.depth > MAX_NESTING:
                raise _err(node, f"expression nested more than {MAX_NESTING} levels deep; "
                                 "split it into statements")
            return self._expr(node, target)
        finally:
            self.depth -= 1

    def _expr(self, node: ast.expr, target: str | None) -> Arg:
        value = _number(node)
        if value is not None:
            if not _finite(value):
                raise _err(node, "constants must be finite (and within float range)")
            return float(value)
        if isinstance(node, ast.Name):
            if node.id not in self.env:
                raise _err(node, f"undefined variable {node.id!r}")
            return self.env[node.id]
        if isinstance(node, ast.BinOp):
            sym = _AST_OPERATORS.get(type(node.op))
            if sym is None:
                raise _err(node, f"operator {type(node.op).__name__} is not allowed")
            return self.emit(node, OPERATOR_OPS[sym], [node.left, node.right], target)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.UAdd):
                return self.expr(node.operand, target)
            if isinstance(node.op, ast.USub):
                return self.emit(node, "negative", [node.operand], target)
            raise _err(node, f"operator {type(node.op).__name__} is not allowed")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                raise _err(node, f"calls outside the op registry are not allowed: "
                                 f"{_text(node.func)}")
            name = node.func.id
            if name not in OPS:
                raise _err(node, f"unknown op {name!r} (see `discover ops` for the registry)")
            if node.keywords:
                raise _err(node, f"{name}: keyword arguments are not allowed")
            op = OPS[name]
            if len(node.args) != op.arity:
                raise _err(node, f"{name} takes {op.arity} argument(s), got {len(node.args)}")
            return self.emit(node, name, node.args, target)
        for kinds, msg in _FORBIDDEN.items():
            if isinstance(node, kinds):
                raise _err(node, msg)
        raise _err(node, f"{type(node).__name__} expressions are not allowed")

    def emit(self, node, op: str, arg_nodes, target: str | None) -> str:
        args = tuple(self.expr(a) for a in arg_nodes)
        name = self.fresh(target)
        self.body.append(Stmt(name, op, args))
        self.lines.append(getattr(node, "lineno", None))
        return name

    def statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.AugAssign):
            node = ast.Assign(targets=[node.target], value=ast.BinOp(
                left=ast.Name(id=getattr(node.target, "id", "?")), op=node.op, right=node.value),
                lineno=node.lineno)
            ast.copy_location(node.value, node)
            ast.copy_location(node.value.left, node)
        if isinstance(node, ast.Assign):
            if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
                raise _err(node, "only single-name assignments are allowed (x = expr)")
            name = node.targets[0].id
            if name in OPS:
                raise _err(node, f"{name!r} is an op name and cannot be a variable")
            self.env[name] = self.expr(node.value, target=name)
            return
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            return  # a stray string literal (comment-like); ignored
        for kinds, msg in _FORBIDDEN.items():
            if isinstance(node, kinds):
                raise _err(node, msg)
        raise _err(node, f"{type(node).__name__} statements are not allowed")


def _params(fn: ast.FunctionDef) -> list[Param]:
    a = fn.args
    if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs:
        raise _err(fn, "only plain positional arguments are allowed")
    names = [x.arg for x in a.args]
    if names[:2] != ["w", "g"]:
        raise _err(fn, "the first two arguments must be w (weight) and g (gradient)")
    if len(set(names)) != len(names):
        raise _err(fn, "duplicate argument names")
    n_plain = len(names) - len(a.defaults)
    if n_plain < 2 or a.args[0].annotation is not None or a.args[1].annotation is not None:
        raise _err(fn, "w and g take no default or start value")
    params = [Param("w", "weight"), Param("g", "grad")]
    hypers = set(names[n_plain:])
    for arg in a.args[2:n_plain]:
        if arg.arg in OPS:
            raise _err(arg, f"{arg.arg!r} is an op name and cannot be an argument")
        role = "input" if arg.arg in RESERVED_INPUTS else "state"
        init = None
        if arg.annotation is not None:
            if role == "input":
                raise _err(arg, f"input {arg.arg!r} cannot have a start value")
            init = _number(arg.annotation)
            if init is None:
                if not (isinstance(arg.annotation, ast.Name) and
                        (arg.annotation.id in hypers or arg.annotation.id == "w")):
                    raise _err(arg, f"start value of {arg.arg!r} must be a number, a "
                                    "hyperparameter name or w")
                init = arg.annotation.id
            elif not _finite(init):
                raise _err(arg, f"start value of {arg.arg!r} must be finite")
            else:
                init = float(init)
        params.append(Param(arg.arg, role, init=init))
    for arg, default in zip(a.args[n_plain:], a.defaults):
        value = _number(default)
        if value is None or isinstance(value, bool):
            raise _err(default, f"hyperparameter {arg.arg!r} needs a numeric default")
        if not _finite(value):
            raise _err(default, f"hyperparameter {arg.arg!r} needs a finite default")
        if arg.arg in RESERVED_INPUTS or arg.arg in OPS:
            raise _err(arg, f"{arg.arg!r} is reserved and cannot be a hyperparameter")
        if arg.annotation is not None:
            raise _err(arg, f"hyperparameter {arg.arg!r} cannot have an annotation")
        params.append(Param(arg.arg, "hyper", default=value))
    return params


def parse(source: str) -> Program:
    """Parse one restricted function into an SSA :class:`Program`.

    >>> p = parse("def sgd(w, g, lr=0.1):\\n    return lr * g")
    >>> p.body
    (Stmt(target='tmp1', op='mul', args=('lr', 'g')),)
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        where = f"line {exc.lineno}: " if exc.lineno else ""
        raise ProgramError(f"{where}syntax error: {exc.msg}") from None
    except ValueError as exc:  # text UTF-8 cannot hold (a lone surrogate), NUL (Python < 3.12)
        raise ProgramError(f"not valid source text: {str(exc).splitlines()[0][:120]}") from None
    except (RecursionError, MemoryError):  # Python's own parser gives up on absurd nesting
        raise ProgramError("the source is nested too deeply to parse; split long expressions "
                           "into statements") from None
    defs = [n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
    if len(defs) != 1 or not isinstance(defs[0], ast.FunctionDef):
        raise ProgramError("a program is exactly one function definition (def name(w, g, ...):)")
    fn = defs[0]
    if fn.decorator_list:
        raise _err(fn, "decorators are not allowed")
    params = _params(fn)
    taken = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)} | {p.name for p in params}
    parser = _Parser(fn, taken)
    parser.env = {p.name: p.name for p in params}
    parser.defined = {p.name for p in params}
    body = list(fn.body)
    doc = ast.get_docstring(fn) or ""
    if doc:
        body = body[1:]
    if not body or not isinstance(body[-1], ast.Return):
        raise _err(body[-1] if body else fn, "a program must end with return (update, *state)")
    for node in body[:-1]:
        if isinstance(node, ast.Return):
            raise _err(node, "return must be the last statement")
        parser.statement(node)
    ret = body[-1]
    if ret.value is None:
        raise _err(ret, "return needs a value: (update, *state)")
    items = ret.value.elts if isinstance(ret.value, ast.Tuple) else [ret.value]
    state = [p.name for p in params if p.role == "state"]
    if len(items) != 1 + len(state):
        want = ", ".join(["update", *state])
        raise _err(ret, f"return has {len(items)} value(s) but must be ({want}): the update, "
                        "then one value per state argument in order")
    returns = tuple(parser.expr(item) for item in items)
    program = Program(fn.name, tuple(params), tuple(parser.body), returns, doc)
    value_kinds(program, parser.lines)  # an op given a value of the wrong kind names its line
    return program


# --------------------------------------------------------------------------------------------
# printing


def _arg_str(a: Arg, operator: bool = False) -> str:
    if isinstance(a, str):
        return a
    text = repr(float(a))
    return f"({text})" if operator and a < 0 else text


def stmt_source(s: Stmt) -> str:
    """The right-hand side of one statement, e.g. ``m * beta1`` or ``interp(g, m, 0.9)``."""
    op = OPS[s.op]
    if op.symbol and op.arity == 2:
        return f"{_arg_str(s.args[0], True)} {op.symbol} {_arg_str(s.args[1], True)}"
    return f"{s.op}({', '.join(_arg_str(a) for a in s.args)})"


def _param_str(p: Param) -> str:
    if p.role == "hyper":
        return f"{p.name}={p.default!r}"
    if p.init is not None:
        return f"{p.name}: {p.init if isinstance(p.init, str) else repr(float(p.init))}"
    return p.name


def to_source(program: Program, indent: str = "    ") -> str:
    """Valid Python source of ``program`` (one op per line)."""
    lines = [f"def {program.name}({', '.join(_param_str(p) for p in program.params)}):"]
    if program.doc:
        doc = program.doc.replace('"""', '\\"\\"\\"')
        doc_lines = doc.splitlines()
        if len(doc_lines) == 1:
            lines.append(f'{indent}"""{doc}"""')
        else:
            lines.append(f'{indent}"""{doc_lines[0]}')
            lines.extend(f"{indent}{ln}" if ln else "" for ln in doc_lines[1:])
            lines.append(f'{indent}"""')
    for s in program.body:
        lines.append(f"{indent}{s.target} = {stmt_source(s)}")
    lines.append(f"{indent}return {', '.join(_arg_str(a) for a in program.returns)}")
    return "\n".join(lines) + "\n"
