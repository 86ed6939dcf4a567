"""Paper-form references for elementwise rules that no package implements in the papers' form.

Each class is a small ``torch.optim.Optimizer`` written from the paper's pseudo-code as a plain
per-tensor loop, independently of the program language, so that a library program matching it
is a real check. They share :class:`discover.references._common.PerTensor`, which keeps the step
count per group and hands each parameter its gradient, its state dict (filled by ``init``) and
the hyperparameters; C-AdamW and EmoNavi also share Adam's moments (``AdamMoments``).

>>> w = torch.randn(3, dtype=torch.float64, requires_grad=True)
>>> opt = YogiPaper([w])
>>> w.grad = torch.randn_like(w); opt.step()
"""

from __future__ import annotations

import math

import torch

from ._common import AdamMoments, PerTensor

__all__ = ["FocusPaper", "YogiPaper", "AdaMomentum", "INNAprop", "CautiousAdamW",
           "SimplifiedAdEMAMix", "QHAdamPaper", "PadamAMSGrad", "CoordinateClipSGD",
           "EmoNaviExact", "EmoLynxExact", "FedOptServer"]


class FocusPaper(PerTensor):
    """FOCUS (Liu et al., 2025): sign momentum plus a sign attraction to the weight average.

    m = b1 m + (1 - b1) g;  pbar = b2 pbar + (1 - b2) w;  p = pbar / (1 - b2^t)
    w <- w - lr wd p;  w <- w - lr (gamma sign(w - p) + sign(m))

    At t = 1, p equals w in exact arithmetic, so the attraction is 0 there (not the sign of a
    rounding error, as when pbar / (1 - b2) is computed in floating point).
    """

    def __init__(self, params, lr=1e-2, betas=(0.9, 0.999), gamma=0.1, weight_decay=0.0):
        super().__init__(params, lr=lr, betas=betas, gamma=gamma, weight_decay=weight_decay)

    def init(self, p, group):
        return {"m": torch.zeros_like(p), "pbar": torch.zeros_like(p)}

    def update(self, p, grad, state, group, t):
        b1, b2 = group["betas"]
        lr = group["lr"]
        state["m"] = b1 * state["m"] + (1 - b1) * grad
        state["pbar"] = b2 * state["pbar"] + (1 - b2) * p
        average = state["pbar"] / (1 - b2**t)
        p.sub_(lr * group["weight_decay"] * average)
        attraction = torch.sign(p - average) if t > 1 else torch.zeros_like(p)
        p.sub_(lr * (group["gamma"] * attraction + torch.sign(state["m"])))


class CoordinateClipSGD(PerTensor):
    """SGD with heavy-ball momentum on gradients clipped coordinate-wise to [-c, c].

    d = clamp(g, -c, c);  b = d at the first step, else mu b + d;  w <- w - lr b
    """

    def __init__(self, params, lr=1e-2, momentum=0.9, clip_value=1.0):
        super().__init__(params, lr=lr, momentum=momentum, clip_value=clip_value)

    def update(self, p, grad, state, group, t):
        c = group["clip_value"]
        d = grad.clamp(-c, c)
        state["b"] = d.clone() if t == 1 else group["momentum"] * state["b"] + d
        p.sub_(group["lr"] * state["b"])


class INNAprop(PerTensor):
    """INNAprop (Bolte et al., 2024): INNA's inertial dynamics with RMSprop scaling, in the form
    of the official implementation (innaprop/innaprop):

    psi_0 = (1 - alpha beta) w_0
    w <- (1 - lr wd) w;  v <- sigma v + (1 - sigma) g^2;  d = sqrt(v / (1 - sigma^t)) + eps
    psi <- (1 - lr / beta) psi + lr (1 / beta - alpha) w
    w <- (1 + lr (1 - beta alpha) / (beta - lr)) w - lr / (beta - lr) psi - lr beta g / d
    """

    def __init__(self, params, lr=1e-3, alpha=0.1, beta=0.9, sigma=0.999, eps=1e-8,
                 weight_decay=0.01):
        if lr >= beta:
            raise ValueError(f"lr must be below beta ({beta}), got {lr}")
        super().__init__(params, lr=lr, alpha=alpha, beta=beta, sigma=sigma, eps=eps,
                         weight_decay=weight_decay)

    def init(self, p, group):
        return {"v": torch.zeros_like(p), "psi": (1 - group["alpha"] * group["beta"]) * p}

    def update(self, p, grad, state, group, t):
        lr, alpha, beta, sigma = group["lr"], group["alpha"], group["beta"], group["sigma"]
        p.mul_(1 - lr * group["weight_decay"])
        state["v"] = sigma * state["v"] + (1 - sigma) * grad * grad
        d = (state["v"] / (1 - sigma**t)).sqrt() + group["eps"]
        state["psi"] = (1 - lr / beta) * state["psi"] + lr * (1 / beta - alpha) * p
        new = (1 + lr * (1 - beta * alpha) / (beta - lr)) * p - lr / (beta - lr) * state["psi"]
        p.copy_(new - lr * beta * grad / d)


class YogiPaper(PerTensor):
    """Yogi as Algorithm 2 of Zaheer et al. (2018): no bias correction, m_0 = 0, v_0 = v0.

    m = b1 m + (1 - b1) g;  v = v - (1 - b2) sign(v - g^2) g^2;  w <- w - lr (m / (sqrt(v) + eps)
    + wd w)
    """

    def __init__(self, params, lr=1e-2, betas=(0.9, 0.999), initial_accumulator=1e-6, eps=1e-3,
                 weight_decay=0.0):
        super().__init__(params, lr=lr, betas=betas, initial_accumulator=initial_accumulator,
                         eps=eps, weight_decay=weight_decay)

    def init(self, p, group):
        return {"m": torch.zeros_like(p),
                "v": torch.full_like(p, group["initial_accumulator"])}

    def update(self, p, grad, state, group, t):
        b1, b2 = group["betas"]
        state["m"] = b1 * state["m"] + (1 - b1) * grad
        g2 = grad * grad
        state["v"] = state["v"] - (1 - b2) * torch.sign(state["v"] - g2) * g2
        step = state["m"] / (state["v"].sqrt() + group["eps"]) + group["weight_decay"] * p
        p.sub_(group["lr"] * step)


class AdaMomentum(PerTensor):
    """AdaMomentum (Wang et al., 2021): Adam with the squared momentum in the second moment.

    d = g + wd w;  m = b1 m + (1 - b1) d;  v = b2 v + (1 - b2) m^2 + eps
    w <- w - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def init(self, p, group):
        return {"m": torch.zeros_like(p), "v": torch.zeros_like(p)}

    def update(self, p, grad, state, group, t):
        b1, b2 = group["betas"]
        d = grad + group["weight_decay"] * p
        state["m"] = b1 * state["m"] + (1 - b1) * d
        state["v"] = b2 * state["v"] + (1 - b2) * state["m"] ** 2 + group["eps"]
        m_hat = state["m"] / (1 - b1**t)
        v_hat = state["v"] / (1 - b2**t)
        p.sub_(group["lr"] * m_hat / (v_hat.sqrt() + group["eps"]))


class PadamAMSGrad(PerTensor):
    """Padam (Chen et al., 2020) on AMSGrad, as the official code (amsgrad=True) runs it:

    d = g + wd w;  m = b1 m + (1 - b1) d;  v = b2 v + (1 - b2) d^2;  vmax = max(vmax, v)
    w <- w - lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(vmax) + eps)^(2 p)
    """

    def __init__(self, params, lr=1e-1, betas=(0.9, 0.999), partial=0.25, eps=1e-8,
                 weight_decay=0.0):
        super().__init__(params, lr=lr, betas=betas, partial=partial, eps=eps,
                         weight_decay=weight_decay)

    def init(self, p, group):
        return {"m": torch.zeros_like(p), "v": torch.zeros_like(p), "vmax": torch.zeros_like(p)}

    def update(self, p, grad, state, group, t):
        b1, b2 = group["betas"]
        d = grad + group["weight_decay"] * p
        state["m"] = b1 * state["m"] + (1 - b1) * d
        state["v"] = b2 * state["v"] + (1 - b2) * d * d
        state["vmax"] = torch.maximum(state["vmax"], state["v"])
        step = group["lr"] * math.sqrt(1 - b2**t) / (1 - b1**t)
        den = (state["vmax"].sqrt() + group["eps"]) ** (2 * group["partial"])
        p.sub_(step * state["m"] / den)


class QHAdamPaper(PerTensor):
    """QHAdam (Ma & Yarats, 2019) with bias-corrected moments computed in the parameters' dtype:

    d = g + wd w;  m = b1 m + (1 - b1) d;  v = b2 v + (1 - b2) d^2
    w <- w - lr ((1 - nu1) d + nu1 m / (1 - b1^t)) / (sqrt((1 - nu2) d^2 + nu2 v / (1 - b2^t)) + eps)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), nus=(1.0, 1.0), eps=1e-8,
                 weight_decay=0.0):
        super().__init__(params, lr=lr, betas=betas, nus=nus, eps=eps, weight_decay=weight_decay)

    def init(self, p, group):
        return {"m": torch.zeros_like(p), "v": torch.zeros_like(p)}

    def update(self, p, grad, state, group, t):
        (b1, b2), (nu1, nu2) = group["betas"], group["nus"]
        d = grad + group["weight_decay"] * p
        state["m"] = b1 * state["m"] + (1 - b1) * d
        state["v"] = b2 * state["v"] + (1 - b2) * d * d
        num = (1 - nu1) * d + nu1 * state["m"] / (1 - b1**t)
        den = ((1 - nu2) * d * d + nu2 * state["v"] / (1 - b2**t)).sqrt() + group["eps"]
        p.sub_(group["lr"] * num / den)


class SimplifiedAdEMAMix(PerTensor):
    """Simplified AdEMAMix (Morwani et al., 2025), as the authors' code states it:

    m = b1 m + g  (an accumulation, not an EMA);  v = b2 v + (1 - b2) g^2;  c = 1 - b2^t
    w <- w - lr ((alpha g + m) / (sqrt(v) + eps sqrt(c)) sqrt(c) + wd w)
    with b1 warmed up from min_beta1 linearly in half-life over beta1_warmup steps (if > 0).
    """

    def __init__(self, params, lr=1e-3, betas=(0.99, 0.95), alpha=0.0, beta1_warmup=None,
                 min_beta1=0.9, eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr=lr, betas=betas, alpha=alpha, beta1_warmup=beta1_warmup,
                         min_beta1=min_beta1, eps=eps, weight_decay=weight_decay)

    @staticmethod
    def _warm_beta(t, end, start, warmup):
        def half_life(beta):
            return math.log(0.5) / math.log(beta + 1e-8) - 1

        if warmup and t < warmup:
            a = t / warmup
            return 0.5 ** (1 / ((1 - a) * half_life(start) + a * half_life(end) + 1))
        return end

    def init(self, p, group):
        return {"m": torch.zeros_like(p), "v": torch.zeros_like(p)}

    def update(self, p, grad, state, group, t):
        b1, b2 = group["betas"]
        b1 = self._warm_beta(t, b1, group["min_beta1"], group["beta1_warmup"])
        state["m"] = b1 * state["m"] + grad
        state["v"] = b2 * state["v"] + (1 - b2) * grad * grad
        c = math.sqrt(1 - b2**t)
        direction = (group["alpha"] * grad + state["m"]) / (state["v"].sqrt() + group["eps"] * c)
        p.sub_(group["lr"] * (direction * c + group["weight_decay"] * p))


class CautiousAdamW(AdamMoments):
    """C-AdamW (Liang et al., 2024): AdamW whose update is zeroed where it disagrees in sign
    with the gradient, the surviving coordinates scaled by numel / (count + 1):

    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  u = (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
    mask = 1[u g > 0];  w <- w - lr (u mask numel / (sum(mask) + 1) + wd w)
    """

    def update(self, p, grad, state, group, t):
        self.moments(state, grad, group)
        b1, b2 = group["betas"]
        u = (state["m"] / (1 - b1**t)) / ((state["v"] / (1 - b2**t)).sqrt() + group["eps"])
        mask = (u * grad > 0).to(p.dtype)
        u = u * mask * (mask.numel() / (mask.sum() + 1))
        p.sub_(group["lr"] * (u + group["weight_decay"] * p))


class _EmoDrive(PerTensor):
    """The loss-trend step scale of EmoNavi/EmoLynx (muooon, 2025), in exact arithmetic:

    short = 0.3 loss + 0.7 short;  long = 0.01 loss + 0.99 long  (both start at the first loss)
    e = tanh((long - short) / max(long, 1e-5));  a = |e|
    drive = 8 (1 - a)(1 + 0.1 sign(e)(1 - a)) if 0.25 < a < 0.5;  1 - a if a > 0.75;  else 1

    The original code also keeps a medium average and picks tanh((long - short) / medium)
    when |dm| max(medium, 1e-5) < |dl| max(long, 1e-5); both sides equal |long - short| in exact
    arithmetic, so that branch is never taken here. The loss comes from ``step(closure)``.
    """

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = float(closure())
        for group in self.param_groups:
            first = "short" not in group
            group["short"] = 0.3 * loss + 0.7 * (loss if first else group["short"])
            group["long"] = 0.01 * loss + 0.99 * (loss if first else group["long"])
            e = math.tanh((group["long"] - group["short"]) / max(group["long"], 1e-5))
            a = abs(e)
            if 0.25 < a < 0.5:
                group["drive"] = 8 * (1 - a) * (1 + 0.1 * math.copysign(1 - a, e))
            else:
                group["drive"] = 1 - a if a > 0.75 else 1.0
        super().step()
        return loss


class EmoNaviExact(_EmoDrive, AdamMoments):
    """EmoNavi: Adam without bias correction, the step scaled by the loss-trend drive.

    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  w <- w (1 - lr wd) - lr drive m / (sqrt(v) + eps)
    """

    def update(self, p, grad, state, group, t):
        self.moments(state, grad, group)
        p.mul_(1 - group["lr"] * group["weight_decay"])
        p.sub_(group["lr"] * group["drive"] * state["m"] / (state["v"].sqrt() + group["eps"]))


class EmoLynxExact(_EmoDrive):
    """EmoLynx: Lion's sign step scaled by the loss-trend drive.

    u = sign((1 - b1) g + b1 m);  m = b2 m + (1 - b2) g;  w <- w (1 - lr wd) - lr drive u
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.99), weight_decay=1e-2):
        super().__init__(params, lr=lr, betas=betas, weight_decay=weight_decay)

    def init(self, p, group):
        return {"m": torch.zeros_like(p)}

    def update(self, p, grad, state, group, t):
        b1, b2 = group["betas"]
        u = torch.sign((1 - b1) * grad + b1 * state["m"])
        state["m"] = b2 * state["m"] + (1 - b2) * grad
        p.mul_(1 - group["lr"] * group["weight_decay"])
        p.sub_(group["lr"] * group["drive"] * u)


class FedOptServer(PerTensor):
    """The server step of FedAdagrad / FedAdam / FedYogi (Reddi et al., 2021, Algorithm 2) on
    the pseudo-gradient g = -Delta (minus the mean client change):

    m = b1 m + (1 - b1) g
    v = v + g^2 (adagrad) | b2 v + (1 - b2) g^2 (adam) | v - (1 - b2) g^2 sign(v - g^2) (yogi)
    w <- w - lr m / (sqrt(v) + tau)     (m starts at 0, v at initial_accumulator >= tau^2)
    """

    def __init__(self, params, variant="adam", lr=1e-2, betas=(0.9, 0.99), tau=1e-3,
                 initial_accumulator=1e-6):
        if variant not in ("adagrad", "adam", "yogi"):
            raise ValueError(f"variant must be adagrad, adam or yogi, got {variant!r}")
        super().__init__(params, variant=variant, lr=lr, betas=betas, tau=tau,
                         initial_accumulator=initial_accumulator)

    def init(self, p, group):
        return {"m": torch.zeros_like(p),
                "v": torch.full_like(p, group["initial_accumulator"])}

    def update(self, p, grad, state, group, t):
        b1, b2 = group["betas"]
        g2 = grad * grad
        state["m"] = b1 * state["m"] + (1 - b1) * grad
        if group["variant"] == "adagrad":
            state["v"] = state["v"] + g2
        elif group["variant"] == "adam":
            state["v"] = b2 * state["v"] + (1 - b2) * g2
        else:
            state["v"] = state["v"] - (1 - b2) * g2 * torch.sign(state["v"] - g2)
        p.sub_(group["lr"] * state["m"] / (state["v"].sqrt() + group["tau"]))
