"""Gradient and update clipping: StableAdamW, AdaGC, AGC and component-wise clipping.

Every rule here rescales the gradient (or the step) by a per-tensor or per-unit statistic -- a
norm, an RMS, a global norm during a warm-up -- before or inside an Adam/SGD step.
"""

from __future__ import annotations

from ..base import Entry, Reference, betas

__all__ = ["ENTRIES"]

STABLE_ADAMW = '''
def stable_adamw(w, g, m, v, t, lr=0.001, beta1=0.9, beta2=0.99, weight_decay=0.01,
                 weight_decouple=1.0, eps=1e-08):
    """StableAdamW: AdamW with debiased betas and AdaFactor-style update clipping.

    d = g (+ weight_decay * w without weight_decouple)
    b1 = beta1 (1 - beta1^(t-1)) / (1 - beta1^t) (0 at t = 1), b2 likewise
    m = interp(d, m, b1);  v = interp(d^2, v, b2)
    lr_t = lr / max(1, sqrt(mean(d^2 / max(v, eps^2))))
    update = lr_t * m / (sqrt(v) + eps) + lr_t * weight_decay * w (decoupled)

    Wortsman et al., "Stable and low-precision training for large-scale vision-language
    models" (2023).
    """
    d = g + where(weight_decouple, 0, weight_decay) * w
    b1 = (beta1 ** t - beta1) / (beta1 ** t - 1)
    b2 = (beta2 ** t - beta2) / (beta2 ** t - 1)
    m = interp(d, m, b1)
    v = interp(d * d, v, b2)
    lr_t = lr / max(sqrt(mean(d * d / max(v, eps * eps))), 1)
    decay = where(weight_decouple, lr_t * weight_decay, 0)
    return lr_t * m / (sqrt(v) + eps) + decay * w, m, v
'''

ADAGC = '''
def adagc(w, g, m, v, gamma, t, lr=0.001, beta1=0.9, beta2=0.999, beta=0.98, lambda_abs=1.0,
          lambda_rel=1.05, warmup_steps=100.0, weight_decay=0.1, eps=1e-08):
    """AdaGC: AdamW on gradients clipped by a per-tensor adaptive threshold gamma.

    warm-up (t = 1 or t < warmup_steps): g_hat = min(1, lambda_abs / (||g||_glob + eps)) g,
        gamma = ||g_hat|| at t = 1, then min(gamma, ||g_hat||)
    then: g_hat = min(1, lambda_rel max(gamma, eps) / max(||g||, eps)) g,
        gamma = interp(||g_hat||, gamma, beta)
    m = interp(g_hat, m, beta1);  v = interp(g_hat^2, v, beta2)
    update = lr * weight_decay * w + lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    Wang et al., "AdaGC: Improving Training Stability for Large Language Model Pretraining"
    (2025).
    """
    warm = where(t - 1, warmup_steps - t, 1)
    g_abs = g * min(lambda_abs / (global_norm(g) + eps), 1)
    g_rel = g * min(lambda_rel * max(gamma, eps) / max(norm(g), eps), 1)
    g_hat = where(warm, g_abs, g_rel)
    n = norm(g_hat)
    gamma = where(t - 1, where(warm, min(gamma, n), interp(n, gamma, beta)), n)
    m = interp(g_hat, m, beta1)
    v = interp(g_hat * g_hat, v, beta2)
    step = lr / (1 - beta1 ** t) * m / (sqrt(v) / sqrt(1 - beta2 ** t) + eps)
    return lr * weight_decay * w + step, m, v, gamma
'''

SGD_AGC = '''
def sgd_agc(w, g, b, t, lr=0.001, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=1.0,
            agc_clip_val=0.01, agc_eps=0.001, eps=1e-06):
    """SGD with (Nesterov) momentum on unit-wise adaptively clipped gradients (AGC, NFNets).

    per output unit i (row / filter; the whole tensor for a vector):
        limit_i = agc_clip_val * max(||w_i||, agc_eps);  n_i = max(||g_i||, eps)
        g_i = g_i * limit_i / n_i where n_i > limit_i
    d = g + weight_decay * w;  b = d at t = 1, else momentum * b + (1 - dampening) * d
    update = lr * (d + momentum * b if nesterov else b)

    Brock et al., "High-Performance Large-Scale Image Recognition Without Normalization"
    (2021).
    """
    wn = where(ndim(w) - 1, sqrt(unit_sum(w * w)), norm(w))
    gn = where(ndim(g) - 1, sqrt(unit_sum(g * g)), norm(g))
    limit = max(wn, agc_eps) * agc_clip_val
    n = max(gn, eps)
    c = where(n - limit, g * (limit / n), g)
    d = c + weight_decay * w
    b = where(t - 1, momentum * b + (1 - dampening) * d, d)
    return lr * where(nesterov, d + momentum * b, b), b
'''

ADAMW_COMPONENT_CLIP = '''
def adamw_component_clip(w, g, m, v, t, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08,
                         weight_decay=0.01, max_norm=1.0):
    """AdamW on gradients clipped component by component (here: tensor by tensor).

    c = g * min(1, max_norm / (||g|| + 1e-6))       (torch.nn.utils.clip_grad_norm_ per tensor)
    m = interp(c, m, beta1);  v = interp(c^2, v, beta2)
    update = lr * weight_decay * w + lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    Yang & Ma, "Improving Stability of Fine-Tuning Pretrained Language Models via
    Component-Wise Gradient Norm Clipping" (2022).
    """
    c = g * min(max_norm / (norm(g) + 1e-06), 1)
    m = interp(c, m, beta1)
    v = interp(c * c, v, beta2)
    step = lr / (1 - beta1 ** t) * m / (sqrt(v) / sqrt(1 - beta2 ** t) + eps)
    return lr * weight_decay * w + step, m, v
'''



def _stable_adamw(params, h):
    from pytorch_optimizer import StableAdamW  # noqa: PLC0415 - optional dependency

    return StableAdamW(params, lr=h["lr"], betas=betas(h), weight_decay=h["weight_decay"],
                       weight_decouple=bool(h["weight_decouple"]), eps=h["eps"])


def _adagc_kwargs(h):
    return dict(lr=h["lr"], betas=betas(h), beta=h["beta"], lambda_abs=h["lambda_abs"],
                lambda_rel=h["lambda_rel"], warmup_steps=int(h["warmup_steps"]),
                weight_decay=h["weight_decay"], eps=h["eps"])


def _adagc(params, h):
    from discover.references.reductions import AdaGCPaper  # noqa: PLC0415

    return AdaGCPaper(params, **_adagc_kwargs(h))


def _adagc_po(params, h):
    from pytorch_optimizer import AdaGC  # noqa: PLC0415 - optional dependency

    return AdaGC(params, **_adagc_kwargs(h))


def _sgd_agc(params, h):
    from discover.references.reductions import AGCSGD  # noqa: PLC0415

    return AGCSGD(params, lr=h["lr"], momentum=h["momentum"], dampening=h["dampening"],
                  weight_decay=h["weight_decay"], nesterov=bool(h["nesterov"]),
                  agc_clip_val=h["agc_clip_val"], agc_eps=h["agc_eps"], eps=h["eps"])


def _adamw_component_clip(params, h):
    from discover.references.reductions import ComponentClip  # noqa: PLC0415

    return ComponentClip(params, lr=h["lr"], betas=betas(h), eps=h["eps"],
                         weight_decay=h["weight_decay"], max_norm=h["max_norm"])



_ADAM_SETTINGS = (
    {},
    {"lr": 0.01, "beta1": 0.8, "beta2": 0.95, "weight_decay": 0.1},
    {"lr": 0.003, "beta2": 0.9, "eps": 1e-6, "weight_decay": 0.0},
)

ENTRIES = (
    Entry(
        name="stable_adamw",
        source=STABLE_ADAMW,
        paper="Stable and low-precision training for large-scale vision-language models",
        authors="Wortsman et al.",
        year=2023,
        references=(Reference("pytorch_optimizer.StableAdamW", _stable_adamw,
                              requires="pytorch-optimizer"),),
        settings=(*_ADAM_SETTINGS[:2],
                  {"lr": 0.003, "beta2": 0.9, "eps": 1e-6, "weight_decay": 0.05,
                   "weight_decouple": 0.0}),
        notes="As the paper: debiased betas (the bias correction folded into the EMA "
              "weights) and the step divided by max(1, RMS(g / sqrt(v))). The package's Kahan "
              "summation only acts on 16-bit weights. weight_decouple = 0 (L2 decay in the "
              "gradient) is the package's option.",
    ),
    Entry(
        name="adagc",
        source=ADAGC,
        paper="AdaGC: Improving Training Stability for Large Language Model Pretraining",
        authors="Wang et al.",
        year=2025,
        references=(
            Reference("discover.references.reductions.AdaGCPaper (paper form)", _adagc),
            Reference("pytorch_optimizer.AdaGC", _adagc_po, "pytorch-optimizer", tolerance=1e-6,
                      tolerance_note="the package computes the warm-up's global gradient "
                                     "norm in float32 (get_global_gradient_norm), so the "
                                     "clipping factor carries float32 rounding"),
        ),
        settings=(
            {},
            {"warmup_steps": 20.0, "lr": 0.01, "lambda_rel": 1.01, "beta": 0.9},
            {"warmup_steps": 1.0, "lambda_abs": 0.5, "weight_decay": 0.0, "beta2": 0.99},
        ),
        notes="Global clipping during the warm-up, then per-tensor clipping relative to an "
              "EMA of the clipped norms, then AdamW with decoupled decay (the package's "
              "defaults: weight_decay 0.1, warm-up 100 steps). The paper-form reference keeps "
              "the global norm in float64; pytorch_optimizer.AdaGC is also checked, at 1e-6. "
              "The package's L2 (weight_decouple=False) form recomputes the global norm after "
              "each tensor's decay and is not covered.",
    ),
    Entry(
        name="sgd_agc",
        source=SGD_AGC,
        paper="High-Performance Large-Scale Image Recognition Without Normalization",
        authors="Brock et al.",
        year=2021,
        references=(Reference("pytorch_optimizer.agc + torch.optim.SGD", _sgd_agc,
                              requires="pytorch-optimizer"),),
        settings=(
            {},
            {"lr": 0.1, "agc_clip_val": 0.05, "weight_decay": 0.001},
            {"lr": 0.3, "momentum": 0.5, "nesterov": 0.0, "dampening": 0.1, "agc_eps": 0.1,
             "agc_clip_val": 0.2},
        ),
        notes="AGC as in NFNets: each output unit's gradient is clipped to agc_clip_val times "
              "the unit's weight norm (floored at agc_eps); the paper trains with SGD and "
              "Nesterov momentum and leaves the final classifier unclipped (the program clips "
              "every tensor). Units are rows of a matrix and filters of a conv kernel; a "
              "vector is one unit. pytorch_optimizer.agc reduces 3-D tensors over dim 1 only; "
              "the program reduces over every dim but the first (verify uses no 3-D shape).",
    ),
    Entry(
        name="adamw_component_clip",
        source=ADAMW_COMPONENT_CLIP,
        paper="Improving Stability of Fine-Tuning Pretrained Language Models via "
              "Component-Wise Gradient Norm Clipping",
        authors="Yang & Ma",
        year=2022,
        references=(
            Reference("torch.nn.utils.clip_grad_norm_ per tensor + torch.optim.AdamW",
                      _adamw_component_clip),
        ),
        settings=(
            {},
            {"max_norm": 0.5, "lr": 0.01, "weight_decay": 0.1},
            {"max_norm": 5.0, "lr": 0.003, "beta2": 0.99, "eps": 1e-6},
        ),
        notes="The paper clips each component (module) of the network separately; a program "
              "sees tensors, not modules, so each tensor is its own component.",
    ),
)
