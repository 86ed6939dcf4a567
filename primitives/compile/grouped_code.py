"""The code of an op-grouped step (:class:`~primitives.compile.GroupedStep`), from its schedule.

The schedule is a list of :class:`Instr` (a group's op, or a value made a tensor) over tensors
named by :class:`Buf` (the rows of programs ``f .. l - 1``); operands are a :class:`Piece` (some
programs' rows of one tensor), a :class:`Gather` (rows from several tensors, joined) or
:class:`Code` (a scalar or a column, spelled in code). Two writers turn it into Python:

- :func:`fresh_code`: every op allocates its result and every operand is sliced when the step
  runs, which is all there is to do when the tensors are large (the arithmetic dominates);
- :class:`PersistentCode`, for small tensors, where a step is nothing but call overhead and a
  slice costs nearly as much as an op: every group writes its result with ``out=`` into a tensor
  allocated once, and every slice of such a tensor is made once, when the code is written. The
  state a step writes goes into the other half of a pair of tensors from the one it reads (the
  step alternates between two functions), so the state a step returns stays valid until the
  step after next. Ops are written with ``out=`` only where that is the very call the op's
  function makes (``interp``'s products and sum included); the others allocate as above.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import torch

__all__ = ["Buf", "Piece", "Gather", "Code", "Instr", "fresh_code", "PersistentCode"]


@dataclass(frozen=True)
class Buf:
    """A tensor of the generated code: one block of K rows per program of ``progs``, in order
    (``progs[i]``'s copies are rows ``i * K .. (i + 1) * K``)."""

    code: str
    kind: str  # "C" (one column), "V" (one per parameter tensor) or "T" (the row's width)
    progs: tuple

    def pos(self, b: int) -> int:
        """Where program ``b``'s block is."""
        return self.progs.index(b)


@dataclass(frozen=True)
class Piece:
    """Blocks ``a .. z - 1`` of ``buf`` (programs ``buf.progs[a:z]``)."""

    buf: Buf
    a: int
    z: int

    @property
    def whole(self) -> bool:
        return (self.a, self.z) == (0, len(self.buf.progs))

    @property
    def progs(self) -> tuple:
        return self.buf.progs[self.a:self.z]


@dataclass(frozen=True)
class Gather:
    """The blocks of programs ``progs`` joined from ``pieces`` (one ``torch.cat``)."""

    pieces: tuple
    kind: str
    progs: tuple


@dataclass(frozen=True)
class Code:
    """A scalar (``tensor`` False) or a column spelled in code; ``value``: a constant's."""

    code: str
    tensor: bool
    value: object = None


@dataclass
class Instr:
    """``out = fn(*args)`` (``what`` "op"), or a scalar (``full``) or column (``expand``) made a
    block of ``out``'s kind."""

    out: Buf
    what: str
    fn: str = ""
    op: str = ""
    args: tuple = ()


def _rows(k: int, piece: Piece) -> tuple[int, int]:
    return piece.a * k, piece.z * k


def _slice_code(code: str, k: int, piece: Piece) -> str:
    if piece.whole:
        return code
    a, b = _rows(k, piece)
    return f"{code}[{a}:{b}]"


def fresh_code(step) -> list[str]:
    """The body of a step whose every op allocates its result (see the module docstring)."""
    k = step.k

    def operand(a) -> str:
        if isinstance(a, Code):
            return a.code
        if isinstance(a, Piece):
            return _slice_code(a.buf.code, k, a)
        return "torch.cat((" + "".join(operand(p) + ", " for p in a.pieces) + "))"

    lines = _prologue(step) + ["_loss = loss.view(-1, 1)"]
    for ins in step.instrs:
        if ins.what == "op":
            lines.append(f"{ins.out.code} = {ins.fn}({', '.join(map(operand, ins.args))})")
        elif ins.what == "full":
            lines.append(f"{ins.out.code} = _full({ins.args[0].code}, "
                         f"{step._width(ins.out.kind)})")
        else:
            lines.append(f"{ins.out.code} = {operand(ins.args[0])}.expand(-1, "
                         f"{step._width(ins.out.kind)})")
    states = "".join(operand(a) + ", " for a in step.returned)
    if isinstance(step.update, Gather):  # the new weights written piece by piece: one pass
        lines.append("_w = torch.empty_like(w)")
        weights = Buf("w", "T", tuple(range(len(step.programs))))
        for p in step.update.pieces:  # the update's pieces follow the programs in order
            rows = Piece(weights, p.progs[0], p.progs[-1] + 1)
            lines.append(f"torch.sub({operand(rows)}, {operand(p)}, "
                         f"out={_slice_code('_w', k, rows)})")
        lines.append(f"return _w, ({states})")
    else:
        lines.append(f"return w - {operand(step.update)}, ({states})")
    return lines


def _prologue(step) -> list[str]:
    names = ", ".join(f"_s{e}" for e in range(len(step.layout)))
    lines = [f"({names}{',' if len(step.layout) == 1 else ''}) = _state"] if step.layout else []
    return lines + [f'_h_{n} = _hyper["{n}"]' for n in step.batched] + step.scalar_lines


#: ops whose function is this torch function of two tensors (or a tensor and a number)
_BINARY = {"add": "torch.add", "sub": "torch.sub", "mul": "torch.mul", "div": "torch.div"}
#: the same, of two tensors only (the op function makes a number a tensor first)
_BINARY_TENSORS = {"max": "torch.maximum", "min": "torch.minimum"}
#: ops whose function is this torch function of one tensor
_UNARY = {"abs": "torch.abs", "cos": "torch.cos", "sin": "torch.sin", "tan": "torch.tan",
          "arctan": "torch.atan", "sinh": "torch.sinh", "cosh": "torch.cosh",
          "tanh": "torch.tanh", "arcsinh": "torch.asinh", "exp": "torch.exp",
          "exp2": "torch.exp2", "expm1": "torch.expm1", "square": "torch.square",
          "sign": "torch.sign", "negative": "torch.neg", "sqrt": "torch.sqrt", "log": "torch.log",
          "sigmoid": "torch.sigmoid", "rsqrt": "torch.rsqrt"}
_P, _Q = "\N{SECTION SIGN}P", "\N{SECTION SIGN}Q"  # this step's half of a pair, and the other


class PersistentCode:
    """The two functions (even and odd steps) of a step over tensors allocated once (see the
    module docstring): :attr:`source`, :attr:`namespace` (the tensors and their slices) and
    :meth:`halves` (what the even and odd steps call this step's and the other half)."""

    def __init__(self, step):
        self.step, self.k = step, step.k
        self.namespace: dict[str, object] = dict(step.constants)
        self._views: dict[tuple, str] = {}
        self._fresh_names = itertools.count()
        self._kind: dict[str, str] = {}  # buffer code -> "fresh", "single", "pair", "alias"
        self._pairs_read: dict[int, str] = {}  # state entry -> the pair it is read from
        self._plan()
        self.source = self._function(self._body())

    # ---- which tensor is what ------------------------------------------------------------

    def _plan(self):
        step = self.step
        claimed: dict[str, int] = {}  # a group's tensor returned whole as state: entry
        for e, ret in enumerate(step.returned):
            if isinstance(ret, Piece) and ret.whole and ret.buf.code.startswith("_v") \
                    and ret.buf.code not in claimed:
                claimed[ret.buf.code] = e
        for ins in step.instrs:
            code = ins.out.code
            if ins.what == "op":
                if self._spelling(ins, "o") is None:
                    self._kind[code] = "fresh"
                else:
                    self._kind[code] = "pair" if code in claimed else "single"
                    self._allocate(ins.out, pair=code in claimed)
            elif ins.what == "full":
                self._kind[code] = "single" if ins.args[0].value is not None else "fresh"
                if ins.args[0].value is not None:
                    self.namespace[code] = step._full(ins.args[0].value,
                                                      self._width(ins.out.kind))
            else:
                source = self._kind.get(ins.args[0].buf.code, "fresh")
                self._kind[code] = "alias" if source in ("single", "pair") else "fresh"
        for code, e in claimed.items():
            if self._kind.get(code) == "pair":
                self._pairs_read[e] = code
        # inputs sliced more than once are copied into a tensor of their own each step
        uses: dict[str, int] = {}
        for piece in self._pieces():
            if not piece.whole:
                uses[piece.buf.code] = uses.get(piece.buf.code, 0) + 1
        self._copied = {c for c in ("w", "g", "_loss", *(f"_h_{n}" for n in step.batched))
                        if uses.get(c, 0) >= 2}
        for c in self._copied:
            width = step.width if c in ("w", "g") else 1  # the weights or a column
            self.namespace["_I" + c] = torch.empty(len(step.programs) * self.k, width,
                                                   dtype=step.dtype, device=step.device)

    def _pieces(self):
        step = self.step
        for ins in step.instrs:
            for a in ins.args:
                yield from self._pieces_of(a)
        yield from self._pieces_of(step.update)

    @staticmethod
    def _pieces_of(a):
        if isinstance(a, Piece):
            yield a
        elif isinstance(a, Gather):
            yield from a.pieces

    def _width(self, kind: str) -> int:
        return self.step._width(kind)

    def _allocate(self, buf: Buf, pair: bool = False):
        shape = (len(buf.progs) * self.k, self._width(buf.kind))
        names = [f"{buf.code}_0", f"{buf.code}_1"] if pair else [buf.code]
        for name in names:
            self.namespace[name] = torch.empty(shape, dtype=self.step.dtype,
                                               device=self.step.device)

    # ---- spelling operands -------------------------------------------------------------

    def _base(self, buf: Buf, state: bool = False) -> tuple[str, str]:
        """``(code, how)``: how a tensor is named in the step, ``how`` "fixed" (allocated
        once: its slices are made once), "pair" (one of a pair: ``code`` carries the half) or
        "runtime" (made by the step: sliced when it runs)."""
        code = buf.code
        if code.startswith("_s"):
            e = int(code[2:])
            if e in self._pairs_read:
                return self._pairs_read[e] + _Q, "pair"
            return code, "runtime"
        if code in self._copied and not state:
            return "_I" + code, "fixed"
        kind = self._kind.get(code, "runtime")
        if kind == "pair":
            return code + _P, "pair"
        if kind in ("single", "alias") or code.startswith(("_c", "_z")):
            if kind == "alias" and self._alias_pair(code):
                return code + _P, "pair"
            return code, "fixed"
        return code, "runtime"

    def _alias_pair(self, code: str) -> bool:
        ins = next(i for i in self.step.instrs if i.out.code == code)
        return self._kind.get(ins.args[0].buf.code) == "pair"

    def _piece(self, piece: Piece, state: bool = False) -> str:
        code, how = self._base(piece.buf, state)
        if piece.whole or how == "runtime":
            return _slice_code(code, self.k, piece)
        key = (code, *_rows(self.k, piece))
        if key not in self._views:
            self._views[key] = f"_V{len(self._views)}"
        return self._views[key] + (code[-len(_P):] if how == "pair" else "")

    def _operand(self, a, lines: list[str]) -> str:
        if isinstance(a, Code):
            return a.code
        if isinstance(a, Piece):
            return self._piece(a)
        out = f"_g{next(self._fresh_names)}"  # a gather: joined into a tensor of its own
        self._allocate(Buf(out, a.kind, a.progs))
        lines.append(f"torch.cat(({''.join(self._piece(p) + ', ' for p in a.pieces)}), "
                     f"out={out})")
        return out

    def _is_tensor(self, a) -> bool:
        return not isinstance(a, Code) or a.tensor

    def _spelling(self, ins: Instr, out: str, args=None) -> list[str] | None:
        """The ``out=`` lines of ``ins`` where they are the op function's own calls."""
        a = args if args is not None else [f"a{i}" for i in range(len(ins.args))]
        tensor = [self._is_tensor(x) for x in ins.args]
        op, fn = ins.op, ins.fn
        same_kind = len(ins.args) >= 2 and all(isinstance(x, (Piece, Gather)) for x in
                                               ins.args[:2]) and _kind(ins.args[0]) == \
            _kind(ins.args[1])
        if fn == f"_op_{op}" and op in _BINARY and tensor[0]:
            return [f"{_BINARY[op]}({a[0]}, {a[1]}, out={out})"]
        if fn == f"_op_{op}" and op in _BINARY_TENSORS and tensor[0] and tensor[1]:
            return [f"{_BINARY_TENSORS[op]}({a[0]}, {a[1]}, out={out})"]
        if fn == f"_op_{op}" and op in _UNARY and tensor[0]:
            return [f"{_UNARY[op]}({a[0]}, out={out})"]
        if fn == "_row_norm" and tensor[0]:
            return [f"torch.linalg.vector_norm({a[0]}, dim=1, keepdim=True, out={out})"]
        if fn == "_op_interp" and same_kind and not tensor[2]:  # (1 - a) * x + a * y
            value = ins.args[2].value
            one_minus = self._number(Code("", False, 1 - value)) if value is not None and \
                args is not None else f"1 - ({a[2]})"
            return [f"torch.mul({a[0]}, {one_minus}, out={{tmp}})",
                    f"torch.mul({a[1]}, {a[2]}, out={out})", f"{out}.add_({{tmp}})"]
        if fn == "_interp_columns" and same_kind:  # (1 - a) * x + a * y, both as columns
            return [f"torch.mul({a[0]}, {a[2]}, out={{tmp}})",
                    f"torch.mul({a[1]}, {a[3]}, out={out})", f"{out}.add_({{tmp}})"]
        return None

    def _number(self, a: Code) -> str:
        """A constant as a 0-d tensor of the step's dtype, made once: what torch makes of the
        Python number on every call (the same rounding), without the making."""
        if self.step.dtype not in (torch.float32, torch.float64):
            return a.code
        key = ("number", repr(float(a.value)))
        if key not in self._views:
            name = f"_K{len(self._views)}"
            self._views[key] = name
            self.namespace[name] = torch.tensor(float(a.value), dtype=self.step.dtype)
        return self._views[key]

    # ---- the code ------------------------------------------------------------------------

    def _body(self) -> list[str]:
        step = self.step
        lines = _prologue(step)
        for c in sorted(self._copied):
            src = {"w": "w", "g": "g", "_loss": "loss.view(-1, 1)"}.get(c, c)
            if c.startswith("_h_"):  # a batched hyperparameter: copied when it changes
                lines += [f"if {c} is not _SEEN[{c!r}]:", f"    _I{c}.copy_({c})",
                          f"    _SEEN[{c!r}] = {c}"]
                self.namespace.setdefault("_SEEN", {})[c] = None
            else:
                lines.append(f"_I{c}.copy_({src})")
        if "_loss" not in self._copied:
            lines.append("_loss = loss.view(-1, 1)")
        for ins in step.instrs:
            code = ins.out.code
            kind = self._kind[code]
            if ins.what == "full":
                if kind == "fresh":
                    lines.append(f"{code} = _full({ins.args[0].code}, "
                                 f"{self._width(ins.out.kind)})")
                continue
            if ins.what == "expand":
                source = self._piece(ins.args[0])
                if kind == "fresh":
                    lines.append(f"{code} = {source}.expand(-1, {self._width(ins.out.kind)})")
                else:
                    self._alias(code, ins.args[0])
                continue
            args = [self._operand(a, lines) for a in ins.args]
            if kind == "fresh":
                lines.append(f"{code} = {ins.fn}({', '.join(args)})")
                continue
            out = code + (_P if kind == "pair" else "")
            tmp = f"_tmp{next(self._fresh_names)}"
            args = [self._number(a) if isinstance(a, Code) and a.value is not None else code_
                    for a, code_ in zip(ins.args, args)]
            spelled = self._spelling(ins, out, args)
            if any("{tmp}" in line for line in spelled):
                self._allocate(Buf(tmp, _kind(ins.args[0]), ins.out.progs))
            lines += [line.replace("{tmp}", tmp) for line in spelled]
        lines.append(f"_u = {self._operand(step.update, lines)}")
        returned = []
        for e, ret in enumerate(step.returned):
            returned.append(self._returned(e, ret))
        lines.append(f"return w - _u, ({''.join(r + ', ' for r in returned)})")
        return lines

    def _returned(self, e: int, ret) -> str:
        """The code of state entry ``e`` as the step returns it: a tensor that no step
        overwrites before the next step has read it."""
        if e in self._pairs_read:
            return self._pairs_read[e] + _P
        if isinstance(ret, Gather):
            return "torch.cat((" + "".join(self._piece(p, state=True) + ", "
                                          for p in ret.pieces) + "))"
        code = self._piece(ret, state=True)
        _, how = self._base(ret.buf, state=True)
        if how != "fixed":
            return code  # made by this step, or this step's half of a pair
        constant = ret.buf.code.startswith("_c") or (
            ret.buf.code.startswith("_m") and self._kind[ret.buf.code] == "single")
        return code if constant else code + ".clone()"  # else written again next step

    def _alias(self, code: str, piece: Piece):
        """A column expanded to the row's width, over a tensor allocated once: a view made
        once (one per half of a pair)."""
        base, how = self._base(piece.buf)
        a, b = _rows(self.k, piece)
        width = self._width(next(i for i in self.step.instrs if i.out.code == code).out.kind)
        if how == "pair":
            name = base[:-len(_Q)]
            for p in (0, 1):
                self.namespace[f"{code}_{p}"] = \
                    self.namespace[f"{name}_{p}"][a:b].expand(-1, width)
        else:
            self.namespace[code] = self.namespace[base][a:b].expand(-1, width)

    def _function(self, body: list[str]) -> str:
        """The source of the step (its slices made now): one function, whose names of a half
        of a pair end in ``__P`` (this step's) or ``__Q`` (the other); :meth:`halves` binds
        them for even and odd steps."""
        for key, name in self._views.items():
            if key[0] == "number":
                continue
            code, a, b = key
            if code.endswith(_P) or code.endswith(_Q):
                base = code[:-len(_P)]
                for q in (0, 1):
                    self.namespace[f"{name}_{q}"] = self.namespace[f"{base}_{q}"][a:b]
            else:
                self.namespace[name] = self.namespace[code][a:b]
        text = "\n".join(f"    {line}" for line in body)
        text = text.replace(_P, "__P").replace(_Q, "__Q")
        self._halves = sorted(set(re.findall(r"\b(\w+)__[PQ]\b", text)))
        return ("def _grouped_step(w, g, loss, _t, _hyper, _state):\n"
                '    """One step of every program, op-grouped over tensors allocated once."""\n'
                + text + "\n")

    def halves(self, p: int) -> dict[str, torch.Tensor]:
        """The names of halves of pairs bound for a step of parity ``p``."""
        out = {}
        for name in self._halves:
            out[f"{name}__P"] = self.namespace[f"{name}_{p}"]
            out[f"{name}__Q"] = self.namespace[f"{name}_{1 - p}"]
        return out


def _kind(a) -> str:
    if isinstance(a, Piece):
        return a.buf.kind
    if isinstance(a, Gather):
        return a.kind
    return "C"
