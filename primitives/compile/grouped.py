"""Op-grouped execution: B programs stepped together by one generated function.

The children a search trains in one batch are mostly mutations of a few parents, so they share
most of their statements. On the small tasks of the proxy and micro tiers one step of one
program is ~15 torch calls on tensors of a few hundred numbers: call overhead, not arithmetic,
so stepping B programs one after the other (:class:`~primitives.compile.PopulationStep`) costs
B times that overhead. :class:`GroupedStep` writes one straight-line Python function for the
whole population that runs an op once for all the programs that have it (a *group*):

- **Layout.** Copy ``c`` of program ``b`` is row ``b * K + c`` of the weights, gradients, losses
  and per-copy hyperparameters (``lr`` under a learning-rate grid), which are ``[B * K, P]``
  (the flat layout of :mod:`tasks.batched`: one copy's parameter tensors side by side) and
  ``[B * K, 1]`` columns. A group over programs ``f .. l - 1`` is one call on rows
  ``f * K .. l * K``; its result keeps that layout, so a value of program ``b`` is a block of K
  rows of some tensor, at a place known when compiling.
- **Kinds.** A value is a host scalar ``S`` (constants, hyperparameters, ``t``; computed by
  :func:`~primitives.compile.scalar_call` exactly as the out-of-place step computes them, once
  per distinct expression), a per-copy column ``C`` (``[K, 1]``: ``lr``, ``loss``, a 0-d state,
  a reduction), a per-copy, per-tensor value ``V`` (``[K, tensors]``: a per-tensor reduction
  when the row holds several tensors; spread over each tensor's elements where it meets one) or
  a tensor ``T`` (``[K, P]``). Reductions run row by row (per tensor: on views of the row),
  which gives the numbers the op functions give under ``vmap``. Only ``C``, ``V`` and ``T``
  statements are grouped.
- **Schedule.** Statements whose inputs are ready are bucketed by op and argument kinds
  (commutative ops with their arguments sorted), and the bucket with the most programs runs
  next, one statement per program (one that writes state first): a program whose body is
  shifted by an inserted statement still shares its later ops with its siblings. Scalars that
  differ between the programs of a group become a column (built once for constants, each step
  for ``t``-dependent ones) where that gives the same numbers (:func:`_column_safe`).
- **Cost model.** A group's operands are views when every program's block lies in one tensor
  that covers the group's rows; otherwise they are gathered (one ``torch.cat``), and rows of
  programs between the group's members that are not in it are computed too (their values are
  never read). Both cost a pass over the data, which pays on small tensors (a call costs about
  as much as a few thousand elements) and not on large ones: the members are cut into runs of
  least estimated cost (:data:`CALL_S`, :data:`ELEMENT_S`, a slice counted too). Past the
  cache (:data:`RUN_MAX`) no group spans many programs, and where one program's rows already
  pass it, the programs are simply taken one after the other.
- **State** lives where the step leaves it: the tensors of the groups that computed it (a few
  *entries*, each covering a range of programs), so the next step reads it as views. The layout
  is found by compiling until the state a step reads is where the step wrote it.
- **Code** (:mod:`~primitives.compile.grouped_code`): small steps write every group with
  ``out=`` into tensors allocated once, with every slice made once and state in pairs of
  tensors (even and odd steps); large ones allocate as they go.

Each program's numbers are the ones its own step in :class:`tasks.batched.BatchedTrainer` gives
(the same op functions of :data:`primitives.ops.OPS` on the same values, row by row; the tests
hold them bit for bit in float64), except that a scalar operand that differs between the
programs of a group is a column of the tensor's dtype, only for ops that cast it exactly so.

Example::

    >>> import torch
    >>> from primitives import parse
    >>> sgd = parse("def sgd(w, g, lr=0.1):\\n    return lr * g")
    >>> mom = parse("def mom(w, g, m, lr=0.1):\\n    m = interp(g, m, 0.9)\\n    return lr * m, m")
    >>> step = GroupedStep([sgd, mom], k=2, width=3, hypers=[{}, {}], batched=("lr",))
    >>> lr = torch.tensor([[0.1], [1.0]]).repeat(2, 1)  # [B * K, 1]
    >>> state = step.init_state([{}, {"m": torch.zeros(2, 3)}])
    >>> w, g = torch.zeros(4, 3), torch.ones(4, 3)
    >>> new_w, state = step(w, g, torch.zeros(4), 1.0, {"lr": lr}, state)
    >>> new_w[:, 0].tolist()  # sgd: -lr g; momentum: -lr (0.1 g)
    [-0.10000000149011612, -1.0, -0.010000000707805157, -0.10000000149011612]
"""

from __future__ import annotations

import functools
import itertools
import math
import types
from dataclasses import dataclass
from typing import Mapping, Sequence

import torch

from ..kernels import _pdiv
from ..kinds import Kind, value_kinds
from ..ops import OPS
from ..program import Program, Stmt
from .grouped_code import Buf, Code, Gather, Instr, PersistentCode, Piece, fresh_code
from .ir import CompileError
from .pure import scalar_call
from .step import exec_source

__all__ = ["GroupedStep", "groupable", "live_statements", "CALL_S", "ELEMENT_S",
           "PERSISTENT_MAX", "RUN_MAX"]

#: the cost model: seconds per torch call (with its Python) and per float32 element on a CPU
CALL_S, ELEMENT_S = 4e-6, 1e-9
_VIEW_S = 3e-6  # a slice of a tensor (a view) made when the step runs
_PIECE_S = 0.3e-6  # one more tensor joined by a torch.cat
_DP_MAX = 64  # the longest run the cut considers
_RANK = {"C": 1, "V": 2, "T": 3}
_GROUPABLE = {"elementwise", "constant"}
#: ops whose scalar arguments meet the tensor as they are (a Python number is cast to the
#: tensor's dtype, as a column of that dtype is): a column gives the very same numbers
_CAST_AS_IS = {"add", "sub", "mul", "div", "max", "min", "clip", "clamp", "fmod", "pdiv"}
_MAX_ROUNDS = 4
#: steps over at most this many numbers (rows x width) write into tensors allocated once
PERSISTENT_MAX = 1 << 17
#: a group of several programs spans at most this many rows x width (a few hundred KB: a
#: core's cache; beyond it, an op streams memory and grouping saves nothing)
RUN_MAX = 1 << 17


@functools.lru_cache(maxsize=4096)
def live_statements(program: Program) -> tuple[Stmt, ...]:
    """The statements the program's returned values depend on (dead code dropped), in order."""
    need = {r for r in program.returns if isinstance(r, str)}
    live = []
    for s in reversed(program.body):
        if s.target in need:
            live.append(s)
            need.update(a for a in s.args if isinstance(a, str))
    return tuple(live[::-1])


def groupable(program: Program, tensors: int = 1) -> bool:
    """Whether :class:`GroupedStep` can step ``program`` over ``tensors`` parameter tensors
    (flattened into one row per copy): it does not read ``h``; every live statement is
    elementwise, a constant or a reduction other than ``numel``/``ndim``; a reduction does not
    mix a scalar argument with tensors, nor reduce a per-tensor value again (over several
    tensors)."""
    return _groupable(program, max(int(tensors), 1))


@functools.lru_cache(maxsize=4096)
def _groupable(program: Program, tensors: int) -> bool:
    if "h" in program.input_names:
        return False
    kinds = value_kinds(program)
    for s in live_statements(program):
        op = OPS[s.op]
        if op.kind in _GROUPABLE:
            continue
        if s.op not in _ROW_REDUCTIONS:
            return False
        lists = op.lists or range(op.arity)
        arg_kinds = {kinds[a] if isinstance(a, str) else Kind.SCALAR for j, a in enumerate(s.args)
                     if j in lists}
        if Kind.SCALAR in arg_kinds and len(arg_kinds) > 1:
            return False
    if tensors == 1:
        return True
    from ..execute import Executor  # noqa: PLC0415 - execute imports this package

    try:  # over several tensors: what the kinds allow (a small compile of this program alone)
        GroupedStep([program], 1, 2 * tensors, [Executor(program).hyperparameters()],
                    sizes=[2] * tensors, persistent=False)
    except CompileError:
        return False
    return True


def _alone_per_tensor(program: Program) -> bool:
    """Whether :class:`tasks.batched.BatchedTrainer` steps ``program`` per parameter tensor
    (any op beyond elementwise, constants and group reductions, dead code included) rather
    than over the flat row: its group reductions then reduce per-tensor values."""
    return not {OPS[s.op].kind for s in program.body} <= {"elementwise", "constant",
                                                           "group_reduction"}


# ---- reductions, one value per row ([R, P] -> [R, 1]), as the op functions under vmap --------


def _row_norm(x):
    return torch.linalg.vector_norm(x, dim=1, keepdim=True)


def _row_rms(x):
    return torch.linalg.vector_norm(x, dim=1, keepdim=True) / math.sqrt(max(x.shape[1], 1))


def _row_dot(a, b):
    return (a * b).sum(dim=1, keepdim=True)


def _row_cosine_sim(a, b):
    return _pdiv((a * b).sum(dim=1, keepdim=True), _row_norm(a) * _row_norm(b))


def _row_global_norm(x):  # the norm of the group's per-tensor norms: one tensor per row
    return _row_norm(_row_norm(x))


def _row_clip_by_global_norm(x, c):
    norm = _row_global_norm(x)
    return x * torch.minimum(_pdiv(abs(c), norm), norm.new_tensor(1.0))


#: the reductions a group runs row by row (numel and ndim are left to the per-program path)
_ROW_REDUCTIONS = {
    "norm": _row_norm, "rms": _row_rms,
    "mean": lambda x: x.mean(dim=1, keepdim=True),
    "sum": lambda x: x.sum(dim=1, keepdim=True),
    "absmax": lambda x: x.abs().amax(dim=1, keepdim=True),
    "dot": _row_dot, "cosine_sim": _row_cosine_sim,
    "global_norm": _row_global_norm,
    "global_sum": lambda x: x.sum(dim=1, keepdim=True).sum(dim=1, keepdim=True),
    "global_dot": lambda a, b: _row_dot(a, b).sum(dim=1, keepdim=True),
    "global_max": lambda x: x.amax(dim=1, keepdim=True).amax(dim=1, keepdim=True),
    "global_numel": None,  # a constant: the row's width
    "clip_by_global_norm": _row_clip_by_global_norm,
}


def _segment_reductions(sizes: Sequence[int]) -> dict:
    """The reductions per parameter tensor of a row cut into tensors of ``sizes``: a
    per-tensor reduction gives ``[R, tensors]``, a group reduction of a program stepped per
    tensor reduces the per-tensor values (as ``primitives.ops`` over the group's list)."""
    sizes, width = list(sizes), sum(sizes)

    def per_tensor(row_fn):
        def fn(*args):
            parts = [a.split(sizes, dim=1) if isinstance(a, torch.Tensor) and a.shape[1] ==
                     width else [a] * len(sizes) for a in args]
            return torch.cat([row_fn(*p) for p in zip(*parts)], dim=1)
        return fn

    out = {op: per_tensor(_ROW_REDUCTIONS[op]) for op in _TENSOR_REDUCTIONS}
    norms = out["norm"]
    out["global_norm"] = lambda x: _row_norm(norms(x))
    out["global_sum"] = lambda x: out["sum"](x).sum(dim=1, keepdim=True)
    out["global_dot"] = lambda a, b: out["dot"](a, b).sum(dim=1, keepdim=True)
    out["global_max"] = lambda x: per_tensor(lambda p: p.amax(dim=1, keepdim=True))(x).amax(
        dim=1, keepdim=True)

    def clip(x, c):
        norm = _row_norm(norms(x))
        return x * torch.minimum(_pdiv(abs(c), norm), norm.new_tensor(1.0))

    out["clip_by_global_norm"] = clip
    out["_spread"] = lambda v: v.repeat_interleave(
        torch.tensor(sizes, device=v.device), dim=1, output_size=width)
    return out


_TENSOR_REDUCTIONS = ("norm", "rms", "mean", "sum", "absmax", "dot", "cosine_sim")


# ---- values -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _S:
    """A host scalar of one program: equal keys, equal values; ``code`` spells it."""

    key: object
    code: str
    value: object = None  # a constant's value (None: computed each step)

    @property
    def const(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class _Ref:
    """A per-copy value (``C`` column or ``T`` tensor) of one program: an input or a node."""

    kind: str
    src: object  # "w", "g", "loss", ("hyper", name), ("state", name) or a node id


@dataclass
class _Node:
    """One ``C`` or ``T`` statement of one program."""

    id: int
    prog: int
    index: int
    op: str
    args: tuple
    kind: str
    deps: tuple
    fn: str = ""

    def signature(self):
        """Nodes of one signature can be grouped: the op, the kinds of its arguments, and the
        scalars that cannot become a column (see :func:`_column_safe`)."""
        return (self.op, tuple(a.kind if isinstance(a, _Ref) else
                               ("S" if _column_safe(self.op, self.args, j) else a.key)
                               for j, a in enumerate(self.args)))


def _column_safe(op: str, args, j: int) -> bool:
    """Whether scalar argument ``j`` may differ between the programs of a group (then it is a
    column of the tensor's dtype): where the op applies it to the tensor as it is (cast to the
    tensor's dtype, as torch does with a Python number); and ``interp``'s weight next to two
    tensors, given as the two columns ``1 - a`` and ``a`` (:func:`_interp_columns`)."""
    if op in _CAST_AS_IS:
        return True
    return op == "interp" and j == 2 and all(isinstance(a, _Ref) for a in args[:2])


def _interp_columns(x, y, one_minus_a, a):
    """``interp(x, y, a)`` with ``1 - a`` and ``a`` as columns: the products and the sum of
    :func:`primitives.ops` ``interp`` (``1 - a`` computed on the host, in float64)."""
    return one_minus_a * x + a * y


@dataclass(frozen=True)
class _Entry:
    """A state tensor between steps: which program's state (by name) each block holds."""

    kind: str
    progs: tuple  # the programs of the tensor's blocks, in order
    claims: tuple  # ((program, state name), ...)


class GroupedStep:
    """B programs (:func:`groupable`), K copies each, over ``[B * K, width]`` rows (the
    parameter tensors of one copy flattened into a row: ``sizes``, their numbers of elements;
    default one tensor); ``persistent``: write into tensors allocated once
    (:mod:`primitives.compile.grouped_code`; None: when rows x width <=
    :data:`PERSISTENT_MAX`).

    ``hypers[b]``: program b's hyperparameter values (Python numbers); the names in ``batched``
    are per-copy columns instead, given to each call (``[B * K, 1]``). State goes between
    steps as the tuple of tensors :meth:`init_state` makes and each call returns.
    """

    def __init__(self, programs: Sequence[Program], k: int, width: int,
                 hypers: Sequence[Mapping[str, object]], batched: Sequence[str] = (), *,
                 sizes: Sequence[int] | None = None, dtype: torch.dtype = torch.float32,
                 device: str | torch.device = "cpu", persistent: bool | None = None):
        self.programs, self.k, self.width = list(programs), int(k), int(width)
        self.sizes = list(sizes) if sizes is not None else [self.width]
        if sum(self.sizes) != self.width:
            raise ValueError(f"sizes {self.sizes} do not add up to the width {self.width}")
        rows = len(self.programs) * self.k
        #: whether the code writes into tensors allocated once (None: when the step is small)
        self.persistent = rows * self.width <= PERSISTENT_MAX if persistent is None else \
            persistent
        self.dtype, self.device = dtype, torch.device(device)
        self.batched = tuple(batched)
        for p in self.programs:
            if "h" in p.input_names or not all(
                    OPS[s.op].kind in _GROUPABLE or s.op in _ROW_REDUCTIONS
                    for s in live_statements(p)):
                raise CompileError(f"{p.name}: GroupedStep cannot group it (see groupable)")
        self._element_s = ELEMENT_S * torch.empty((), dtype=dtype).element_size() / 4
        self._segments = _segment_reductions(self.sizes) if len(self.sizes) > 1 else {}
        self._analyse(hypers)
        self._compile()

    # ---- analysis ---------------------------------------------------------------------------

    def _kinds_of_state(self, program) -> dict[str, str]:
        """``T`` for a state shaped like the parameters, else ``C`` (a value per copy; made
        ``V``, one per tensor, where the program stores a per-tensor value in it)."""
        from ..execute import Executor  # noqa: PLC0415 - execute imports this package

        shapes = Executor(program).state_shapes((self.width,))
        return {s: ("T" if tuple(shapes[s]) == (self.width,) else "C")
                for s in program.state_names}

    def _width(self, kind) -> int:
        return {"T": self.width, "V": len(self.sizes)}.get(kind, 1)

    def _const(self, value) -> _S:
        key = ("k", repr(float(value)))
        if key not in self._consts:
            v = float(value)
            if math.isfinite(v):
                code = repr(v)
            else:
                code = f"_k{len(self._consts)}"
                self._namespace[code] = value
            self._consts[key] = _S(key, code, value)
        return self._consts[key]

    def _scalar(self, op, args) -> _S:
        if all(a.const for a in args):
            return self._const(scalar_call(OPS[op].fn, *[a.value for a in args]))
        key = (op, tuple(a.key for a in args))
        if key not in self._dynamic:
            code = f"_d{len(self._dynamic)}"
            self._dynamic[key] = _S(key, code)
            self.scalar_lines.append(
                f"{code} = _scalar(_op_{op}{''.join(', ' + a.code for a in args)})")
            self._ops.add(op)
        return self._dynamic[key]

    def _analyse(self, hypers):
        self._namespace: dict = {}
        self._consts: dict = {}
        self._dynamic: dict = {}
        self.scalar_lines: list[str] = []
        self._ops: set[str] = set()
        self.nodes: list[_Node] = []
        self.outputs: list[list] = []  # per program: update, then each state's value
        self._state_kinds = []
        for b, (program, hyper) in enumerate(zip(self.programs, hypers)):
            kinds = self._kinds_of_state(program)
            for _ in range(len(kinds) + 1):  # a 0-d state holding a per-tensor value is V
                mark = len(self.nodes)
                outputs = self._analyse_program(b, program, hyper, kinds)
                grown = {s: "V" for s, v in zip(program.state_names, outputs[1:])
                         if kinds[s] == "C" and getattr(v, "kind", "") == "V"}
                if not grown:
                    break
                del self.nodes[mark:]
                kinds.update(grown)
            self._state_kinds.append(kinds)
            self.outputs.append(outputs)
        self._writes_state = {v.src for out in self.outputs for v in out[1:]
                              if isinstance(v, _Ref) and isinstance(v.src, int)}

    def _node(self, b, index, op, args, kind, fn) -> _Ref:
        deps = tuple(a.src for a in args if isinstance(a, _Ref) and isinstance(a.src, int))
        node = _Node(len(self.nodes), b, index, op, tuple(args), kind, deps, fn)
        self.nodes.append(node)
        if fn.startswith("_op_"):
            self._ops.add(op)
        return _Ref(kind, node.id)

    def _spread(self, b, index, ref: _Ref) -> _Ref:
        """A per-tensor value (``V``) spread over its tensor's elements (``T``)."""
        return self._node(b, index, "_spread", (ref,), "T", "_seg__spread")

    def _analyse_program(self, b, program, hyper, state_kinds) -> list:
        """Program b's nodes (appended to :attr:`nodes`); its update and state values."""
        several = len(self.sizes) > 1
        per_tensor = several and _alone_per_tensor(program)
        env = {"w": _Ref("T", "w"), "g": _Ref("T", "g")}
        for p in program.params[2:]:
            if p.role == "state":
                env[p.name] = _Ref(state_kinds[p.name], ("state", p.name))
            elif p.name == "t":
                env["t"] = _S("t", "_t")
            elif p.name == "loss":
                env["loss"] = _Ref("C", "loss")
            elif p.name in self.batched:
                env[p.name] = _Ref("C", ("hyper", p.name))
            elif p.role == "hyper":
                env[p.name] = self._const(hyper[p.name])
        index = 0
        for index, s in enumerate(live_statements(program)):
            args = [env[a] if isinstance(a, str) else self._const(a) for a in s.args]
            if all(isinstance(a, _S) for a in args):
                env[s.target] = self._scalar(s.op, args)
                continue
            op = OPS[s.op]
            kinds = {a.kind for a in args if isinstance(a, _Ref)}
            if s.op == "global_numel":  # a constant: the count of the group's numbers
                count = self.width if "T" in kinds else (len(self.sizes) if per_tensor else 1)
                env[s.target] = self._const(float(count))
                continue
            if s.op in _ROW_REDUCTIONS:
                env[s.target] = self._reduction(b, index, s.op, args, kinds, per_tensor)
                continue
            if "V" in kinds and "T" in kinds:  # a per-tensor value meets a tensor: spread it
                args = [self._spread(b, index, a) if getattr(a, "kind", "") == "V" else a
                        for a in args]
                kinds = {"T"}
            if op.commutative:  # one signature for g * 2 and 2 * g
                args.sort(key=lambda a: -_RANK.get(getattr(a, "kind", ""), 0))
            env[s.target] = self._node(b, index, s.op, args, max(kinds, key=_RANK.get),
                                       f"_op_{s.op}")
        outputs = [env[r] if isinstance(r, str) else self._const(r) for r in program.returns]
        targets = ["T"] + [state_kinds[n] for n in program.state_names]
        return [self._spread(b, index + 1, v) if t == "T" and getattr(v, "kind", "") == "V"
                else v for v, t in zip(outputs, targets)]

    def _reduction(self, b, index, op, args, kinds, per_tensor) -> _Ref:
        """A reduction: one value per copy (``C``), or per copy and tensor (``V``) for a
        per-tensor reduction of a tensor when the row holds several."""
        several = len(self.sizes) > 1
        group = OPS[op].kind == "group_reduction"
        if "V" in kinds or (several and group and per_tensor and "T" not in kinds):
            raise CompileError(f"{self.programs[b].name}: {op} of a per-tensor value over "
                               "several tensors is not grouped")
        if OPS[op].commutative:
            args.sort(key=lambda a: -_RANK.get(getattr(a, "kind", ""), 0))
        if "T" not in kinds or not several or (group and not per_tensor):
            kind = "T" if OPS[op].per_tensor_result else "C"
            return self._node(b, index, op, args, max(kinds, key=_RANK.get) if kind == "T"
                              else "C", f"_row_{op}")
        kind = "T" if OPS[op].per_tensor_result else ("C" if group else "V")
        return self._node(b, index, op + "@tensors", args, kind, f"_seg_{op}")

    # ---- compiling --------------------------------------------------------------------------

    def _compile(self):
        """Schedule until the state layout a step reads is the one it writes (or give up after
        a few rounds and gather the state back into the layout read), then write the code."""
        layout = tuple(_Entry(kind, (b,), ((b, s),))
                       for b, kinds in enumerate(self._state_kinds) for s, kind in kinds.items())
        for round_ in range(_MAX_ROUNDS):
            self._optimistic = round_ == 0
            natural = self._schedule(layout, normalise=False)
            if natural == layout:
                break
            layout = natural
        else:
            self._optimistic = False
            self._schedule(layout, normalise=True)
        self.layout = layout
        self.groups = sum(1 for ins in self.instrs if ins.what == "op")
        self._namespace["_zV"] = torch.zeros(len(self.programs) * self.k, len(self.sizes),
                                             dtype=self.dtype, device=self.device)
        self.constants = dict(self._namespace)
        namespace = {f"_op_{op}": OPS[op].fn for op in self._ops}
        namespace.update({f"_row_{op}": fn for op, fn in _ROW_REDUCTIONS.items() if fn})
        namespace.update({f"_seg_{op}": fn for op, fn in self._segments.items()})
        namespace.update(torch=torch, _scalar=scalar_call, _column=self._column,
                         _full=self._full, _interp_columns=_interp_columns)
        if self.persistent:
            code = PersistentCode(self)
            namespace.update(code.namespace)
            self._expected = {e: (f"{buf}_1", f"{buf}_0") for e, buf in code._pairs_read.items()}
            self.source = code.source
            halves = [code.halves(0), code.halves(1)]
        else:
            self.source = ("def _grouped_step(w, g, loss, _t, _hyper, _state):\n"
                           '    """One step of every program, op-grouped."""\n' +
                           "".join(f"    {line}\n" for line in fresh_code(self)))
            namespace.update(self.constants)
            self._expected = {}
            halves = [{}, {}]
        name = f"<discover grouped {len(self.programs)} programs {abs(hash(self.source)):x}>"
        first = exec_source(self.source, name, {**namespace, **halves[0]})["_grouped_step"]
        # the odd steps: the same code, its halves of pairs bound the other way round
        second = types.FunctionType(first.__code__, {**namespace, **halves[1]}, first.__name__)
        self._namespace_run = namespace
        self._fns = [first, second]
        self._parity = 0

    def _schedule(self, layout, normalise):
        """The instructions of one step with state read from ``layout``; the layout written."""
        n_prog = len(self.programs)
        self.instrs: list[Instr] = []
        self._fresh = itertools.count()
        every = tuple(range(n_prog))
        inputs = {"w": Buf("w", "T", every), "g": Buf("g", "T", every),
                  "loss": Buf("_loss", "C", every)}
        inputs.update({("hyper", n): Buf(f"_h_{n}", "C", every) for n in self.batched})
        self._filler = {"T": inputs["g"], "C": inputs["loss"], "V": Buf("_zV", "V", every)}
        state_buf = {}
        for e, entry in enumerate(layout):
            for b, s in entry.claims:
                state_buf[b, s] = Buf(f"_s{e}", entry.kind, entry.progs)
        node_buf: dict[int, Buf] = {}

        def where(ref: _Ref, b: int) -> Buf:
            if isinstance(ref.src, int):
                return node_buf[ref.src]
            if isinstance(ref.src, tuple) and ref.src[0] == "state":
                return state_buf[b, ref.src[1]]
            return inputs[ref.src]

        self._where = where
        # a program's own rows already beyond the cache: no group pays, and taking the
        # programs one after the other keeps each one's tensors in cache across its ops
        runs = (([n] for n in self.nodes) if self.k * self.width > RUN_MAX else self._groups())
        for run in runs:
            buf = self._emit(run)
            for node in run:
                node_buf[node.id] = buf
        return self._outputs(layout, normalise)

    def _groups(self):
        """Runs of nodes (one op, one signature, consecutive programs) in an order that respects
        dependencies: the bucket of ready nodes with the most programs first."""
        waiting = {n.id: len(set(n.deps)) for n in self.nodes}
        users: dict[int, list[_Node]] = {}
        for n in self.nodes:
            for d in set(n.deps):
                users.setdefault(d, []).append(n)
        buckets: dict[tuple, dict[int, list[_Node]]] = {}

        def ready(node):
            per_prog = buckets.setdefault(node.signature(), {})
            per_prog.setdefault(node.prog, []).append(node)

        for n in self.nodes:
            if waiting[n.id] == 0:
                ready(n)
        while buckets:
            sig = max(buckets, key=lambda s: len(buckets[s]))  # ties: the first made
            per_prog = buckets[sig]
            chosen = []
            for b in sorted(per_prog):
                nodes = per_prog[b]  # a statement that writes state first: state stays aligned
                nodes.sort(key=lambda n: (n.id not in self._writes_state, n.index))
                chosen.append(nodes.pop(0))
                if not nodes:
                    del per_prog[b]
            if not per_prog:
                del buckets[sig]
            for run in self._split(chosen):
                yield run
            for node in chosen:
                for user in users.get(node.id, ()):
                    waiting[user.id] -= 1
                    if waiting[user.id] == 0:
                        ready(user)

    # ---- cost model ---------------------------------------------------------------------------

    def _split(self, members):
        """``members`` (sorted by program) cut into consecutive runs of least estimated cost
        (dynamic programming over where the runs end; runs of at most :data:`_DP_MAX`)."""
        n = len(members)
        self._located = {(node.id, a): self._where(ref, node.prog) for node in members
                         for a, ref in enumerate(node.args) if isinstance(ref, _Ref)}
        best = [0.0] + [math.inf] * n  # best[i]: the first i members cut into runs
        cut = [0] * (n + 1)
        for i in range(1, n + 1):
            for j, c in self._run_costs(members, i):
                if best[j] + c < best[i]:
                    best[i], cut[i] = best[j] + c, j
        runs, i = [], n
        while i > 0:
            runs.append(members[cut[i]:i])
            i = cut[i]
        return runs[::-1]

    def _run_costs(self, members, i):
        """``(j, estimated seconds of the run members[j:i])`` for j = i - 1 down: the call,
        and per operand a view (free when it is a whole tensor), a gather or a column."""
        kind, args = members[i - 1].kind, members[i - 1].args
        # a slice: made when the step runs, or once (tensors allocated once): then a gather's
        # piece costs only its share of the torch.cat
        view, piece = (0.0, _PIECE_S) if self.persistent else (_VIEW_S, _VIEW_S)
        keys = [set() for _ in args]
        consts = [True] * len(args)
        pieces = [0] * len(args)  # the pieces a gather would join
        first = [None] * len(args)  # (buffer, position) of the run's first block
        states = [True] * len(args)
        for j in range(i - 1, max(i - 1 - _DP_MAX, -1), -1):
            node = members[j]
            rows = (i - j) * self.k
            if j < i - 1 and rows * self.width > RUN_MAX:
                break  # beyond the cache: one group per few programs, as each alone would
            cost = CALL_S + self._element_s * rows * self._width(kind)
            for a, ref in enumerate(node.args):
                if isinstance(ref, _S):
                    keys[a].add(ref.key)
                    consts[a] = consts[a] and ref.const
                    if len(keys[a]) > 1 and not consts[a]:
                        cost += 2 * CALL_S
                    continue
                buf = self._located[node.id, a]
                at = buf.pos(node.prog)
                if first[a] is None or first[a] != (buf, at + 1):
                    pieces[a] += 1  # not the block just before the next one: a new piece
                first[a] = (buf, at)
                states[a] = states[a] and isinstance(ref.src, tuple) and ref.src[0] == "state"
                if self._optimistic and states[a]:
                    continue  # the first round: state will be laid out as the step writes it
                if pieces[a] == 1:
                    cost += 0.0 if (at, at + i - j) == (0, len(buf.progs)) else view
                else:
                    cost += CALL_S + pieces[a] * piece + \
                        self._element_s * rows * self._width(ref.kind)
            yield j, cost

    # ---- instructions -------------------------------------------------------------------

    def _view(self, pairs):
        """A piece holding the blocks of ``pairs`` ((program, value), in order) if they lie
        one after the other in one tensor (else None)."""
        bufs = {self._where(ref, b) for b, ref in pairs}
        if len(bufs) == 1:
            (buf,) = bufs
            at = buf.pos(pairs[0][0])
            if buf.progs[at:at + len(pairs)] == tuple(b for b, _ in pairs):
                return Piece(buf, at, at + len(pairs))
        return None

    def _gather(self, blocks, kind: str):
        """``blocks`` ((program, tensor) in order) as one piece or a gather of pieces; a program
        whose tensor is None gets rows of any tensor of the right width (never read)."""
        pieces = []  # [buf, first block, end block]
        for b, buf in blocks:
            buf = buf if buf is not None else self._filler[kind]
            at = buf.pos(b)
            if pieces and pieces[-1][0] == buf and pieces[-1][2] == at:
                pieces[-1][2] = at + 1
            else:
                pieces.append([buf, at, at + 1])
        if len(pieces) == 1:
            return Piece(*pieces[0])
        return Gather(tuple(Piece(*p) for p in pieces), kind, tuple(b for b, _ in blocks))

    def _scalar_operand(self, pairs, one_minus=False) -> Code | None:
        """A scalar operand of ``pairs`` ((program, scalar), in order): the scalar itself where
        every program has the same (None with ``one_minus``), else a column (of ``1 - a``
        with ``one_minus``)."""
        if len({s.key for _, s in pairs}) == 1:
            s = pairs[0][1]
            return None if one_minus else Code(s.code, False, s.value)
        values = [v for _, v in pairs]
        if all(s.const for s in values):
            code = f"_c{len(self._namespace)}"
            self._namespace[code] = self._column([1 - s.value if one_minus else s.value
                                                  for s in values])
            return Code(code, True)
        return Code("_column((" + "".join(("1 - " if one_minus else "") + s.code + ", "
                                          for s in values) + "))", True)

    def _emit(self, run) -> Buf:
        args = []
        for j, a in enumerate(run[0].args):
            pairs = [(n.prog, n.args[j]) for n in run]
            if isinstance(a, _S):
                args.append(self._scalar_operand(pairs))
                continue
            view = self._view(pairs)
            args.append(view if view is not None else self._gather(
                [(b, self._where(ref, b)) for b, ref in pairs], a.kind))
        op, fn = run[0].op, run[0].fn
        if fn == "_op_interp" and isinstance(run[0].args[2], _S):
            one_minus = self._scalar_operand([(n.prog, n.args[2]) for n in run], True)
            if one_minus is not None:
                fn, args = "_interp_columns", args[:2] + [one_minus, args[2]]
        out = Buf(f"_v{next(self._fresh)}", run[0].kind, tuple(n.prog for n in run))
        self.instrs.append(Instr(out, "op", fn, op, tuple(args)))
        return out

    def _block(self, value, b: int, kind: str) -> Buf:
        """Program b's ``value`` as a ``kind`` block (a column or scalar made a tensor)."""
        if isinstance(value, _S):
            out = Buf(f"_m{next(self._fresh)}", kind, (b,))
            self.instrs.append(Instr(out, "full", args=(Code(value.code, False, value.value),)))
            return out
        buf = self._where(value, b)
        if value.kind == kind:
            return buf
        if value.kind != "C":  # T or V into a smaller state: the state shapes forbid it
            raise CompileError(f"{self.programs[b].name}: a {value.kind} value returned as a "
                               f"{kind} state")
        out = Buf(f"_m{next(self._fresh)}", kind, (b,))
        self.instrs.append(Instr(out, "expand", args=(Piece(buf, buf.pos(b), buf.pos(b) + 1),)))
        return out

    def _outputs(self, layout, normalise):
        """The update (:attr:`update`) and the state returned (:attr:`returned`); the layout
        written."""
        self.update = self._gather([(b, self._block(out[0], b, "T"))
                                    for b, out in enumerate(self.outputs)], "T")
        blocks = {}
        for b, out in enumerate(self.outputs):
            for s, value in zip(self.programs[b].state_names, out[1:]):
                blocks[b, s] = self._block(value, b, self._state_kinds[b][s])
        natural: list[list] = []  # [buf, claims]
        for (b, s), buf in blocks.items():
            for entry in natural:
                if entry[0] == buf and all(c[0] != b for c in entry[1]):
                    entry[1].append((b, s))
                    break
            else:
                natural.append([buf, [(b, s)]])
        written = tuple(_Entry(buf.kind, buf.progs, tuple(claims)) for buf, claims in natural)
        if normalise:  # each state back where the step reads it
            self.returned = []
            for e in layout:
                mine = {b: blocks[b, s] for b, s in e.claims}
                self.returned.append(self._gather([(b, mine.get(b)) for b in e.progs], e.kind))
        else:
            self.returned = [Piece(buf, 0, len(buf.progs)) for buf, _ in natural]
        return written

    # ---- helpers the generated code calls ---------------------------------------------------

    def _column(self, values) -> torch.Tensor:
        """``[len(values) * K, 1]``: each value repeated for the K copies of its program."""
        col = torch.tensor([float(v) for v in values], dtype=self.dtype, device=self.device)
        return col.repeat_interleave(self.k).unsqueeze(1)

    def _full(self, value, width: int) -> torch.Tensor:
        return torch.full((self.k, width), float(value), dtype=self.dtype, device=self.device)

    # ---- the public calls -------------------------------------------------------------------

    def init_state(self, states: Sequence[Mapping[str, torch.Tensor]]) -> tuple:
        """The state tensors of the first step from each program's start state (name -> ``[K,
        width]`` or ``[K]`` tensor, the flat layout of :class:`tasks.batched.BatchedTrainer`);
        the step starts over from its first (even) step."""
        self._parity = 0
        out = []
        for e, entry in enumerate(self.layout):
            if e in self._expected:  # read by the first step from the odd half of its pair
                t = self._namespace_run[self._expected[e][0]]
                t.zero_()
            else:
                t = torch.zeros(len(entry.progs) * self.k, self._width(entry.kind),
                                dtype=self.dtype, device=self.device)
            for b, s in entry.claims:
                at = entry.progs.index(b)
                rows = slice(at * self.k, (at + 1) * self.k)
                t[rows] = states[b][s].reshape(self.k, -1)
            out.append(t)
        return tuple(out)

    def __call__(self, w, g, loss, t: float, hyper: Mapping[str, torch.Tensor], state: tuple):
        """``(new weights, new state)``: ``w``, ``g`` ``[B * K, width]``, ``loss`` ``[B * K]``,
        ``hyper`` the batched columns ``[B * K, 1]``, ``state`` what :meth:`init_state` or the
        previous call returned (the state a call returns is valid until the call after next:
        small steps write into tensors they own, see :mod:`primitives.compile.grouped_code`)."""
        p = self._parity
        for e, names in self._expected.items():
            if state[e] is not self._namespace_run[names[p]]:
                raise ValueError("GroupedStep: give each call the state the previous call "
                                 "(or init_state) returned")
        self._parity = 1 - p
        return self._fns[p](w, g, loss, t, hyper, state)

    def state_of(self, b: int, state: tuple) -> dict[str, torch.Tensor]:
        """Program b's state (name -> ``[K, width]`` or ``[K, 1]``), for inspection."""
        out = {}
        for e, tensor in zip(self.layout, state):
            for bb, s in e.claims:
                if bb == b:
                    at = e.progs.index(b)
                    out[s] = tensor[at * self.k:(at + 1) * self.k]
        return out
