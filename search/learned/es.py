"""OpenAI-ES (Salimans et al., 2017) with antithetic pairs and pairwise fitness shaping.

``ask`` draws n pairs ``mean +- sigma * eps_i``; ``tell`` takes the fitness of all 2n candidates
(higher is better), shapes it, and takes an Adam step along the search-gradient estimate

    g = 1 / (2 n sigma) * sum_i (F(+_i) - F(-_i)) eps_i

Shaping ``"pairwise"`` (TA-LPG, Jackson et al. 2024) gives the better member of each pair 1 and the
other 0, so only the sign of each pair's difference counts; members of a pair share a level and a
lifetime, which is what makes that comparison fair. ``"rank"`` uses centred ranks over the whole
population (Salimans et al.). The state is an explicit :class:`ESState`, so a run checkpoints by
saving it. Defaults are GROOVE's TA-LPG settings: lr 0.01 decaying 0.999 per generation (floor
1e-5), sigma 0.1.

Example::

    >>> es = OpenES(dim=3, pairs=4)
    >>> state = es.init(torch.zeros(3))
    >>> pop, state = es.ask(state, torch.Generator().manual_seed(0))
    >>> state = es.tell(state, -pop.pow(2).sum(1))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["OpenES", "ESState", "flatten", "unflatten"]


@dataclass
class ESState:
    mean: torch.Tensor
    eps: torch.Tensor | None = None  # [pairs, dim] of the last ask
    m: torch.Tensor | None = None    # Adam moments
    v: torch.Tensor | None = None
    generation: int = 0


@dataclass
class OpenES:
    dim: int
    pairs: int = 16                 # population = 2 * pairs
    sigma: float = 0.1
    lr: float = 0.01
    lr_decay: float = 0.999
    lr_min: float = 1e-5
    shaping: str = "pairwise"       # "pairwise" or "rank"
    beta1: float = 0.9
    beta2: float = 0.999

    def __post_init__(self):
        if self.shaping not in ("pairwise", "rank"):
            raise ValueError(f"OpenES: shaping must be 'pairwise' or 'rank', got {self.shaping!r}")

    def init(self, mean: torch.Tensor) -> ESState:
        mean = mean.detach().flatten().clone()
        return ESState(mean, None, torch.zeros_like(mean), torch.zeros_like(mean))

    def ask(self, state: ESState, generator: torch.Generator):
        """-> (population [2 * pairs, dim], state). Rows 2i and 2i+1 are the pair +-eps_i."""
        eps = torch.randn(self.pairs, self.dim, generator=generator).to(state.mean)
        state.eps = eps
        pop = torch.stack([state.mean + self.sigma * eps, state.mean - self.sigma * eps], 1)
        return pop.reshape(2 * self.pairs, self.dim), state

    def shape(self, fitness: torch.Tensor) -> torch.Tensor:
        """Shaped fitness [2 * pairs] from raw fitness (higher is better)."""
        if self.shaping == "pairwise":
            f = fitness.view(-1, 2)
            better = (f[:, 0] > f[:, 1]).float()
            ties = (f[:, 0] == f[:, 1]).float() * 0.5
            return torch.stack([better + ties, 1 - better - ties], 1).flatten()
        ranks = fitness.argsort().argsort().float()
        return ranks / (len(fitness) - 1) - 0.5

    def tell(self, state: ESState, fitness: torch.Tensor) -> ESState:
        f = self.shape(fitness.to(state.mean)).view(-1, 2)
        grad = ((f[:, 0] - f[:, 1])[:, None] * state.eps).sum(0) / (2 * self.pairs * self.sigma)
        step = state.generation + 1
        state.m = self.beta1 * state.m + (1 - self.beta1) * grad
        state.v = self.beta2 * state.v + (1 - self.beta2) * grad.pow(2)
        m_hat = state.m / (1 - self.beta1 ** step)
        v_hat = state.v / (1 - self.beta2 ** step)
        lr = max(self.lr * self.lr_decay ** state.generation, self.lr_min)
        state.mean = state.mean + lr * m_hat / (v_hat.sqrt() + 1e-8)  # ascent: maximise
        state.generation = step
        return state


def flatten(params: dict) -> torch.Tensor:
    """A dict of tensors -> one flat vector (sorted keys)."""
    return torch.cat([params[k].flatten() for k in sorted(params)])


def unflatten(flat: torch.Tensor, like: dict) -> dict:
    """``flat`` [..., dim] -> dict shaped like ``like`` with the leading dims of ``flat``."""
    out, i, lead = {}, 0, flat.shape[:-1]
    for k in sorted(like):
        n = like[k].numel()
        out[k] = flat[..., i:i + n].reshape(*lead, *like[k].shape)
        i += n
    return out
