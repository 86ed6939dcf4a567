"""Spike-aware Adam: SPAM and Stable-SPAM (gradient spike clipping or scaling, periodic
momentum resets).

The periodic resets are ``fmod(t, update_proj_gap)`` tests; the packages' cosine warm-up
schedules after a reset are written in closed form.
"""

from __future__ import annotations

from ..base import Entry, Reference, betas

__all__ = ["ENTRIES"]

SPAM = '''
def spam(w, g, m, v, t, lr=0.001, beta1=0.9, beta2=0.999, weight_decay=0.0, warmup_epoch=50.0,
         threshold=5000.0, grad_accu_steps=20.0, update_proj_gap=500.0, eps=1e-06):
    """SPAM: Adam with momentum resets, spike clipping and a cosine warm-up after each reset.

    r = t mod update_proj_gap;  m = v = 0 where r = 0 (before the step)
    clipping on when t >= grad_accu_steps and r >= grad_accu_steps (threshold > 0):
        g = sign(g) sqrt(threshold v) where g^2 > threshold v
    m = interp(g, m, beta1);  v = interp(g^2, v, beta2)
    s = 1 until the first reset; then s = 1 - 0.99 (1 + cos(pi (r + 1) / (warmup_epoch + 1))) / 2
        for r < warmup_epoch, else 1
    u = s * lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps)
    update = u + lr * weight_decay * (w - u)     (decay after the step, as the package)

    Huang et al., "SPAM: Spike-Aware Adam with Momentum Reset for Stable LLM Training" (2025).
    """
    r = fmod(t, update_proj_gap)
    m = where(r, m, 0)
    v = where(r, v, 0)
    limit = v * threshold
    late = where(t - grad_accu_steps + 0.5, r - grad_accu_steps + 0.5, 0)
    clip_on = where(threshold, late, 0)
    g = where(clip_on, where(g * g - limit, sign(g) * sqrt(limit), g), g)
    m = interp(g, m, beta1)
    v = interp(g * g, v, beta2)
    warm = 1 - 0.99 * (1 + cos(get_pi() * (r + 1) / (warmup_epoch + 1))) / 2
    s = where(t - update_proj_gap + 0.5, where(warmup_epoch - r - 0.5, warm, 1), 1)
    u = lr * sqrt(1 - beta2 ** t) / (1 - beta1 ** t) * s * m / (sqrt(v) + eps)
    return u + lr * weight_decay * (w - u), m, v
'''

STABLE_SPAM = '''
def stable_spam(w, g, m, v, m_norm, v_norm, m_max, t, lr=0.001, beta1=0.9, beta2=0.999,
                gamma1=0.7, gamma2=0.9, theta=0.999, t_max=0.0, eta_min=0.5, weight_decay=0.0,
                update_proj_gap=1000.0, eps=1e-08):
    """Stable-SPAM: Adam after AdaClip (spike scaling) and AdaGN (norm scaling), with resets.

    s = 1, or with t_max > 0: eta_min + (1 - eta_min) (1 + cos(pi (t + 1) / (t_max + 1)))
        / (1 + cos(pi / (t_max + 1))) for t < t_max, eta_min after (the package's schedule)
    AdaClip: m_max = interp(max|g|, m_max, theta);  M = m_max / (1 - theta^t)
             g = g / max|g| * M where |g| > M
    AdaGN:   m_norm = interp(||g||, m_norm, gamma1 s);  v_norm = interp(||g||^2, v_norm, gamma2)
             g = g / ||g|| * (m_norm / (1 - (gamma1 s)^t)) / (sqrt(v_norm / (1 - gamma2^t)) + eps)
    reset: m = v = 0 where t mod update_proj_gap = 0, and Adam's step k restarts at 1 there
    m = interp(g, m, beta1 s);  v = interp(g^2, v, beta2)
    update = lr weight_decay w + lr / (1 - (beta1 s)^k) * m / (sqrt(v) / sqrt(1 - beta2^k) + eps)

    Huang et al., "Stable-SPAM: How to Train in 4-Bit More Stably than 16-Bit Adam" (2025).
    """
    tp = t_max + 1
    cosine = eta_min + (1 - eta_min) * (1 + cos(get_pi() * (t + 1) / tp)) / (1 + cos(get_pi() / tp))
    s = where(t_max, where(t_max - t, cosine, eta_min), 1)
    gmax = absmax(g)
    m_max = interp(gmax, m_max, theta)
    big = m_max / (1 - theta ** t)
    g = where(abs(g) - big, g / gmax * big, g)
    gn = norm(g)
    m_norm = interp(gn, m_norm, gamma1 * s)
    v_norm = interp(gn * gn, v_norm, gamma2)
    c = m_norm / (1 - (gamma1 * s) ** t) / (sqrt(v_norm / (1 - gamma2 ** t)) + eps)
    g = g / gn * c
    r = fmod(t, update_proj_gap)
    k = r + where(t - update_proj_gap + 0.5, 1, 0)
    b1 = beta1 * s
    m = interp(g, where(r, m, 0), b1)
    v = interp(g * g, where(r, v, 0), beta2)
    step = lr / (1 - b1 ** k) * m / (sqrt(v) / sqrt(1 - beta2 ** k) + eps)
    return lr * weight_decay * w + step, m, v, m_norm, v_norm, m_max
'''



def _spam(params, h):
    from pytorch_optimizer import SPAM  # noqa: PLC0415 - optional dependency

    return SPAM(params, lr=h["lr"], betas=betas(h), weight_decay=h["weight_decay"],
                warmup_epoch=int(h["warmup_epoch"]), threshold=h["threshold"],
                grad_accu_steps=int(h["grad_accu_steps"]),
                update_proj_gap=int(h["update_proj_gap"]), eps=h["eps"])


def _stable_spam(params, h):
    from pytorch_optimizer import StableSPAM  # noqa: PLC0415 - optional dependency

    return StableSPAM(params, lr=h["lr"], betas=betas(h), gamma1=h["gamma1"],
                      gamma2=h["gamma2"], theta=h["theta"], t_max=int(h["t_max"]) or None,
                      eta_min=h["eta_min"], weight_decay=h["weight_decay"],
                      update_proj_gap=int(h["update_proj_gap"]), eps=h["eps"])



ENTRIES = (
    Entry(
        name="spam",
        source=SPAM,
        paper="SPAM: Spike-Aware Adam with Momentum Reset for Stable LLM Training",
        authors="Huang et al.",
        year=2025,
        references=(Reference("pytorch_optimizer.SPAM", _spam, requires="pytorch-optimizer"),),
        settings=(
            {},
            {"update_proj_gap": 25.0, "warmup_epoch": 10.0, "grad_accu_steps": 5.0,
             "threshold": 3.0, "lr": 0.01},
            {"update_proj_gap": 40.0, "warmup_epoch": 5.0, "grad_accu_steps": 2.0,
             "threshold": 1.5, "weight_decay": 0.1, "beta1": 0.8},
        ),
        notes="density = 1 only (the package's default): a random sparse update mask needs a "
              "random number generator. As the package, the bias corrections use the global "
              "step (they are not restarted at a reset), the weight decay (lr * wd) is applied "
              "after the step, and the cosine warm-up restarts after each reset, from a factor "
              "of 1 - 0.99 (1 + cos(pi / (warmup_epoch + 1))) / 2.",
    ),
    Entry(
        name="stable_spam",
        source=STABLE_SPAM,
        paper="Stable-SPAM: How to Train in 4-Bit More Stably than 16-Bit Adam",
        authors="Huang et al.",
        year=2025,
        references=(Reference("pytorch_optimizer.StableSPAM", _stable_spam,
                              requires="pytorch-optimizer"),),
        settings=(
            {},
            {"update_proj_gap": 25.0, "theta": 0.9, "gamma1": 0.5, "lr": 0.01,
             "weight_decay": 0.01},
            {"update_proj_gap": 30.0, "t_max": 40.0, "eta_min": 0.3, "gamma2": 0.95,
             "beta1": 0.8},
        ),
        notes="As the package: the spike threshold M is the bias-corrected EMA of max|g|; the "
              "norm EMAs and Adam's moments are per tensor; at a reset (every update_proj_gap "
              "steps) m and v are zeroed and Adam's bias correction restarts, while the EMAs of "
              "max|g| and ||g|| keep the global step. With t_max the betas follow the package's "
              "cosine schedule. A tensor whose clipped gradient is exactly zero is skipped by "
              "the package (not modelled).",
    ),
)
