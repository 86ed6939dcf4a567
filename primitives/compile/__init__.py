"""The compiler: a program -> the fused step every fast path runs.

One planner turns a program into Python source for an in-place step (:func:`compile_step`):
:meth:`primitives.Executor.step_` runs it (:func:`load_step`), ``discover export`` writes the
same text into the optimizer module a user receives, and :func:`compile_pure` gives the pure,
out-of-place form that the batched trainer runs for K copies (and for B different programs at
once, :class:`PopulationStep`; op-grouped over B elementwise programs, :class:`GroupedStep`). :meth:`primitives.Executor.update` stays the readable reference;
a differential test holds every path to it.

The pieces: :mod:`~primitives.compile.templates` (the op -> torch table),
:mod:`~primitives.compile.render` (spelling a template), :mod:`~primitives.compile.ir` (identifiers,
value kinds, shape classes), :mod:`~primitives.compile.shapes` (shape classes),
:mod:`~primitives.compile.values` and :mod:`~primitives.compile.planner` (lazy values, liveness,
fused kernels), :mod:`~primitives.compile.step` (the functions, loaded) and
:mod:`~primitives.compile.pure` (the out-of-place form).
"""

from .grouped import GroupedStep, groupable
from .ir import CompileError, StepIR
from .pure import PopulationStep, load_pure, pure_source, scalar_call
from .step import CompiledStep, StepSource, compile_step, load_step

__all__ = ["CompileError", "StepIR", "CompiledStep", "StepSource", "compile_step", "load_step",
           "PopulationStep", "GroupedStep", "groupable", "load_pure", "pure_source",
           "scalar_call"]
