"""The fused step of a program as Python source, and that source loaded for the engine.

:func:`compile_step` writes the functions that make one in-place step, following torch.optim's
``adam.py`` layout (the exporter writes the very same text into its module):

- ``_scalars_<name>``: the program's scalar statements (hyperparameters, ``t``, ``loss``), once
  per step, on 0-d float64 tensors with the same templates as the tensor statements, so that
  ``lr / 0`` is inf as in :meth:`primitives.Executor.update` instead of an exception; the tensor
  code receives them as Python floats (with the factors of the fused kernels, :class:`Coefs`).
- ``_single_tensor_<name>``: the readable per-tensor path, one comment per program statement.
- ``_multi_tensor_<name>``: the same over the group's lists with ``torch._foreach_*`` kernels,
  looping over the tensors where torch has no foreach kernel.
- ``_group_<name>`` (programs with group reductions): the group-wide values the per-tensor path
  reads (``global_norm`` ...), computed over the group's lists before the per-tensor loop.
- ``_state_shapes_<name>`` (only where a state is neither parameter-shaped nor 0-d): the tensor
  statements on ``meta`` tensors until the state shapes stop growing, cached per shape.

:class:`CompiledStep` runs them: :meth:`primitives.Executor.step_` is a call of its
:meth:`~CompiledStep.step_`. On a CPU the per-tensor loop keeps each tensor in cache across
kernels and is the faster path (as for torch's for-loop Adam); on GPUs the foreach path is.
"""

from __future__ import annotations

import functools
import linecache
import textwrap
from dataclasses import dataclass

import torch

from ..kernels import KERNELS, kernel_source
from ..program import Program
from .ir import StepIR
from .planner import Emitter
from .render import Field, indent, literal, pack, render_expr
from .shapes import FULL
from .templates import TEMPLATES
from .values import Coefs

__all__ = ["StepSource", "compile_step", "CompiledStep", "load_step", "exec_source"]


@dataclass(frozen=True)
class StepSource:
    """The generated step functions of one program and what a caller needs to call them."""

    #: the program compiled
    program: Program
    #: its identifiers, kinds and shape classes
    ir: StepIR
    #: the function definitions (see the module docstring), without the kernels they call
    functions: str
    #: the kernels of :mod:`primitives.kernels` the functions call (module-level in an export)
    kernels: tuple[str, ...]
    #: identifiers of the hyperparameters and inputs ``_scalars_<name>`` takes
    host_inputs: tuple[str, ...]
    #: the group values ``_group_<name>`` returns (empty: no group function)
    group_outputs: tuple[str, ...]
    #: ``_state_shapes_<name>`` exists (a state neither parameter-shaped nor 0-d)
    meta_shapes: bool

    @property
    def name(self) -> str:
        return self.program.name

    @property
    def tensor_inputs(self) -> list[str]:
        """Identifiers of the tensor inputs (``h``) after ``w``, ``g`` and the state."""
        return [i for i in self.ir.inputs if self.ir.kinds[i] == "T"]

    def kernel_text(self) -> str:
        """The source of the kernels the functions call (what an export pastes in)."""
        return kernel_source(self.kernels)


class _Builder:
    """Writes the functions of :class:`StepSource` for one program."""

    def __init__(self, program: Program):
        self.program, self.name = program, program.name
        ir = self.ir = StepIR(program)
        self.coefs = Coefs()
        d_names = {n for n, k in ir.kinds.items() if k == "D"}
        roots = [r for r in ir.returns if isinstance(r, str)]
        single = ir.needed(roots, kinds=("T",), stop=d_names)
        order = [s.target for s in ir.stmts]
        self.group_outputs = sorted({a for s in single for a in s.args if a in d_names} |
                                    {r for r in roots if r in d_names}, key=order.index)
        self.single = self._body("tensor", single, roots, True)
        self.group = None
        if self.group_outputs:
            self.group = self._body("loop", ir.needed(self.group_outputs), self.group_outputs,
                                    False)
            self.group.lines.append(pack("return {", [f'"{d}": {d}' for d in self.group_outputs],
                                         "}", 4))
        self.multi = self._body("foreach", ir.needed(roots), roots, True)
        used = set().union(*(e.used for e in (self.single, self.group, self.multi) if e))
        names = list(ir.ident.values()) + order
        self.scalars = sorted(used, key=names.index) + list(self.coefs.names.values())
        factors = [x for coef in self.coefs.names for x, _ in coef if isinstance(x, str)]
        self.host = ir.needed(list(self.scalars) + factors, kinds=("S",))
        reads = {a for s in self.host for a in s.args if isinstance(a, str)} | \
            set(self.scalars) | set(factors)
        self.host_inputs = [i for i in ir.ident.values() if i in reads and
                            (i in ir.hypers or i in ir.inputs)]
        self.meta_shapes = any(c not in (None, FULL) for c in ir.state_cls.values())

    def _body(self, mode, stmts, outputs, write_state) -> Emitter:
        em = Emitter(self.ir, self.coefs, mode, stmts, outputs, write_state)
        for i, s in enumerate(stmts):
            em.statement(i, s)
        if write_state:
            em.writeback()
        return em

    # ---- functions ---------------------------------------------------------------------

    def function(self, prefix, em, doc, extra=()) -> list[str]:
        ir = self.ir
        tensors = ["w", "g", *ir.states, *[i for i in ir.inputs if ir.kinds[i] == "T"]]
        kw = list(self.scalars) + list(extra)
        args = tensors + (["*"] + kw if kw else [])
        doc = textwrap.fill(doc, 95, initial_indent='    """', subsequent_indent="    ")
        lines = [pack(f"def {prefix}_{self.name}(", args, "):"), doc + '"""']
        return lines + indent(em.lines or ["pass"])

    def scalars_function(self) -> list[str]:
        inputs = self.host_inputs
        body = [f"{i} = _f64({i})" for i in inputs]
        for s in self.host:
            fields = [Field(a, "T") if isinstance(a, str) else Field(literal(a), "S")
                      for a in s.args]
            if fields and all(f.kind == "S" for f in fields):  # keep torch's IEEE semantics
                fields[0] = Field(f"_f64({fields[0].src})", "T")
            expr = render_expr(TEMPLATES[s.op].tensor, None, fields, "host")
            body += [f"# {s.comment}", f"{s.target} = {expr if fields else f'_f64({expr})'}"]
        coefs = list(self.coefs.host_lines())
        if coefs:
            body += ["# factors of fused kernels"] + coefs
        body.append(pack("return {", [f'"{x}": float({x})' for x in self.scalars], "}", 4))
        doc = textwrap.fill(f"The scalar statements of ``{self.name}``, once per step, on "
                            "float64 0-d tensors (the same ops as on tensors); what the tensor "
                            "code reads comes back as Python floats.", 95,
                            initial_indent='    """', subsequent_indent="    ") + '"""'
        return [pack(f"def _scalars_{self.name}(", inputs, "):"), doc] + indent(body)

    def shapes_function(self) -> list[str]:
        """``_state_shapes_<name>(p)``: the tensor statements on meta tensors, to a fixed point."""
        ir, states = self.ir, list(self.ir.states)
        d_names = {n for n, k in ir.kinds.items() if k == "D"}
        stmts = ir.needed([r for r in ir.returns[1:] if isinstance(r, str)], ("T",), d_names)
        args = {a for st in stmts for a in st.args if isinstance(a, str)}
        scalars = sorted(a for a in args if ir.kinds[a] == "S")
        groups = sorted(args & d_names)
        key = {s: f'"{ir.states[s].name}"' for s in states}
        start = ", ".join(f"{key[s]}: {'tuple(p.shape)' if ir.states[s].init == 'w' else '()'}"
                          for s in states)
        inputs = " = ".join(["w", "g", *[i for i in ir.inputs if ir.kinds[i] == "T"]])
        body = ["key = tuple(p.shape)", "if key not in _SHAPES:",
                '    meta = dict(device="meta", dtype=p.dtype)',
                f"    {inputs} = torch.empty(p.shape, **meta)"]
        if scalars:
            body.append(f"    {' = '.join(scalars)} = 1.0  # values do not change shapes")
        if groups:
            body.append(f"    {' = '.join(groups)} = torch.empty((), **meta)  # group values")
        body += [f"    shapes = {{{start}}}", "    while True:  # shapes only grow"]
        body += [f"        {s} = torch.empty(shapes[{key[s]}], **meta)" for s in states]
        for st in stmts:
            fields = [Field(a, ir.kinds[a]) if isinstance(a, str) else Field(literal(a), "S")
                      for a in st.args]
            body.append(f"        {st.target} = "
                        f"{render_expr(TEMPLATES[st.op].tensor, None, fields, 'tensor')}")
        new = [f"{key[s]}: tuple(torch.broadcast_shapes(shapes[{key[s]}], {r}.shape))"
               if isinstance(r, str) and ir.kinds[r] == "T" else f"{key[s]}: shapes[{key[s]}]"
               for s, r in zip(states, ir.returns[1:])]
        body += ["        " + pack("new = {", new, "}", 12), "        if new == shapes:",
                 "            break", "        shapes = new", "    _SHAPES[key] = shapes",
                 "return _SHAPES[key]"]
        doc = ('    """Each state\'s shape for a parameter shaped like p: the tensor statements '
               'on "meta" tensors\n    (shapes, no data) from 0-d state until the shapes settle, '
               'as primitives.Executor does."""')
        return [f"def _state_shapes_{self.name}(p):", doc] + indent(body)

    def source(self) -> StepSource:
        name = self.name
        blocks = [self.shapes_function()] if self.meta_shapes else []
        blocks += [self.scalars_function(),
                   self.function("_single_tensor", self.single,
                                 f"One step of ``{name}`` for one parameter ``w`` (gradient "
                                 "``g``, its state), in place.", self.group_outputs)]
        if self.group is not None:
            blocks.append(self.function("_group", self.group, "The group-wide values (over "
                                        "every tensor of the batch) the per-tensor path reads."))
        blocks.append(self.function("_multi_tensor", self.multi,
                                    f"One step of ``{name}`` over lists, one entry per "
                                    "parameter, in place (foreach kernels)."))
        code = "\n\n\n".join("\n".join(block) for block in blocks)
        kernels = ("_f64",) + tuple(k for k in KERNELS if k != "_f64" and f"{k}(" in code)
        return StepSource(self.program, self.ir, code + "\n", kernels, tuple(self.host_inputs),
                          tuple(self.group_outputs), self.meta_shapes)


def exec_source(text: str, filename: str, namespace: dict) -> dict:
    """Run generated ``text`` into ``namespace``, registered under ``filename`` so tracebacks
    and ``inspect`` show its lines; returns the namespace."""
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    exec(compile(text, filename, "exec"), namespace)  # noqa: S102 - our own generated code
    return namespace


@functools.lru_cache(maxsize=2048)
def compile_step(program: Program) -> StepSource:
    """The fused in-place step of ``program`` as source (see the module docstring).

    Example::

        >>> from primitives import parse
        >>> src = compile_step(parse("def sgd(w, g, lr=0.1):\\n    return lr * g"))
        >>> print(src.functions.split("def _single_tensor_sgd")[1].splitlines()[0])
        (w, g, *, lr):
    """
    return _Builder(program).source()


class CompiledStep:
    """The functions of a :class:`StepSource`, loaded, and a call that runs one step."""

    def __init__(self, source: StepSource):
        self.source = source
        ir, name = source.ir, source.name
        filename = f"<discover step {name} {abs(hash(source.functions)):x}>"
        text = "import math\n\nimport torch\n\n\n" + source.kernel_text() + "\n\n" + \
            ("_SHAPES = {}\n\n\n" if source.meta_shapes else "") + source.functions
        namespace = exec_source(text, filename, {})
        self.scalars = namespace[f"_scalars_{name}"]
        self.single = namespace[f"_single_tensor_{name}"]
        self.multi = namespace[f"_multi_tensor_{name}"]
        self.group = namespace.get(f"_group_{name}")
        self.state_names = [p.name for p in ir.states.values()]
        hosts = {i: ("hyper", ir.hypers[i].name) if i in ir.hypers else ("input", ir.inputs[i])
                 for i in source.host_inputs}
        self.host = list(hosts.items())
        self.uses_h = bool(source.tensor_inputs)

    def step_(self, params, grads, state, hyper, t, loss=None, h=None, foreach=False) -> None:
        """One step in place over a group: ``params`` and the tensors of ``state`` change."""
        inputs = {"t": t, "loss": loss}
        scalars = self.scalars(**{i: hyper[n] if role == "hyper" else inputs[n]
                                  for i, (role, n) in self.host})
        tensors = [params, grads] + [state[n] for n in self.state_names]
        if self.uses_h:
            tensors.append(h)
        with torch.no_grad():
            if foreach:
                self.multi(*tensors, **scalars)
                return
            reduced = self.group(*tensors, **scalars) if self.group is not None else {}
            for args in zip(*tensors):
                self.single(*args, **scalars, **reduced)


@functools.lru_cache(maxsize=2048)
def load_step(program: Program) -> CompiledStep:
    """:func:`compile_step` of ``program``, loaded (cached per program)."""
    return CompiledStep(compile_step(program))

