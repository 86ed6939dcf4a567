"""Pieces the reference optimizers share: the closure preamble, the matrix-only check, and the
loops several references run (a per-tensor loop with a step count, Adam's two moments on it, and
the momentum loop of the Muon-style rules)."""

from __future__ import annotations

import torch

__all__ = ["closure_loss", "require_matrices", "PerTensor", "AdamMoments", "MomentumLoop"]


def closure_loss(closure):
    """``closure()`` evaluated with gradients enabled (torch.optim's convention); None without one."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


def require_matrices(optimizer: torch.optim.Optimizer, what: str) -> None:
    """``ValueError`` naming ``what`` unless every parameter of ``optimizer`` is 2-D."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            if p.ndim != 2:
                raise ValueError(f"{what}, got shape {tuple(p.shape)}")


class PerTensor(torch.optim.Optimizer):
    """A per-tensor loop: subclasses define ``init(p, group) -> state`` and
    ``update(p, grad, state, group, t)``, which changes ``p`` in place."""

    def __init__(self, params, **defaults):
        for key, value in defaults.items():
            if isinstance(value, float) and value < 0 and key != "lr_power":
                raise ValueError(f"{key} must be >= 0, got {value}")
        super().__init__(params, defaults)

    def init(self, p, group):  # pragma: no cover - overridden
        return {}

    def update(self, p, grad, state, group, t):  # pragma: no cover - overridden
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure_loss(closure)
        for group in self.param_groups:
            group["step"] = group.get("step", 0) + 1
            for p in group["params"]:
                if p.grad is None:
                    continue
                if not self.state[p]:
                    self.state[p].update(self.init(p, group))
                self.update(p, p.grad, self.state[p], group, group["step"])
        return loss


class AdamMoments(PerTensor):
    """A :class:`PerTensor` loop over Adam's two moments, with AdamW's arguments and defaults::

        m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2      (both start at 0)

    Subclasses call :meth:`moments` in ``update`` and turn ``m`` and ``v`` into a step.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def init(self, p, group):
        return {"m": torch.zeros_like(p), "v": torch.zeros_like(p)}

    @staticmethod
    def moments(state, grad, group):
        """Advance ``state["m"]`` and ``state["v"]`` by one step of ``grad``."""
        b1, b2 = group["betas"]
        state["m"] = b1 * state["m"] + (1 - b1) * grad
        state["v"] = b2 * state["v"] + (1 - b2) * grad * grad


class MomentumLoop(torch.optim.Optimizer):
    """The loop of the Muon-style references: per parameter, the momentum buffer (an EMA, as
    torch.optim.Muon's lerp) ``m = momentum m + (1 - momentum) g``, started at 0, then
    ``apply(p, grad, m, state, group)`` changes ``p`` in place. ``extra_state(p, group)`` adds
    state beside the buffer at the first step."""

    def extra_state(self, p, group) -> dict:
        return {}

    def apply(self, p, grad, m, state, group):  # pragma: no cover - overridden
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure_loss(closure)
        for group in self.param_groups:
            mu = group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["momentum_buffer"] = torch.zeros_like(p)
                    state.update(self.extra_state(p, group))
                m = state["momentum_buffer"]
                m.mul_(mu).add_(p.grad, alpha=1 - mu)
                self.apply(p, p.grad, m, state, group)
        return loss
