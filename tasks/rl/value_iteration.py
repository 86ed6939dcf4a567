"""Exact optimal episode return of tabular grid levels by finite-horizon value iteration.

The state of one episode is (cell, bitmask of present objects, steps left). With ``V_0 = 0``,

    W_k(c, m)  = R(c, m) + (1 - P_term(c, m)) * sum_m'' P(m'' | after(c, m)) V_{k-1}(c, m'')
    V_k(c, m)  = max_a W_k(next(c, a), m)

where ``W`` is the value of arriving in cell c with mask m (collection, termination, then each
absent object respawning independently), and the answer for a level with episode length H is
``V_H(start, all objects)``: the expected undiscounted return of one episode under the optimal
(time-dependent) policy. This is what GROOVE's ``GridWorld.optimal_return`` computes and uses for
optimal-policy regret; here all B levels are solved at once.

Example::

    >>> from tasks.rl.gridworld import CPU_LEVELS, sample_levels
    >>> levels = sample_levels(CPU_LEVELS, 3, torch.Generator().manual_seed(0))
    >>> optimal_return(levels).shape
    torch.Size([3])
"""

from __future__ import annotations

import torch

from .gridworld import Levels, next_cells

__all__ = ["optimal_return"]


def _mask_tables(levels: Levels):
    """Per (level, cell, mask): reward, P(terminate), mask after collection; respawn matrix."""
    B, O = levels.obj_pos.shape
    H, W = levels.walls.shape[1:]
    C, M = H * W, 2 ** O
    bits = 2 ** torch.arange(O)
    masks = torch.arange(M)
    has = (masks[:, None] & bits) > 0                                              # [M, O]
    at = levels.obj_pos[:, None, :] == torch.arange(C)[None, :, None]              # [B, C, O]
    hit = at[:, :, None, :] & has[None, None] & levels.obj_valid[:, None, None]    # [B, C, M, O]
    reward = (hit * levels.obj_reward[:, None, None]).sum(-1)                      # [B, C, M]
    survive = torch.where(hit, 1 - levels.obj_term[:, None, None], torch.ones(())).prod(-1)
    after = masks[None, None] & ~(hit.long() * bits).sum(-1)                       # [B, C, M]
    # respawn[b, m, m2]: absent valid objects reappear independently; present ones stay
    rho = levels.obj_respawn * levels.obj_valid                                    # [B, O]
    src, dst = has[:, None, :], has[None, :, :]                                    # [M, 1, O], [1, M, O]
    p = torch.where(src, dst.float()[None].expand(B, M, M, O),
                    torch.where(dst, rho[:, None, None], 1 - rho[:, None, None]))
    return reward, survive, after, p.prod(-1)


@torch.no_grad()
def optimal_return(levels: Levels) -> torch.Tensor:
    """``[B]`` float64: the optimal expected return of one episode on each level."""
    levels = levels.to("cpu").map(lambda x: x.double() if x.is_floating_point() else x)
    reward, survive, after, respawn = _mask_tables(levels)
    nxt = next_cells(levels.walls)                                                 # [B, C, A]
    B, C, M = reward.shape
    full = (levels.obj_valid.long() * 2 ** torch.arange(levels.n_objects)).sum(-1)
    V = torch.zeros(B, C, M, dtype=torch.float64)
    out = torch.zeros(B, dtype=torch.float64)
    rows = torch.arange(B)
    for k in range(1, int(levels.max_steps.max()) + 1):
        expected = torch.einsum("bcn,bmn->bcm", V, respawn)      # E[V | mask after] [B, C, M]
        arrive = reward + survive * expected.gather(2, after)    # W_k(c, m)
        # V_k(c, m) = max_a arrive[next(c, a), m]
        q = arrive[rows[:, None, None, None], nxt[:, :, :, None].expand(B, C, nxt.shape[2], M),
                   torch.arange(M)[None, None, None]]             # [B, C, A, M]
        V = q.max(dim=2).values
        done = levels.max_steps == k
        out = torch.where(done, V[rows, levels.start, full], out)
    return out
