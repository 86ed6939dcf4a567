"""Export a program as a standalone ``torch.optim.Optimizer`` module (DESIGN.md section 3).

Use::

    Lion = optimizer("lion")                     # the class, built from the generated source
    opt = Lion(model.parameters(), lr=1e-4)
    write_export("lion", "lion_optimizer.py")    # the same source as a file

:func:`load_program` resolves a library name, a ``.py`` file or program source (the CLI's
``discover export NAME_OR_FILE``). The module imports only ``torch`` and ``math`` and holds, in
this order: the kernels it calls, copied verbatim from :mod:`primitives.kernels`; the step
functions of :func:`primitives.compile.compile_step` (``_scalars_<name>``,
``_single_tensor_<name>``, ``_multi_tensor_<name>``, and where needed ``_group_<name>`` and
``_state_shapes_<name>``), the very text :meth:`primitives.Executor.step_` runs; and the
``Optimizer`` subclass: validated hyperparameters, param groups, lazy state created at a
parameter's first step, a per-parameter ``step`` count like torch's (the program's ``t``),
``state_dict`` round trips through torch's base class, and ``foreach=None`` choosing the foreach
path for CUDA/XPU tensors and the per-tensor path elsewhere (torch's heuristic; on a CPU the
per-tensor loop was the faster one in our measurements).

Choices:

- Speed and rounding: see :mod:`primitives.compile.planner` (fused kernels round differently from
  the reference's one op per statement, by a few ulp; a term whose factor is 0 at run time is
  skipped, as torch.optim skips ``weight_decay=0``).
- Inputs: ``loss`` comes from ``step(closure)`` (or ``step(loss=...)``); ``h`` (a Hessian-diagonal
  estimate) from ``step(hessian={param: tensor})``, else a ``param.hess`` attribute. A program
  that needs either and gets none raises a ``ValueError`` that says how to pass it.
- Parameters whose step counts differ (a parameter without a gradient skips a step) are stepped
  in batches of equal ``t``; group reductions then range over the batch.
- Hyperparameter checks are data (:data:`HYPER_RULES`): every hyperparameter must be a finite
  number; a name rule applies only where the program's default obeys it, and a library entry's
  own ``bounds`` replace it where it does not fit (FTRL's ``beta`` is no decay rate).
- Program names that clash with names of the generated code (``torch``, ``p``, names with a
  leading or trailing underscore...) are renamed inside it; hyperparameter and state names, the
  public keyword arguments and state keys, are kept (a hyperparameter called ``params`` or
  ``foreach``, or a state called ``step``, is an :class:`ExportError`).
"""

from __future__ import annotations

import hashlib
import keyword
import string
import sys
import textwrap
import types
from pathlib import Path

from primitives import Program, to_source
from primitives.compile import CompileError, compile_step
from primitives.compile.step import exec_source
from primitives.compile.render import indent as _indent, pack as _pack
from primitives.compile.shapes import FULL

from .errors import ExportError
from .programs import load_program

__all__ = ["ExportError", "HYPER_RULES", "export_source", "load_program", "optimizer",
           "write_export"]

#: name prefixes -> (lowest, highest) allowed value (highest excluded; None: unbounded). A rule
#: applies to a hyperparameter whose name starts with a prefix and whose default obeys it.
HYPER_RULES = (
    (("lr", "eps", "wd", "weight_decay", "decay", "lambda"), (0.0, None)),
    (("beta", "rho", "momentum", "alpha"), (0.0, 1.0)),
)
#: hyperparameter names that clash with the optimizer class's own arguments
_CLASH = {"params", "foreach", "defaults", "self", "super", "dict", "closure", "hessian", "loss"}


# --------------------------------------------------------------------------------------------
# the module


#: the start of every exported module ($-placeholders filled by _Module.source)
_HEAD = string.Template('''$docstring

import math

import torch

__all__ = ["$cls"]
$shape_cache
#: hyperparameter -> (lowest, highest excluded): None means no bound, only finite values
$bounds


def _check_hyperparameter(name, value):
    """ValueError unless value is a finite number within the bounds of name."""
    try:
        x = math.nan if isinstance(value, (bool, str, bytes)) else float(value)
    except (TypeError, ValueError):
        x = math.nan
    if not math.isfinite(x):
        raise ValueError(f"Invalid {name}: {value!r} (must be a finite number)")
    low, high = _BOUNDS[name]
    if low is not None and high is None and not x >= low:
        raise ValueError(f"Invalid {name}: {value!r} (must be >= {low:g})")
    if low is None and high is not None and not x < high:
        raise ValueError(f"Invalid {name}: {value!r} (must be < {high:g})")
    if low is not None and high is not None and not low <= x < high:
        raise ValueError(f"Invalid {name}: {value!r} (must be in [{low:g}, {high:g}))")


def _default_foreach(params):
    """torch's choice: foreach kernels for plain CUDA/XPU tensors, else the per-tensor loop."""
    return all(type(p) in (torch.Tensor, torch.nn.Parameter) and p.device.type in ("cuda", "xpu")
               for p in params)
''')

#: the optimizer class
_CLASS = string.Template('''class $cls(torch.optim.Optimizer):
    """$summary

    Generated by `discover export` from the program ``$name`` (see the module docstring).

    Args:
        params: parameters to optimize, or dicts defining parameter groups.
$args_doc
        foreach: use the torch._foreach_* path; None (default) picks it for CUDA/XPU tensors.

    $state_doc$inputs_doc
    """

    $init
        $defaults
        for name in _BOUNDS:
            _check_hyperparameter(name, defaults[name])
        super().__init__(params, defaults)

    def add_param_group(self, param_group):
        super().add_param_group(param_group)
        for name in _BOUNDS:
            _check_hyperparameter(name, self.param_groups[-1][name])

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("foreach", None)

    def _init_state(self, p, group):
        state = self.state[p]
        state["step"] = 0
$state_init

    def _batches(self, group):
        """The parameters with a gradient by step count t (one batch unless some skipped steps)."""
        batches = {}
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise RuntimeError("$cls does not support sparse gradients")
            state = self.state[p]
            if not state:
                self._init_state(p, group)
            state["step"] += 1
            batches.setdefault(state["step"], []).append(p)
        return batches
$hessian_method
    @torch.no_grad()
    def step(self, closure=None$step_kw):
        """One step for every parameter with a gradient; returns the loss."""
$loss
        for group in self.param_groups:
            foreach = group["foreach"]
            if foreach is None:
                foreach = _default_foreach(group["params"])
            for t, params in self._batches(group).items():
                $scalars
                tensors = [params, [p.grad for p in params]]$state_lists
$per_tensor
        return loss
''')

_HESSIAN = string.Template('''
    def _hessian(self, params, hessian):
        """Each parameter's Hessian-diagonal estimate: hessian[p], else p.hess."""
        out = []
        for p in params:
            h = hessian.get(p) if hessian is not None else getattr(p, "hess", None)
            if h is None:
                raise ValueError("$cls needs a Hessian-diagonal estimate for every parameter "
                                 "with a gradient: call step(hessian={param: tensor}) or set "
                                 "param.hess")
            out.append(h)
        return out
''')


def _class_name(program: Program) -> str:
    """The spelling the docstring gives the program's name ("AdamW: ..."), else CamelCase."""
    words = program.doc.split(maxsplit=1)
    first = words[0].rstrip(":,.") if words else ""
    if first.lower() == program.name.replace("_", "") and first.isidentifier():
        return first
    return "".join(part[:1].upper() + part[1:] for part in program.name.split("_") if part) or \
        "Exported"


def _bounds(name: str, default, overrides=None) -> tuple:
    """``(low, high)`` for a hyperparameter: ``overrides[name]`` when given, else the name rule
    of :data:`HYPER_RULES` that its default obeys, else ``(None, None)`` (finite only)."""
    if overrides and name in overrides:
        return tuple(overrides[name])
    for prefixes, (low, high) in HYPER_RULES:
        if name.startswith(prefixes):
            if low <= default and (high is None or default < high):
                return (low, high)
            break
    return (None, None)


def _bounds_text(bounds) -> str:
    low, high = bounds
    if low is None and high is None:
        return "a finite number"
    if high is None:
        return f">= {low:g}"
    return f"< {high:g}" if low is None else f"in [{low:g}, {high:g})"


_STATE_DOC = {None: "0-d", FULL: "shaped like the parameter"}


class _Module:
    """Writes the optimizer module for one program."""

    def __init__(self, program: Program, class_name: str, bounds=None):
        self.bounds = dict(bounds or {})
        unknown = set(self.bounds) - set(program.hyperparameters)
        if unknown:
            raise ExportError(f"{program.name}: bounds for unknown hyperparameter(s) "
                              f"{sorted(unknown)}")
        if not class_name.isidentifier() or keyword.iskeyword(class_name):
            raise ExportError(f"class name {class_name!r} is not a Python identifier")
        self.program, self.cls_name, self.name = program, class_name, program.name
        for p in program.params:
            if p.role == "hyper" and (p.name in _CLASH or p.name.startswith("_")):
                raise ExportError(f"{program.name}: hyperparameter {p.name!r} clashes with the "
                                  "optimizer's own arguments; rename it")
            if p.role == "state" and p.name == "step":
                raise ExportError(f"{program.name}: a state named 'step' clashes with the step "
                                  "counter; rename it")
        try:
            self.step = compile_step(program)
        except CompileError as exc:
            raise ExportError(str(exc)) from None
        self.an = self.step.ir
        self.host_inputs = list(self.step.host_inputs)
        self.has_group = bool(self.step.group_outputs)
        self.meta_shapes = self.step.meta_shapes

    # ---- the class -----------------------------------------------------------------------

    def _state_init(self, s, p) -> str:
        """The line creating state ``p`` (zeros, or its start value) in ``_init_state``."""
        key, cls = f'state["{p.name}"]', self.an.state_cls[s]
        if p.init == "w":
            return f"{key} = p.detach().clone(memory_format=torch.preserve_format)"
        value = f'float(group["{p.init}"])' if isinstance(p.init, str) else repr(float(p.init or 0))
        if cls == FULL and value == "0.0":
            return f"{key} = torch.zeros_like(p, memory_format=torch.preserve_format)"
        if cls == FULL:
            return f"{key} = torch.full_like(p, {value}, memory_format=torch.preserve_format)"
        shape = "()" if cls is None else f'shapes["{p.name}"]'
        return f"{key} = torch.full({shape}, {value}, dtype=p.dtype, device=p.device)"

    def _step_lines(self, uses_loss, uses_h):
        """The loss handling and the per-batch dispatch of ``step``."""
        cls, name = self.cls_name, self.name
        loss = [] if uses_loss else ["loss = None"]
        loss += ["if closure is not None:", "    with torch.enable_grad():",
                 "        loss = closure()"]
        if uses_loss:
            loss += ["if loss is None:",
                     f'    raise ValueError("{cls} reads the loss: call step(closure) with a '
                     'closure that returns it, or step(loss=loss)")']
        run = ["tensors.append(self._hessian(params, hessian))"] if uses_h else []
        run += ["if foreach:", f"    _multi_tensor_{name}(*tensors, **scalars)", "else:"]
        extra = ""
        if self.has_group:
            run.append(f"    reduced = _group_{name}(*tensors, **scalars)")
            extra = ", **reduced"
        run += ["    for args in zip(*tensors):",
                f"        _single_tensor_{name}(*args, **scalars{extra})"]
        return "\n".join(_indent(loss, 2)), "\n".join(_indent(run, 4))

    def _class(self) -> str:
        an, name, cls = self.an, self.name, self.cls_name
        hypers = list(an.hypers.values())
        uses_loss, uses_h = "loss" in an.inputs.values(), "h" in an.inputs.values()
        inputs_doc = ""
        if uses_loss:
            inputs_doc += ("\n\n    The program reads the loss: call ``step(closure)`` with a "
                           "closure that returns it,\n    or ``step(loss=loss)``.")
        if uses_h:
            inputs_doc += ("\n\n    The program reads a Hessian-diagonal estimate ``h``: call "
                           "``step(hessian={param: tensor})``\n    or set ``param.hess``.")
        state_init = [f"shapes = _state_shapes_{name}(p)"] if self.meta_shapes else []
        state_init += [self._state_init(s, p) for s, p in an.states.items()]
        loss, run = self._step_lines(uses_loss, uses_h)
        return _CLASS.substitute(
            cls=cls, name=name,
            summary=(self.program.doc.strip().splitlines() or [f"the program {name}"])[0],
            args_doc="\n".join(f"        {p.name}: default {p.default!r}; "
                               f"{_bounds_text(_bounds(p.name, p.default, self.bounds))}." for p in hypers),
            state_doc=textwrap.fill(
                "State per parameter: ``step`` (steps taken, the program's ``t``)" +
                "".join(f", ``{p.name}`` ({_STATE_DOC.get(an.state_cls[s], 'its shape set at step 1')})"
                        for s, p in an.states.items()) + ".", 95, subsequent_indent="    "),
            inputs_doc=inputs_doc,
            init=_pack("def __init__(", ["self", "params"] +
                       [f"{p.name}={p.default!r}" for p in hypers] + ["*", "foreach=None"], "):", 4),
            defaults=_pack("defaults = dict(", [f"{p.name}={p.name}" for p in hypers] +
                           ["foreach=foreach"], ")", 8),
            state_init="\n".join(_indent(state_init, 2)),
            hessian_method=_HESSIAN.substitute(cls=cls) if uses_h else "",
            step_kw=(", *" if uses_loss or uses_h else "") + (", loss=None" if uses_loss else "") +
            (", hessian=None" if uses_h else ""),
            loss=loss, per_tensor=run,
            scalars=_pack(f"scalars = _scalars_{name}(", [
                f'{i}=group["{an.hypers[i].name}"]' if i in an.hypers else f"{i}={an.inputs[i]}"
                for i in self.host_inputs], ")", 16),
            state_lists="\n                " + _pack(
                "tensors += [[self.state[p][key] for p in params] for key in (",
                [f'"{p.name}"' for p in an.states.values()], ",)]", 16) if an.states else "")

    # ---- putting it together -------------------------------------------------------------

    def _docstring(self) -> str:
        prog, cls = self.program, self.cls_name
        summary = (prog.doc.strip().splitlines() or [f"the program {prog.name}"])[0]
        bare = Program(prog.name, prog.params, prog.body, prog.returns, "")
        head = summary if summary.startswith(f"{cls}:") else f"{cls}: {summary}"
        text = [head, "",
                "Generated by `discover export`; this module needs only torch. The program "
                "(the weight", "becomes w - update, the state comes back in argument order):",
                ""] + _indent(to_source(bare).splitlines())
        if prog.doc.strip():
            text += ["", "The update rule:", ""] + _indent(prog.doc.strip().splitlines())
        hypers = [f"{p.name}={p.default!r}" for p in prog.params if p.role == "hyper"]
        text += ["", "Usage::", "", "    " + _pack(f"opt = {cls}(", ["model.parameters()"] + hypers, ")", 4),
                 "    loss = loss_fn(model(x), y); loss.backward(); opt.step(); opt.zero_grad()"]
        body = "\n".join(text).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
        return f'"""{body}\n"""'

    def source(self) -> str:
        bounds = _pack("_BOUNDS = {", [f'"{p.name}": {_bounds(p.name, p.default, self.bounds)!r}'
                                       for p in self.an.hypers.values()], "}")
        cache = (f"\n#: parameter shape -> state shapes (see _state_shapes_{self.name})\n"
                 "_SHAPES = {}\n" if self.meta_shapes else "")
        head = _HEAD.substitute(docstring=self._docstring(), cls=self.cls_name,
                                shape_cache=cache, bounds=bounds)
        parts = [head.rstrip("\n"), self.step.kernel_text().rstrip("\n"),
                 self.step.functions.rstrip("\n"), self._class().rstrip("\n")]
        return "\n\n\n".join(parts) + "\n"


# --------------------------------------------------------------------------------------------
# public API


def _library_bounds(source) -> dict:
    """The bounds a library entry declares (:attr:`Entry.bounds`) when ``source`` names one."""
    if not isinstance(source, str) or "\n" in source or source.endswith(".py"):
        return {}
    from .library import REGISTRY  # noqa: PLC0415 - the library is loaded only for a name

    entry = REGISTRY.get(source)
    return dict(entry.bounds) if entry is not None else {}


def export_source(program, class_name: str | None = None, bounds=None) -> str:
    """The source of a standalone module defining an optimizer class that runs ``program``.

    ``program``: a :class:`Program` (or anything :func:`load_program` takes); ``class_name``:
    the class's name (default: the program's name as its docstring spells it, ``AdamW: ...``
    -> ``AdamW``, else in CamelCase, ``sgd_momentum`` -> ``SgdMomentum``); ``bounds``:
    hyperparameter -> ``(low, high)`` (None: unbounded) where the name rules of
    :data:`HYPER_RULES` do not fit (a library name brings its entry's own).
    """
    if bounds is None:
        bounds = _library_bounds(program)
    program = load_program(program)
    return _Module(program, class_name or _class_name(program), bounds).source()


def optimizer(program_or_name, class_name: str | None = None, bounds=None) -> type:
    """The ``torch.optim.Optimizer`` subclass of :func:`export_source`, built in a fresh module.

    The module is registered in ``sys.modules`` under a name derived from its source, so
    instances pickle and building the same program twice gives the same class.
    """
    if bounds is None:
        bounds = _library_bounds(program_or_name)
    program = load_program(program_or_name)
    name = class_name or _class_name(program)
    source = export_source(program, name, bounds)
    digest = hashlib.sha1(source.encode()).hexdigest()[:12]
    module_name = f"discover_exported_{program.name}_{digest}"
    module = sys.modules.get(module_name)
    if module is None:
        filename = f"<discover export {program.name}>"
        module = types.ModuleType(module_name, f"exported {program.name}")
        module.__file__ = filename
        exec_source(source, filename, module.__dict__)
        sys.modules[module_name] = module
    return getattr(module, name)


def write_export(program_or_name, path, class_name: str | None = None, bounds=None) -> Path:
    """Write :func:`export_source` to ``path`` (a ``.py`` file); returns the path."""
    source = export_source(program_or_name, class_name, bounds)
    path = Path(path)
    try:
        path.write_text(source)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path
