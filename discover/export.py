"""Export a program as a standalone ``torch.optim.Optimizer`` module (DESIGN.md section 3).

Use::

    Lion = optimizer("lion")                     # the class, built from the generated source
    opt = Lion(model.parameters(), lr=1e-4)
    write_export("lion", "lion_optimizer.py")    # the same source as a file
    Adam = optimizer("adam")                     # torch.optim.Adam's own keyword arguments
    opt = Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.99), amsgrad=True)

:func:`load_program` resolves a library name, a ``.py`` file or program source (the CLI's
``discover export NAME_OR_FILE``). The module imports only ``torch`` and ``math`` and holds, in
this order: the kernels it calls, copied verbatim from :mod:`primitives.kernels`; the step
functions of :func:`primitives.compile.compile_step` (``_scalars_<name>``,
``_single_tensor_<name>``, ``_multi_tensor_<name>``, and where needed ``_group_<name>`` and
``_state_shapes_<name>``), the very text :meth:`primitives.Executor.step_` runs; per program,
``_init_<name>`` (its state, created lazily) and ``_step_<name>`` (one step over a batch); and the
``Optimizer`` subclass: validated arguments, param groups, a per-parameter ``step`` count like
torch's (the program's ``t``), ``state_dict`` round trips through torch's base class,
``maximize`` (the step sees ``-grad``) and ``foreach=None`` choosing the foreach path for
CUDA/XPU tensors and the per-tensor path elsewhere (torch's heuristic; on a CPU the per-tensor
loop was the faster one in our measurements).

Two kinds of class:

- A library program whose entry has a reference :class:`~discover.library.base.Signature`
  (torch.optim's classes; :mod:`discover.library.signatures`) exports with that reference's
  keyword arguments, defaults and checks (``betas=(0.9, 0.999)``, ``amsgrad=False``,
  ``Invalid learning rate: -1.0``); every step maps a group's arguments onto the program's
  hyperparameters, and the reference's flags pick the program (``amsgrad=True`` runs
  ``amsgrad``), so all the programs a flag can pick are in the module. ``load_state_dict`` also
  takes the reference's state dicts (``exp_avg`` -> ``m``). ``signature=False`` gives the other
  kind for the same program.
- Any other program exports with its own hyperparameters as keyword arguments (and
  ``maximize``, ``foreach``), checked as data (:data:`HYPER_RULES`): every hyperparameter must
  be a finite number; a name rule applies only where the program's default obeys it, and a
  library entry's own ``bounds`` replace it where it does not fit (FTRL's ``beta``).

Choices:

- Speed and rounding: see :mod:`primitives.compile.planner` (fused kernels round differently from
  the reference's one op per statement, by a few ulp; a term whose factor is 0 at run time is
  skipped, as torch.optim skips ``weight_decay=0``).
- Inputs: ``loss`` comes from ``step(closure)`` (or ``step(loss=...)``); ``h`` (a Hessian-diagonal
  estimate) from ``step(hessian={param: tensor})``, else a ``param.hess`` attribute. A program
  that needs either and gets none raises a ``ValueError`` that says how to pass it. With
  ``maximize`` the program sees ``-grad``, ``-loss`` and ``-h`` (it minimises ``-f``).
- Parameters whose step counts differ (a parameter without a gradient skips a step) are stepped
  in batches of equal ``t``; group reductions then range over the batch.
- Program names that clash with names of the generated code (``torch``, ``p``, names with a
  leading or trailing underscore...) are renamed inside it; hyperparameter and state names, the
  public keyword arguments and state keys, are kept (a hyperparameter called ``params``,
  ``foreach`` or ``maximize``, or a state called ``step``, is an :class:`ExportError`).
"""

from __future__ import annotations

import hashlib
import inspect
import keyword
import string
import sys
import textwrap
import types
from pathlib import Path

from primitives import Program, to_source
from primitives.compile import CompileError, compile_step
from primitives.compile.render import indent as _indent, pack as _pack
from primitives.compile.shapes import FULL
from primitives.compile.step import exec_source
from primitives.kernels import kernel_source

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
_CLASH = {"params", "foreach", "maximize", "defaults", "self", "super", "dict", "closure",
          "hessian", "loss", "group"}
#: the class's own arguments where a reference signature lacks them
_EXTRA_ARGUMENTS = (("maximize", False), ("foreach", None))


# --------------------------------------------------------------------------------------------
# the module

#: the start of every exported module ($-placeholders filled by _Module.source)
_HEAD = string.Template('''$docstring

import math

import torch

__all__ = ["$cls"]
$shape_cache''')

#: the generic class: every hyperparameter a finite number within its bounds
_GENERIC = string.Template('''
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


def _check(group):
    """Every hyperparameter of a group (or of the defaults) within its bounds."""
    for name in _BOUNDS:
        _check_hyperparameter(name, group[name])


def _program(group, dtype):
    """The program every group runs, with its hyperparameters: the group's own values."""
    return "$name", group''')

#: a reference signature: its checks, its choice of program, its state dicts
_SIGNATURE = string.Template('''
#: $reference's keyword arguments and defaults
_ARGUMENTS = $arguments
#: $reference's state keys -> the programs' states they load into (load_state_dict renames them)
_REFERENCE_STATE = $state
#: reference state keys that follow from the others (dropped on loading)
_DERIVED_STATE = $derived
#: the state keys the programs keep; a loaded state dict with others is refused
_STATE_KEYS = $keys


$functions


def _check(group):
    """The reference's checks on a group (or the defaults), then the options this class does
    not implement and the choice of program (a flag combination no program runs)."""
    $arguments_fn(**{k: group[k] for k in _ARGUMENTS})
    if group.get("differentiable"):
        raise ValueError("$cls does not support differentiable=True: its compiled step updates "
                         "the state in place")
    if group.get("capturable"):
        raise ValueError("$cls does not support capturable=True: its step counts are Python "
                         "numbers on the host")
    $program_fn(group, torch.get_default_dtype())


def _renamed(saved):
    """One parameter's saved state with the reference's keys renamed (a key that loads into
    several states, as Adafactor's ``variance`` into ``r`` and ``c``, is copied for each)."""
    out = {}
    for k, v in saved.items():
        if k not in _DERIVED_STATE:
            for i, target in enumerate(_REFERENCE_STATE.get(k, (k,))):
                out[target] = v.clone() if i and isinstance(v, torch.Tensor) else v
    return out


def _from_reference(state_dict):
    """``state_dict`` (this class's or the reference's) with the reference's state keys
    renamed, tensor step counts as ints, and a step count of 1 where the reference keeps none."""
    state = {}
    for key, saved in state_dict["state"].items():
        saved = _renamed(saved)
        unknown = sorted(set(saved) - _STATE_KEYS)
        if unknown:
            raise ValueError(f"$cls cannot load the state {unknown}: it keeps "
                             f"{sorted(_STATE_KEYS)} (from $reference: "
                             f"{sorted(_REFERENCE_STATE)})")
        step = saved.get("step")
        if isinstance(step, torch.Tensor):
            saved["step"] = int(step.item())
        elif step is None and saved:  # SGD and Muon count no steps: a buffer means one was taken
            saved["step"] = 1
        state[key] = saved
    return {**state_dict, "state": state}''')

_DEFAULT_FOREACH = '''def _default_foreach(params):
    """torch's choice: foreach kernels for plain CUDA/XPU tensors, else the per-tensor loop."""
    return all(type(p) in (torch.Tensor, torch.nn.Parameter) and p.device.type in ("cuda", "xpu")
               for p in params)'''

#: per program: its state, created lazily, and one step over a batch of parameters
_RUN = string.Template('''def _init_$name(p, state, hyper):
    """The state ``$name`` reads, where ``state`` lacks it: zeros, or its start values."""
$init


def _step_$name(params, grads, states, t, hyper, foreach, loss=None, h=None):
    """One step of ``$name`` over parameters at step count ``t`` (their state), in place."""
$body''')

#: the optimizer class
_CLASS = string.Template('''class $cls(torch.optim.Optimizer):
    """$summary

$origin

    Args:
        params: parameters to optimize, or dicts defining parameter groups.
$args_doc

    $state_doc$inputs_doc
    """

    $init
        $defaults
        _check(defaults)
        super().__init__(params, defaults)

    def add_param_group(self, param_group):
        super().add_param_group(param_group)
        _check(self.param_groups[-1])$check_params

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
$setdefaults
$load_state_dict
    def _batches(self, group):
        """The parameters with a gradient by step count t (one batch unless some skipped steps)."""
        batches = {}
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise RuntimeError("$cls does not support sparse gradients")
            state = self.state[p]
            state["step"] = state.get("step", 0) + 1
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
                name, hyper = $select(group, params[0].dtype)
                keys, init, run = _PROGRAMS[name]
                states = [self.state[p] for p in params]
                for p, state in zip(params, states):
                    if not keys <= state.keys():
                        init(p, state, hyper)
$run
        return loss
''')

_LOAD_STATE_DICT = string.Template('''
    def load_state_dict(self, state_dict):
$doc
        super().load_state_dict(_from_reference(state_dict))
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


def _summary(program: Program) -> str:
    return (program.doc.strip().splitlines() or [f"the program {program.name}"])[0]


class _Module:
    """Writes the optimizer module for one program (and, with a reference ``signature``, the
    other programs its flags pick: ``variants``, name -> program)."""

    def __init__(self, program: Program, class_name: str, bounds=None, signature=None,
                 variants=None):
        self.bounds = dict(bounds or {})
        unknown = set(self.bounds) - set(program.hyperparameters)
        if unknown:
            raise ExportError(f"{program.name}: bounds for unknown hyperparameter(s) "
                              f"{sorted(unknown)}")
        if not class_name.isidentifier() or keyword.iskeyword(class_name):
            raise ExportError(f"class name {class_name!r} is not a Python identifier")
        self.program, self.cls_name, self.name = program, class_name, program.name
        self.signature = signature
        self.programs = dict(variants) if signature is not None else {program.name: program}
        self.programs.setdefault(program.name, program)
        for prog in self.programs.values():
            self._check_names(prog, generic=signature is None)
        try:
            self.steps = {name: compile_step(prog) for name, prog in self.programs.items()}
        except CompileError as exc:
            raise ExportError(str(exc)) from None
        if sum(s.meta_shapes for s in self.steps.values()) > 1:
            raise ExportError(f"{program.name}: more than one program with state shapes of "
                              "their own (they would share one shape cache)")
        self.meta_shapes = any(s.meta_shapes for s in self.steps.values())
        self.inputs = {i for s in self.steps.values() for i in s.ir.inputs.values()}

    @staticmethod
    def _check_names(program, generic):
        for p in program.params:
            if generic and p.role == "hyper" and (p.name in _CLASH or p.name.startswith("_")):
                raise ExportError(f"{program.name}: hyperparameter {p.name!r} clashes with the "
                                  "optimizer's own arguments; rename it")
            if p.role == "state" and p.name == "step":
                raise ExportError(f"{program.name}: a state named 'step' clashes with the step "
                                  "counter; rename it")

    # ---- the arguments ---------------------------------------------------------------------

    def _arguments(self) -> list[tuple[str, object, bool]]:
        """``(name, default, keyword_only)`` of the class's arguments after ``params``."""
        if self.signature is None:
            hypers = [(p.name, p.default, False) for p in self.steps[self.name].ir.hypers.values()]
            return hypers + [(n, d, True) for n, d in _EXTRA_ARGUMENTS]
        params = self.signature.parameters
        args = [(n, p.default, p.kind == inspect.Parameter.KEYWORD_ONLY)
                for n, p in params.items()]
        return args + [(n, d, True) for n, d in _EXTRA_ARGUMENTS if n not in params]

    def _args_doc(self) -> str:
        if self.signature is None:
            lines = [f"{p.name}: default {p.default!r}; "
                     f"{_bounds_text(_bounds(p.name, p.default, self.bounds))}."
                     for p in self.steps[self.name].ir.hypers.values()]
        else:
            lines = [f"{name}: default {default!r}." for name, default, _ in self._arguments()
                     if name not in ("maximize", "foreach")]
        lines += ["maximize: maximise the objective (the program sees -grad).",
                  "foreach: use the torch._foreach_* path; None (default) picks it for CUDA/XPU "
                  "tensors."]
        return "\n".join(textwrap.fill(ln, 95, initial_indent=" " * 8,
                                       subsequent_indent=" " * 12) for ln in lines)

    def _checks(self) -> str:
        """The module-level ``_check`` and ``_program`` (and the signature's tables)."""
        if self.signature is None:
            bounds = _pack("_BOUNDS = {", [f'"{p.name}": {_bounds(p.name, p.default, self.bounds)!r}'
                                           for p in self.steps[self.name].ir.hypers.values()], "}")
            return _GENERIC.substitute(bounds=bounds, name=self.name)
        sig = self.signature
        functions = [*sig.helpers, sig.arguments, sig.program] + (
            [sig.parameter] if sig.parameter else [])
        keys = {"step"} | {p.name for s in self.steps.values() for p in s.ir.states.values()}
        return _SIGNATURE.substitute(
            reference=sig.reference, cls=self.cls_name,
            arguments=_pack("{", [f'"{n}": {p.default!r}' for n, p in sig.parameters.items()],
                            "}", 13),
            state=_pack("{", [f'"{ref}": {targets!r}'.replace("'", '"')
                              for ref, targets in self._reference_state().items()], "}", 19),
            derived=repr(frozenset(sig.derived)) if sig.derived else "frozenset()",
            keys=_pack("frozenset({", [f'"{k}"' for k in sorted(keys)], "})", 13),
            functions="\n\n\n".join(inspect.getsource(f).rstrip("\n") for f in functions),
            arguments_fn=sig.arguments.__name__, program_fn=sig.program.__name__)

    def _reference_state(self) -> dict[str, tuple[str, ...]]:
        """Reference state key -> the program states it loads into."""
        out: dict[str, tuple[str, ...]] = {}
        for ours, ref in self.signature.state:
            out[ref] = out.get(ref, ()) + (ours,)
        return out

    # ---- per program -------------------------------------------------------------------------

    def _state_init(self, step, s, p) -> str:
        """The line creating state ``p`` (zeros, or its start value) in ``_init_<name>``."""
        key, cls = f'state["{p.name}"]', step.ir.state_cls[s]
        if p.init == "w":
            return f"{key} = p.detach().clone(memory_format=torch.preserve_format)"
        value = f'float(hyper["{p.init}"])' if isinstance(p.init, str) else repr(float(p.init or 0))
        if cls == FULL and value == "0.0":
            return f"{key} = torch.zeros_like(p, memory_format=torch.preserve_format)"
        if cls == FULL:
            return f"{key} = torch.full_like(p, {value}, memory_format=torch.preserve_format)"
        shape = "()" if cls is None else f'shapes["{p.name}"]'
        return f"{key} = torch.full({shape}, {value}, dtype=p.dtype, device=p.device)"

    def _run(self, name) -> str:
        """``_init_<name>`` and ``_step_<name>`` for one program."""
        step = self.steps[name]
        ir = step.ir
        init = [f"shapes = _state_shapes_{name}(p)"] if step.meta_shapes else []
        for s, p in ir.states.items():
            init += [f'if "{p.name}" not in state:', "    " + self._state_init(step, s, p)]
        args = [f'{i}=hyper["{ir.hypers[i].name}"]' if i in ir.hypers else f"{i}={ir.inputs[i]}"
                for i in step.host_inputs]
        body = [_pack(f"scalars = _scalars_{name}(", args, ")", 4)]
        body.append("tensors = [params, grads]")
        if ir.states:
            body.append(_pack("tensors += [[s[key] for s in states] for key in (",
                              [f'"{p.name}"' for p in ir.states.values()], ",)]", 4))
        if step.tensor_inputs:
            body.append("tensors.append(h)")
        body += ["if foreach:", f"    _multi_tensor_{name}(*tensors, **scalars)", "else:"]
        extra = ""
        if step.group_outputs:
            body.append(f"    reduced = _group_{name}(*tensors, **scalars)")
            extra = ", **reduced"
        body += ["    for args in zip(*tensors):",
                 f"        _single_tensor_{name}(*args, **scalars{extra})"]
        return _RUN.substitute(name=name, init="\n".join(_indent(init or ["pass"])),
                               body="\n".join(_indent(body)))

    # ---- the class -----------------------------------------------------------------------

    def _step_lines(self, uses_loss, uses_h):
        """The loss handling and the per-batch dispatch of ``step``."""
        cls = self.cls_name
        loss = [] if uses_loss else ["loss = None"]
        loss += ["if closure is not None:", "    with torch.enable_grad():",
                 "        loss = closure()"]
        if uses_loss:
            loss += ["if loss is None:",
                     f'    raise ValueError("{cls} reads the loss: call step(closure) with a '
                     'closure that returns it, or step(loss=loss)")']
        run = ["grads = [p.grad for p in params]"]
        run += ["h = self._hessian(params, hessian)"] if uses_h else []
        run += ["f = loss"] if uses_loss else []
        run += ['if group["maximize"]:  # minimise -f: the program sees -grad (and -loss, -h)',
                "    grads = torch._foreach_neg(grads)"]
        run += ["    h = torch._foreach_neg(h)"] if uses_h else []
        run += ["    f = -loss"] if uses_loss else []
        inputs = (", loss=f" if uses_loss else "") + (", h=h" if uses_h else "")
        run.append(f"run(params, grads, states, t, hyper, foreach{inputs})")
        return "\n".join(_indent(loss, 2)), "\n".join(_indent(run, 4))

    def _state_doc(self) -> str:
        seen = {}
        for step in self.steps.values():
            for s, p in step.ir.states.items():
                seen.setdefault(p.name, _STATE_DOC.get(step.ir.state_cls[s],
                                                       "its shape set at step 1"))
        text = "State per parameter: ``step`` (steps taken, the program's ``t``)" + \
            "".join(f", ``{n}`` ({doc})" for n, doc in seen.items()) + "."
        return textwrap.fill(text, 95, subsequent_indent="    ")

    def _class(self) -> str:
        cls, sig = self.cls_name, self.signature
        uses_loss, uses_h = "loss" in self.inputs, "h" in self.inputs
        inputs_doc = ""
        if uses_loss:
            inputs_doc += ("\n\n    The program reads the loss: call ``step(closure)`` with a "
                           "closure that returns it,\n    or ``step(loss=loss)``.")
        if uses_h:
            inputs_doc += ("\n\n    The program reads a Hessian-diagonal estimate ``h``: call "
                           "``step(hessian={param: tensor})``\n    or set ``param.hess``.")
        loss, run = self._step_lines(uses_loss, uses_h)
        args = self._arguments()
        positional = [f"{n}={d!r}" for n, d, kw in args if not kw]
        keyword_only = [f"{n}={d!r}" for n, d, kw in args if kw]
        setdefaults = [f'group.setdefault("{n}", {d!r})' for n, d, _ in args]
        if sig is None:
            origin = f"Generated by `discover export` from the program ``{self.name}``."
        else:
            origin = (f"Generated by `discover export` from the programs "
                      f"{', '.join(f'``{n}``' for n in self.programs)}, with the keyword "
                      f"arguments, defaults and checks of {sig.reference}; its flags pick the "
                      f"program: {inspect.getdoc(sig.program)} ``fused`` runs the same compiled "
                      "step; ``differentiable`` and ``capturable`` must be False.")
        origin += " See the module docstring."
        renames = ", ".join(f"{ref} -> {' and '.join(ours)}"
                            for ref, ours in self._reference_state().items()) if sig else ""
        load_doc = textwrap.fill(
            f"Load a state dict of this class or of {sig.reference}, whose state keys are "
            f"renamed ({renames or 'none'}) and whose tensor step counts become ints: a run "
            f"switches from {sig.reference} mid-training and continues as it would have.",
            91, initial_indent='        """', subsequent_indent=" " * 8) + '"""' if sig else ""
        return _CLASS.substitute(
            cls=cls, summary=_summary(self.program),
            origin=textwrap.fill(origin, 95, initial_indent="    ", subsequent_indent="    "),
            args_doc=self._args_doc(), state_doc=self._state_doc(), inputs_doc=inputs_doc,
            init=_pack("def __init__(", ["self", "params"] + positional +
                       (["*"] + keyword_only if keyword_only else []), "):", 4),
            defaults=_pack("defaults = dict(", [f"{n}={n}" for n, _, _ in args], ")", 8),
            check_params=("\n        for p in self.param_groups[-1][\"params\"]:\n"
                          f"            {sig.parameter.__name__}(p)"
                          if sig is not None and sig.parameter else ""),
            setdefaults="\n".join(_indent(setdefaults, 3)),
            load_state_dict=_LOAD_STATE_DICT.substitute(doc=load_doc) if sig else "",
            hessian_method=_HESSIAN.substitute(cls=cls) if uses_h else "",
            step_kw=(", *" if uses_loss or uses_h else "") + (", loss=None" if uses_loss else "") +
            (", hessian=None" if uses_h else ""),
            loss=loss, run=run, select="_program" if sig is None else sig.program.__name__)

    # ---- putting it together -------------------------------------------------------------

    def _docstring(self) -> str:
        prog, cls = self.program, self.cls_name
        summary = _summary(prog)
        head = summary if summary.startswith(f"{cls}:") else f"{cls}: {summary}"
        what = "The program" if len(self.programs) == 1 else \
            f"The programs, one picked by the flags of {self.signature.reference}"
        text = [head, ""] + textwrap.wrap(
            f"Generated by `discover export`; this module needs only torch. {what} (the weight "
            "becomes w - update, the state comes back in argument order):", 95) + [""]
        for p in self.programs.values():
            bare = Program(p.name, p.params, p.body, p.returns, "")
            text += _indent(to_source(bare).splitlines()) + [""]
        if prog.doc.strip():
            text += ["The update rule:", ""] + _indent(prog.doc.strip().splitlines()) + [""]
        kwargs = [f"{n}={d!r}" for n, d, kw in self._arguments() if not kw]
        text += ["Usage::", "", "    " + _pack(f"opt = {cls}(", ["model.parameters()"] + kwargs,
                                               ")", 4),
                 "    loss = loss_fn(model(x), y); loss.backward(); opt.step(); opt.zero_grad()"]
        body = "\n".join(text).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
        return f'"""{body}\n"""'

    def source(self) -> str:
        cache = ("\n#: parameter shape -> state shapes (see _state_shapes_*)\n_SHAPES = {}\n"
                 if self.meta_shapes else "")
        head = _HEAD.substitute(docstring=self._docstring(), cls=self.cls_name,
                                shape_cache=cache)
        kernels = sorted({k for s in self.steps.values() for k in s.kernels})
        rows = []
        for n, s in self.steps.items():
            keys = ", ".join(f'"{p.name}"' for p in s.ir.states.values())
            rows.append(f'"{n}": (frozenset({{{keys}}}), _init_{n}, _step_{n})')
        table = _pack("_PROGRAMS = {", rows, "}")
        parts = [head.rstrip("\n") + "\n" + self._checks(), _DEFAULT_FOREACH,
                 kernel_source(kernels).rstrip("\n")]
        parts += [s.functions.rstrip("\n") for s in self.steps.values()]
        parts += [self._run(n) for n in self.steps]
        parts += ["#: program name -> (its state keys, _init_<name>, _step_<name>)\n" + table,
                  self._class().rstrip("\n")]
        return "\n\n\n".join(parts) + "\n"


# --------------------------------------------------------------------------------------------
# public API


def _library_entry(program: Program):
    """The library entry whose program ``program`` is (same name, same program), else None."""
    from .library import REGISTRY  # noqa: PLC0415 - the library is loaded only when exporting

    entry = REGISTRY.get(program.name)
    return entry if entry is not None and entry.program == program else None


def _module(program_or_name, class_name, bounds, signature) -> _Module:
    program = load_program(program_or_name)
    entry = _library_entry(program)
    if bounds is None:
        bounds = dict(entry.bounds) if entry is not None else {}
    sig = entry.signature if signature and entry is not None else None
    variants = None
    if sig is not None:
        from .library import REGISTRY  # noqa: PLC0415 - loaded above by _library_entry

        variants = {n: REGISTRY[n].program for n in sig.programs}
    return _Module(program, class_name or _class_name(program), bounds, sig, variants)


def export_source(program, class_name: str | None = None, bounds=None,
                  signature: bool = True) -> str:
    """The source of a standalone module defining an optimizer class that runs ``program``.

    ``program``: a :class:`Program` (or anything :func:`load_program` takes); ``class_name``:
    the class's name (default: the program's name as its docstring spells it, ``AdamW: ...``
    -> ``AdamW``, else in CamelCase, ``sgd_momentum`` -> ``SgdMomentum``); ``bounds``:
    hyperparameter -> ``(low, high)`` (None: unbounded) where the name rules of
    :data:`HYPER_RULES` do not fit (a library program brings its entry's own); ``signature``:
    a library program whose entry has a reference signature (torch.optim's classes) takes that
    reference's keyword arguments; False: the program's own hyperparameters.

    >>> source = export_source("adam")
    >>> "betas=(0.9, 0.999)" in source and "amsgrad=False" in source
    True
    >>> "beta1=0.9, beta2=0.999" in export_source("adam", signature=False)
    True
    """
    return _module(program, class_name, bounds, signature).source()


def optimizer(program_or_name, class_name: str | None = None, bounds=None,
              signature: bool = True) -> type:
    """The ``torch.optim.Optimizer`` subclass of :func:`export_source`, built in a fresh module.

    The module is registered in ``sys.modules`` under a name derived from its source, so
    instances pickle and building the same program twice gives the same class.

    >>> import torch
    >>> SGD = optimizer("sgd")
    >>> w = torch.nn.Parameter(torch.ones(2))
    >>> opt = SGD([w], lr=0.1, momentum=0.9, nesterov=True)
    >>> SGD([w], lr=-1.0)
    Traceback (most recent call last):
        ...
    ValueError: Invalid learning rate: -1.0
    """
    module = _module(program_or_name, class_name, bounds, signature)
    source = module.source()
    name, program = module.cls_name, module.program
    digest = hashlib.sha1(source.encode()).hexdigest()[:12]
    module_name = f"discover_exported_{program.name}_{digest}"
    loaded = sys.modules.get(module_name)
    if loaded is None:
        filename = f"<discover export {program.name}>"
        loaded = types.ModuleType(module_name, f"exported {program.name}")
        loaded.__file__ = filename
        exec_source(source, filename, loaded.__dict__)
        sys.modules[module_name] = loaded
    return getattr(loaded, name)


def write_export(program_or_name, path, class_name: str | None = None, bounds=None,
                 signature: bool = True) -> Path:
    """Write :func:`export_source` to ``path`` (a ``.py`` file); returns the path."""
    source = export_source(program_or_name, class_name, bounds, signature)
    path = Path(path)
    try:
        path.write_text(source)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path
