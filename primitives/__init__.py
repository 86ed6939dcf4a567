"""The program language: ops, programs (parse/print), value kinds, execution and analysis.

``primitives.testing`` (random programs for property tests) is imported on its own."""

from .analysis import (adaptivity_exponent, check_lr_scaling, check_reads_gradient, check_valid,
                       dataflow_graph, eliminate_dead_code, fingerprint, is_valid, reads_gradient,
                       scales_with_lr, structural_hash)
from .execute import Executor
from .kinds import Kind, value_kinds
from .ops import HERO_OPS, KINDS, OPS, Op, get_op
from .program import RESERVED_INPUTS, Param, Program, ProgramError, Stmt, parse, to_source

__all__ = [
    "adaptivity_exponent", "check_lr_scaling", "check_reads_gradient", "check_valid",
    "dataflow_graph",
    "eliminate_dead_code", "fingerprint", "is_valid", "reads_gradient", "scales_with_lr", "structural_hash",
    "Executor", "Kind", "value_kinds",
    "HERO_OPS", "KINDS", "OPS", "Op", "get_op",
    "RESERVED_INPUTS", "Param", "Program", "ProgramError", "Stmt", "parse", "to_source",
]
