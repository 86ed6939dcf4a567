"""Schedule-free optimizers: SGD, AdamW and RAdam with the y/z/x averaging of Defazio et al.

The weights a schedule-free optimizer trains are ``y``, the point where gradients are taken;
it keeps the base iterate ``z`` as state, and the average ``x`` (the model to evaluate) is
implicit: ``y = (1 - beta) z + beta x``. Each step, with the averaging weight ``c_t``::

    y = interp(y, z, c_t) + lr_t (beta (1 - c_t) - 1) d;   z = z - lr_t d

where ``d`` is the (normalised) gradient plus ``weight_decay * y``. ``c_t = w_t / sum_s w_s``
with ``w_t = t^r * max_{s<=t}(lr_s)^weight_lr_power``; the running maximum and the weight sum
are group-level scalars. verify compares ``y`` (the weights) and ``z``.
"""

from __future__ import annotations

from ..base import Entry, Reference

__all__ = ["ENTRIES"]

_AVERAGE = '''
    lr_max = max(lr_t, lr_max)
    weight = t ** r * lr_max ** weight_lr_power
    weight_sum = weight_sum + weight
    c = where(weight_sum, weight / weight_sum, 0)
'''

SCHEDULE_FREE_SGD = '''
def schedule_free_sgd(w, g, z: w, lr_max: -1.0, weight_sum, t, lr=1.0, momentum=0.9,
                      weight_decay=0.0, r=0.0, weight_lr_power=2.0, warmup_steps=0.0):
    """Schedule-free SGD: an interpolation of averaging and momentum, with no LR schedule.

    lr_t = lr * min(1, t / warmup_steps);  c = w_t / sum w (see the module docstring)
    d = g + weight_decay * y
    y_new = interp(y, z, c) + lr_t (momentum (1 - c) - 1) d;  z = z - lr_t d
    update = y - y_new

    Defazio et al., "The Road Less Scheduled" (2024).
    """
    lr_t = lr * where(warmup_steps - t, t / warmup_steps, 1)''' + _AVERAGE + '''
    d = g + weight_decay * w
    y = interp(w, z, c) + lr_t * (momentum * (1 - c) - 1) * d
    return w - y, z - lr_t * d, lr_max, weight_sum
'''

SCHEDULE_FREE_ADAMW = '''
def schedule_free_adamw(w, g, z: w, v, vmax, lr_max: -1.0, weight_sum, t, lr=0.0025, beta1=0.9,
                        beta2=0.999, weight_decay=0.0, r=0.0, weight_lr_power=2.0,
                        warmup_steps=0.0, decoupling_c=0.0, ams_bound=0.0, eps=1e-08):
    """Schedule-free AdamW: schedule-free averaging on Adam-normalised gradients.

    lr_t = lr * min(1, t / warmup_steps);  c = w_t / sum w, or with decoupling_c > 0
    min(1, c (1 - beta1) decoupling_c)
    v = beta2 v + (1 - beta2) g^2;  vh = v / (1 - beta2^t) (running max of it with ams_bound)
    d = g / (sqrt(vh + 1e-15) + eps) + weight_decay * y
    y_new = interp(y, z, c) + lr_t (beta1 (1 - c) - 1) d;  z = z - lr_t d;  update = y - y_new

    Defazio et al., "The Road Less Scheduled" (2024).
    """
    lr_t = lr * where(warmup_steps - t, t / warmup_steps, 1)''' + _AVERAGE + '''
    c = where(decoupling_c, min(1, c * (1 - beta1) * decoupling_c), c)
    v = beta2 * v + (1 - beta2) * (g * g)
    vh = v / (1 - beta2 ** t)
    vmax = where(ams_bound, max(vmax, vh), vmax)
    d = g / (sqrt(where(ams_bound, vmax, vh) + 1e-15) + eps) + weight_decay * w
    y = interp(w, z, c) + lr_t * (beta1 * (1 - c) - 1) * d
    return w - y, z - lr_t * d, v, vmax, lr_max, weight_sum
'''

SCHEDULE_FREE_RADAM = '''
def schedule_free_radam(w, g, z: w, v, lr_max: -1.0, weight_sum, t, lr=0.0025, beta1=0.9,
                        beta2=0.999, weight_decay=0.0, r=0.0, weight_lr_power=2.0,
                        silent_sgd_phase=1.0, eps=1e-08):
    """Schedule-free RAdam: schedule-free averaging with RAdam's rectified step size.

    rho_inf = 2 / (1 - beta2) - 1;  rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
    rho_t >= 4: lr_t = lr * rect_t (/ sqrt(1 - beta2^t) where rho_t > 4), rect_t RAdam's
    rectifier with the sqrt(1 - beta2^t) factor;  rho_t < 4: lr_t = 0 (silent_sgd_phase) or 1
    d = g / (sqrt(v) / sqrt(1 - beta2^t) + eps) where rho_t > 4 (else g), + weight_decay * y
    y_new = interp(y, z, c) + lr_t (beta1 (1 - c) - 1) d;  z = z - lr_t d;  update = y - y_new

    Defazio et al., "The Road Less Scheduled" (2024); Liu et al., "On the Variance of the
    Adaptive Learning Rate and Beyond" (2020).
    """
    bc2 = 1 - beta2 ** t
    rho_inf = 2 / (1 - beta2) - 1
    rho = rho_inf - 2 * t * beta2 ** t / bc2
    rect = sqrt(max(bc2 * (rho - 4) / (rho_inf - 4) * (rho - 2) / rho * rho_inf / (rho_inf - 2), 0))
    warm = where(silent_sgd_phase, 0, 1)
    lr_t = where(4 - rho, warm, where(rho - 4, lr * rect / sqrt(bc2), lr * rect))''' + _AVERAGE + '''
    v = beta2 * v + (1 - beta2) * (g * g)
    d = where(rho - 4, g / (sqrt(v) / sqrt(bc2) + eps), g) + weight_decay * w
    y = interp(w, z, c) + lr_t * (beta1 * (1 - c) - 1) * d
    return w - y, z - lr_t * d, v, lr_max, weight_sum
'''


def _common(h):
    return dict(lr=h["lr"], weight_decay=h["weight_decay"], r=h["r"],
                weight_lr_power=h["weight_lr_power"])


def _schedule_free_sgd(params, h):
    from pytorch_optimizer import ScheduleFreeSGD  # noqa: PLC0415 - optional dependency

    return ScheduleFreeSGD(params, momentum=h["momentum"],
                           warmup_steps=int(h["warmup_steps"]), **_common(h))


def _schedule_free_adamw(params, h):
    from pytorch_optimizer import ScheduleFreeAdamW  # noqa: PLC0415 - optional dependency

    return ScheduleFreeAdamW(params, betas=(h["beta1"], h["beta2"]),
                             warmup_steps=int(h["warmup_steps"]),
                             decoupling_c=h["decoupling_c"], ams_bound=bool(h["ams_bound"]),
                             eps=h["eps"], **_common(h))


def _schedule_free_radam(params, h):
    from pytorch_optimizer import ScheduleFreeRAdam  # noqa: PLC0415 - optional dependency

    return ScheduleFreeRAdam(params, betas=(h["beta1"], h["beta2"]),
                             silent_sgd_phase=bool(h["silent_sgd_phase"]), eps=h["eps"],
                             **_common(h))


_PAPER = "The Road Less Scheduled"

ENTRIES = (
    Entry(
        name="schedule_free_sgd",
        source=SCHEDULE_FREE_SGD,
        paper=_PAPER,
        authors="Defazio et al.",
        year=2024,
        references=(
            Reference("pytorch_optimizer.ScheduleFreeSGD", _schedule_free_sgd,
                      requires="pytorch-optimizer"),
        ),
        settings=(
            {},
            {"lr": 0.1, "warmup_steps": 10.0, "weight_decay": 0.01, "momentum": 0.8},
            {"lr": 0.3, "r": 1.0, "weight_lr_power": 1.0, "momentum": 0.5},
        ),
        compare_state=(("z", "z"),),
        notes="The training weights are y; z is state and the evaluation average x = (y - (1 - "
              "beta) z) / beta is implicit (the package's eval() computes it). Weight decay is "
              "added to the gradient at y, as in the official code.",
    ),
    Entry(
        name="schedule_free_adamw",
        source=SCHEDULE_FREE_ADAMW,
        paper=_PAPER,
        authors="Defazio et al.",
        year=2024,
        references=(
            Reference("pytorch_optimizer.ScheduleFreeAdamW", _schedule_free_adamw,
                      requires="pytorch-optimizer"),
        ),
        settings=(
            {},
            {"lr": 0.01, "warmup_steps": 10.0, "weight_decay": 0.01, "beta1": 0.8,
             "ams_bound": 1.0},
            {"lr": 0.02, "r": 1.0, "weight_lr_power": 1.0, "decoupling_c": 5.0, "beta2": 0.99},
        ),
        compare_state=(("z", "z"),),
        notes="As the package: the official algorithm with 1e-15 added to the bias-corrected "
              "v under the square root (the package's apply_ams_bound), and its options "
              "ams_bound and decoupling_c. The decay wd * y is added to the normalised "
              "gradient (the official form).",
    ),
    Entry(
        name="schedule_free_radam",
        source=SCHEDULE_FREE_RADAM,
        paper=_PAPER,
        authors="Defazio et al.",
        year=2024,
        references=(
            Reference("pytorch_optimizer.ScheduleFreeRAdam", _schedule_free_radam,
                      requires="pytorch-optimizer"),
        ),
        settings=(
            {},
            {"lr": 0.01, "weight_decay": 0.01, "beta1": 0.8, "beta2": 0.99},
            {"lr": 0.02, "silent_sgd_phase": 0.0, "r": 1.0, "beta2": 0.95},
        ),
        compare_state=(("z", "z"),),
        notes="As the package: during RAdam's warm-up (rho_t < 4) the step size is 0 "
              "(silent_sgd_phase) or 1 -- the package uses 1.0 there, not lr -- and the "
              "gradient is not normalised until rho_t > 4.",
    ),
)
