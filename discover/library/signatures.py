"""The constructors of torch.optim's classes, so that a library program's class drops into code
written for them (issue 14): ``Adam(params, lr=1e-3, betas=(0.9, 0.999), amsgrad=True)``.

A :class:`~discover.library.base.Signature` is three small functions and two tables:

- ``<class>_arguments(lr=..., betas=..., ...)``: the reference's keyword arguments, in its order
  and with its defaults (the exported ``__init__`` takes exactly these), and in its body the
  reference's checks with its messages (``Invalid learning rate: -1.0``); it runs on the
  defaults and on every param group;
- ``<class>_program(group, dtype)``: the library program a param group runs and that program's
  hyperparameters, read from the group's arguments every step (so LR schedulers, and
  OneCycleLR's cycling of ``betas`` or ``momentum``, act at once). Where the reference has a flag
  that the library writes as another program (Adam's ``amsgrad``, RMSprop's ``centered`` and
  ``momentum > 0``, SGD's ``nesterov`` is a 0/1 hyperparameter instead), this picks it as the
  reference's own branch does; a combination no program covers is a ``ValueError`` that says so;
- ``state``: program state -> the reference's state key, so that ``load_state_dict`` takes the
  reference's state dicts (``exp_avg`` -> ``m``) and a user switches mid-training.

The functions are copied verbatim into the exported module (as the kernels of
:mod:`primitives.kernels` are), so they use only ``torch``, ``math`` and builtins, and each is
whole on its own. The ``maximize``, ``foreach`` and ``fused`` arguments are the class's, not a
program's: ``maximize`` steps on ``-grad`` (as torch does), ``foreach`` picks the compiled step's
foreach path, ``fused`` is accepted and runs the same compiled step; ``differentiable=True`` and
``capturable=True`` are refused by the class (its step updates state in place, with host-side
step counts).
"""

from __future__ import annotations

import torch

from .base import Signature

__all__ = ["SGD", "ADAM", "ADAMW", "RMSPROP", "ADAGRAD", "ADADELTA", "ADAMAX", "NADAM", "RADAM",
           "RPROP", "ASGD", "ADAFACTOR", "MUON"]

#: Adam-family state keys of torch.optim
_ADAM_STATE = (("m", "exp_avg"), ("v", "exp_avg_sq"))


# ---- SGD --------------------------------------------------------------------------------------


def sgd_arguments(lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                  maximize=False, foreach=None, differentiable=False, fused=None):
    """torch.optim.SGD's arguments and checks."""
    if isinstance(lr, torch.Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if lr < 0.0:
        raise ValueError(f"Invalid learning rate: {lr}")
    if momentum < 0.0:
        raise ValueError(f"Invalid momentum value: {momentum}")
    if weight_decay < 0.0:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("Nesterov momentum requires a momentum and zero dampening")
    if fused and differentiable:
        raise RuntimeError("`fused` does not support `differentiable`")
    if fused and foreach:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


def sgd_program(group, dtype):
    """``sgd``: nesterov is its 0/1 hyperparameter."""
    return "sgd", {"lr": group["lr"], "momentum": group["momentum"],
                   "dampening": group["dampening"], "weight_decay": group["weight_decay"],
                   "nesterov": 1.0 if group["nesterov"] else 0.0}


#: torch keeps no step count for SGD; its momentum buffer is the program's ``buf``
SGD = Signature("torch.optim.SGD", sgd_arguments, sgd_program, ("sgd",),
                state=(("buf", "momentum_buffer"),))


# ---- Adam, AdamW ------------------------------------------------------------------------------


def check_adam_arguments(lr, betas, eps, weight_decay, foreach, differentiable, fused):
    """The checks torch.optim.Adam and AdamW share, with their messages."""
    if isinstance(lr, torch.Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")
    if not (all(isinstance(b, float) for b in betas) or
            all(isinstance(b, torch.Tensor) for b in betas)):
        raise ValueError("betas must be either both floats or both Tensors")
    for i, b in enumerate(betas):
        if isinstance(b, torch.Tensor) and b.numel() != 1:
            raise ValueError(f"Tensor betas[{i}] must be 1-element")
    if fused and differentiable:
        raise RuntimeError("`fused` does not support `differentiable`")
    if fused and foreach:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


def adam_arguments(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                   foreach=None, maximize=False, capturable=False, differentiable=False,
                   fused=None, decoupled_weight_decay=False):
    """torch.optim.Adam's arguments and checks."""
    check_adam_arguments(lr, betas, eps, weight_decay, foreach, differentiable, fused)


def adam_program(group, dtype):
    """``adam``; ``amsgrad`` with amsgrad=True; ``adamw`` with decoupled_weight_decay=True."""
    beta1, beta2 = group["betas"]
    hyper = {"lr": group["lr"], "beta1": beta1, "beta2": beta2, "eps": group["eps"],
             "weight_decay": group["weight_decay"]}
    if group["amsgrad"] and group["decoupled_weight_decay"]:
        raise ValueError("amsgrad=True with decoupled weight decay (AdamW) is not in the "
                         "library: no program runs it; use amsgrad=False or torch.optim")
    if group["amsgrad"]:
        return "amsgrad", hyper
    return ("adamw" if group["decoupled_weight_decay"] else "adam"), hyper


ADAM = Signature("torch.optim.Adam", adam_arguments, adam_program, ("adam", "amsgrad", "adamw"),
                 state=_ADAM_STATE + (("vmax", "max_exp_avg_sq"),),
                 helpers=(check_adam_arguments,))


def adamw_arguments(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                    maximize=False, foreach=None, capturable=False, differentiable=False,
                    fused=None):
    """torch.optim.AdamW's arguments and checks (Adam's)."""
    check_adam_arguments(lr, betas, eps, weight_decay, foreach, differentiable, fused)


def adamw_program(group, dtype):
    """``adamw``; amsgrad=True has no program (AMSGrad with decoupled decay)."""
    if group["amsgrad"]:
        raise ValueError("AdamW(amsgrad=True) is not in the library: no program runs it; use "
                         "amsgrad=False or torch.optim.AdamW")
    beta1, beta2 = group["betas"]
    return "adamw", {"lr": group["lr"], "beta1": beta1, "beta2": beta2, "eps": group["eps"],
                     "weight_decay": group["weight_decay"]}


ADAMW = Signature("torch.optim.AdamW", adamw_arguments, adamw_program, ("adamw",),
                  state=_ADAM_STATE + (("vmax", "max_exp_avg_sq"),),
                  helpers=(check_adam_arguments,))


# ---- RMSprop, Adagrad, Adadelta ---------------------------------------------------------------


def rmsprop_arguments(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                      capturable=False, foreach=None, maximize=False, differentiable=False):
    """torch.optim.RMSprop's arguments and checks."""
    if isinstance(lr, torch.Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= momentum:
        raise ValueError(f"Invalid momentum value: {momentum}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")
    if not 0.0 <= alpha:
        raise ValueError(f"Invalid alpha value: {alpha}")


def rmsprop_program(group, dtype):
    """``rmsprop``; ``rmsprop_centered`` with centered=True; ``rmsprop_momentum`` with
    momentum > 0 (both at once have no program)."""
    hyper = {"lr": group["lr"], "alpha": group["alpha"], "eps": group["eps"],
             "weight_decay": group["weight_decay"]}
    if group["centered"] and group["momentum"] > 0:
        raise ValueError("RMSprop(centered=True, momentum>0) is not in the library: no program "
                         "runs it; use one of the two or torch.optim.RMSprop")
    if group["centered"]:
        return "rmsprop_centered", hyper
    if group["momentum"] > 0:
        return "rmsprop_momentum", {**hyper, "momentum": group["momentum"]}
    return "rmsprop", hyper


RMSPROP = Signature("torch.optim.RMSprop", rmsprop_arguments, rmsprop_program,
                    ("rmsprop", "rmsprop_centered", "rmsprop_momentum"),
                    state=(("v", "square_avg"), ("mg", "grad_avg"), ("buf", "momentum_buffer")))


def adagrad_arguments(lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                      eps=1e-10, foreach=None, *, maximize=False, differentiable=False,
                      fused=None):
    """torch.optim.Adagrad's arguments and checks."""
    if isinstance(lr, torch.Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= lr_decay:
        raise ValueError(f"Invalid lr_decay value: {lr_decay}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")
    if not 0.0 <= initial_accumulator_value:
        raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if fused and differentiable:
        raise RuntimeError("`fused` does not support `differentiable`")
    if fused and foreach:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


def adagrad_program(group, dtype):
    """``adagrad``."""
    return "adagrad", {k: group[k] for k in ("lr", "lr_decay", "weight_decay",
                                             "initial_accumulator_value", "eps")}


ADAGRAD = Signature("torch.optim.Adagrad", adagrad_arguments, adagrad_program, ("adagrad",),
                    state=(("acc", "sum"),))


def adadelta_arguments(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                       capturable=False, maximize=False, differentiable=False):
    """torch.optim.Adadelta's arguments and checks."""
    if isinstance(lr, torch.Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= rho <= 1.0:
        raise ValueError(f"Invalid rho value: {rho}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


def adadelta_program(group, dtype):
    """``adadelta``."""
    return "adadelta", {k: group[k] for k in ("lr", "rho", "eps", "weight_decay")}


ADADELTA = Signature("torch.optim.Adadelta", adadelta_arguments, adadelta_program,
                     ("adadelta",), state=(("v", "square_avg"), ("u", "acc_delta")))


# ---- Adamax, NAdam, RAdam ---------------------------------------------------------------------


def adamax_arguments(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                     maximize=False, differentiable=False, capturable=False):
    """torch.optim.Adamax's arguments and checks."""
    if isinstance(lr, torch.Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


def adamax_program(group, dtype):
    """``adamax``."""
    beta1, beta2 = group["betas"]
    return "adamax", {"lr": group["lr"], "beta1": beta1, "beta2": beta2, "eps": group["eps"],
                      "weight_decay": group["weight_decay"]}


ADAMAX = Signature("torch.optim.Adamax", adamax_arguments, adamax_program, ("adamax",),
                   state=(("m", "exp_avg"), ("u", "exp_inf")))


def nadam_arguments(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                    decoupled_weight_decay=False, *, foreach=None, maximize=False,
                    capturable=False, differentiable=False):
    """torch.optim.NAdam's arguments and checks."""
    if isinstance(lr, torch.Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")
    if not 0.0 <= momentum_decay:
        raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")


def nadam_program(group, dtype):
    """``nadam``: decoupled_weight_decay is its 0/1 hyperparameter."""
    beta1, beta2 = group["betas"]
    return "nadam", {"lr": group["lr"], "beta1": beta1, "beta2": beta2, "eps": group["eps"],
                     "weight_decay": group["weight_decay"],
                     "momentum_decay": group["momentum_decay"],
                     "decoupled_weight_decay": 1.0 if group["decoupled_weight_decay"] else 0.0}


NADAM = Signature("torch.optim.NAdam", nadam_arguments, nadam_program, ("nadam",),
                  state=_ADAM_STATE + (("mu_product", "mu_product"),))


def radam_arguments(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                    decoupled_weight_decay=False, *, foreach=None, maximize=False,
                    capturable=False, differentiable=False):
    """torch.optim.RAdam's arguments and checks."""
    if isinstance(lr, torch.Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


def radam_program(group, dtype):
    """``radam``: decoupled_weight_decay is its 0/1 hyperparameter."""
    beta1, beta2 = group["betas"]
    return "radam", {"lr": group["lr"], "beta1": beta1, "beta2": beta2, "eps": group["eps"],
                     "weight_decay": group["weight_decay"],
                     "decoupled_weight_decay": 1.0 if group["decoupled_weight_decay"] else 0.0}


RADAM = Signature("torch.optim.RAdam", radam_arguments, radam_program, ("radam",),
                  state=_ADAM_STATE)


# ---- Rprop, ASGD ------------------------------------------------------------------------------


def rprop_arguments(lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False,
                    foreach=None, maximize=False, differentiable=False):
    """torch.optim.Rprop's arguments and checks."""
    if isinstance(lr, torch.Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 < etas[0] < 1.0 < etas[1]:
        raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")


def rprop_program(group, dtype):
    """``rprop``: etas are (etaminus, etaplus), step_sizes (step_size_min, step_size_max)."""
    etaminus, etaplus = group["etas"]
    step_size_min, step_size_max = group["step_sizes"]
    return "rprop", {"lr": group["lr"], "etaminus": etaminus, "etaplus": etaplus,
                     "step_size_min": step_size_min, "step_size_max": step_size_max}


RPROP = Signature("torch.optim.Rprop", rprop_arguments, rprop_program, ("rprop",),
                  state=(("prev", "prev"), ("step_size", "step_size")))


def asgd_arguments(lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None,
                   maximize=False, differentiable=False, capturable=False):
    """torch.optim.ASGD's arguments and checks."""
    if isinstance(lr, torch.Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


def asgd_program(group, dtype):
    """``asgd``."""
    return "asgd", {k: group[k] for k in ("lr", "lambd", "alpha", "t0", "weight_decay")}


#: torch's ``eta`` and ``mu`` follow from the step count; the program recomputes them
ASGD = Signature("torch.optim.ASGD", asgd_arguments, asgd_program, ("asgd",),
                 state=(("ax", "ax"),), derived=("eta", "mu"))


# ---- Adafactor, Muon --------------------------------------------------------------------------


def adafactor_arguments(lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
                        foreach=None, maximize=False):
    """torch.optim.Adafactor's arguments and checks."""
    if isinstance(lr, torch.Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
    if not 0.0 >= beta2_decay:
        raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
    if eps[0] is not None and not 0.0 <= eps[0]:
        raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
    if not 0.0 <= eps[1]:
        raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
    if not 1.0 <= d:
        raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")


def adafactor_program(group, dtype):
    """``adafactor``: eps is (eps1, eps2); eps1=None is the machine epsilon of the parameters'
    dtype, as torch takes it."""
    eps1, eps2 = group["eps"]
    return "adafactor", {"lr": group["lr"], "beta2_decay": group["beta2_decay"],
                         "eps1": torch.finfo(dtype).eps if eps1 is None else eps1,
                         "eps2": eps2, "d": group["d"], "weight_decay": group["weight_decay"]}


#: torch keeps a vector's second moment as ``variance``; the program's ``c`` duplicates ``r`` there
ADAFACTOR = Signature("torch.optim.Adafactor", adafactor_arguments, adafactor_program,
                      ("adafactor",), state=(("r", "row_var"), ("c", "col_var"),
                                             ("r", "variance"), ("c", "variance")))


def muon_arguments(lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                   ns_coefficients=(3.4445, -4.775, 2.0315), eps=1e-7, ns_steps=5,
                   adjust_lr_fn=None):
    """torch.optim.Muon's arguments and checks; the library's newton_schulz op has torch's
    default coefficients and eps built in, and its scale is the "original" adjust_lr_fn."""
    if isinstance(lr, torch.Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
    if not 0.0 <= momentum:
        raise ValueError(f"momentum should be >= 0 but is: {momentum}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
    if adjust_lr_fn is not None and adjust_lr_fn not in ["original", "match_rms_adamw"]:
        raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
    if adjust_lr_fn == "match_rms_adamw":
        raise ValueError("adjust_lr_fn='match_rms_adamw' is not in the library: the muon "
                         "program scales by sqrt(max(1, rows / cols)) ('original')")
    if tuple(ns_coefficients) != (3.4445, -4.775, 2.0315) or eps != 1e-7:
        raise ValueError("the muon program's Newton-Schulz has torch's default ns_coefficients "
                         "(3.4445, -4.775, 2.0315) and eps 1e-07 built in; other values are "
                         "not supported")


def muon_parameter(p):
    """torch.optim.Muon's check of each parameter."""
    if p.ndim != 2:
        raise ValueError(f"Muon only supports 2D parameters whereas we found a parameter with "
                         f"size: {p.size()}")


def muon_program(group, dtype):
    """``muon``: nesterov is its 0/1 hyperparameter."""
    return "muon", {"lr": group["lr"], "weight_decay": group["weight_decay"],
                    "momentum": group["momentum"], "nesterov": 1.0 if group["nesterov"] else 0.0,
                    "ns_steps": group["ns_steps"]}


MUON = Signature("torch.optim.Muon", muon_arguments, muon_program, ("muon",),
                 state=(("buf", "momentum_buffer"),), parameter=muon_parameter)
