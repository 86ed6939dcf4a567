"""Step sizes shared by a block of coordinates: BCOS (block-coordinate optimal step sizes, in its
three search-direction modes) and Adam-mini (one second moment per block).

BCOS's blocks are single coordinates with an estimator of E[d^2] built from the momentum and
the gradient; Adam-mini's block here is one tensor (the package partitions transformer
layers by their names, which a program cannot see).
"""

from __future__ import annotations

from ..base import Entry, Reference

__all__ = ["ENTRIES"]

BCOS = '''
def bcos(w, g, m, t, lr=0.001, beta=0.9, beta2=0.0, simple_cond=0.0, weight_decay=0.1,
         eps=1e-06):
    """BCOS (mode c): momentum direction, conditional estimator of its second moment.

    m = interp(g, m, beta) (m starts at g_1)
    v = (3 beta^2 - 2 beta^3) m^2 + (1 - beta)^2 g^2 + 2 beta (1 - beta)^2 m g, or with
        simple_cond: b m^2 + (1 - b) g^2, b = beta2 or 1 - (1 - beta)^2
    update = lr * weight_decay * w + lr * m / (sqrt(v) + eps)

    Jiang et al., "BCOS: Stochastic approximation with block coordinate optimal stepsizes"
    (2025).
    """
    m = interp(g, where(t - 1, m, g), beta)
    mm = m * m
    gg = g * g
    b = where(beta2, beta2, 1 - (1 - beta) ** 2)
    v_full = (3 * beta ** 2 - 2 * beta ** 3) * mm + (1 - beta) ** 2 * gg
    v_full = v_full + 2 * beta * (1 - beta) ** 2 * m * g
    v = where(simple_cond, b * mm + (1 - b) * gg, v_full)
    return lr * weight_decay * w + lr * m / (sqrt(v) + eps), m
'''

BCOS_M = '''
def bcos_m(w, g, m, v, t, lr=0.001, beta=0.9, beta2=0.0, weight_decay=0.1, eps=1e-06):
    """BCOS (mode m): momentum direction, EMA of its square as the second moment.

    m = interp(g, m, beta) (m starts at g_1);  v = interp(m^2, v, beta2 or beta) (v starts at g_1^2)
    update = lr * weight_decay * w + lr * m / (sqrt(v) + eps)

    Jiang et al., "BCOS: Stochastic approximation with block coordinate optimal stepsizes"
    (2025).
    """
    m = interp(g, where(t - 1, m, g), beta)
    v = interp(m * m, where(t - 1, v, g * g), where(beta2, beta2, beta))
    return lr * weight_decay * w + lr * m / (sqrt(v) + eps), m, v
'''

BCOS_G = '''
def bcos_g(w, g, v, t, lr=0.001, beta=0.9, beta2=0.0, weight_decay=0.1, eps=1e-06):
    """BCOS (mode g): gradient direction, EMA of its square as the second moment (RMSprop-like).

    v = interp(g^2, v, beta2 or beta) (v starts at g_1^2)
    update = lr * weight_decay * w + lr * g / (sqrt(v) + eps)

    Jiang et al., "BCOS: Stochastic approximation with block coordinate optimal stepsizes"
    (2025).
    """
    v = interp(g * g, where(t - 1, v, g * g), where(beta2, beta2, beta))
    return lr * weight_decay * w + lr * g / (sqrt(v) + eps), v
'''

ADAM_MINI = '''
def adam_mini(w, g, m, v, t, lr=0.001, beta1=0.9, beta2=0.999, weight_decay=0.1, eps=1e-08):
    """Adam-mini with one block per tensor: Adam whose second moment is one number per block.

    m = interp(g, m, beta1);  v = interp(mean(g^2), v, beta2)       (v: one number per tensor)
    update = lr * weight_decay * w + lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    Zhang et al., "Adam-mini: Use Fewer Learning Rates To Gain More" (2025).
    """
    m = interp(g, m, beta1)
    v = interp(mean(g * g), v, beta2)
    h = sqrt(v) / sqrt(1 - beta2 ** t) + eps
    return lr * weight_decay * w + lr / (1 - beta1 ** t) / h * m, m, v
'''


def _bcos(mode):
    def make(params, h):
        from pytorch_optimizer import BCOS  # noqa: PLC0415 - optional dependency

        kwargs = {"simple_cond": bool(h["simple_cond"])} if mode == "c" else {}
        return BCOS(params, lr=h["lr"], beta=h["beta"], beta2=h["beta2"] or None, mode=mode,
                    weight_decay=h["weight_decay"], eps=h["eps"], **kwargs)

    return make


def _adam_mini(params, h):
    from discover.references.reductions import AdamMiniPaper  # noqa: PLC0415

    return AdamMiniPaper(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]),
                         weight_decay=h["weight_decay"], eps=h["eps"])


_BCOS_PAPER = "BCOS: Stochastic approximation with block coordinate optimal stepsizes"
_BCOS_NOTES = ("As the package: decoupled weight decay (0.1 by default), the moving averages "
               "start at the first gradient (and its square), beta2 = 0 stands for the "
               "package's None.")


ENTRIES = (
    Entry(
        name="bcos",
        source=BCOS,
        paper=_BCOS_PAPER,
        authors="Jiang et al.",
        year=2025,
        references=(Reference("pytorch_optimizer.BCOS(mode='c')", _bcos("c"),
                              requires="pytorch-optimizer"),),
        settings=({}, {"lr": 0.01, "beta": 0.8, "weight_decay": 0.01},
                  {"simple_cond": 1.0, "beta2": 0.95, "lr": 0.005, "eps": 1e-8}),
        notes=_BCOS_NOTES,
    ),
    Entry(
        name="bcos_m",
        source=BCOS_M,
        paper=_BCOS_PAPER,
        authors="Jiang et al.",
        year=2025,
        references=(Reference("pytorch_optimizer.BCOS(mode='m')", _bcos("m"),
                              requires="pytorch-optimizer"),),
        settings=({}, {"lr": 0.01, "beta": 0.8, "weight_decay": 0.01},
                  {"beta2": 0.99, "lr": 0.005, "weight_decay": 0.0}),
        notes=_BCOS_NOTES,
    ),
    Entry(
        name="bcos_g",
        source=BCOS_G,
        paper=_BCOS_PAPER,
        authors="Jiang et al.",
        year=2025,
        references=(Reference("pytorch_optimizer.BCOS(mode='g')", _bcos("g"),
                              requires="pytorch-optimizer"),),
        settings=({}, {"lr": 0.01, "beta": 0.8, "weight_decay": 0.01},
                  {"beta2": 0.99, "lr": 0.005, "weight_decay": 0.0}),
        notes=_BCOS_NOTES,
    ),
    Entry(
        name="adam_mini",
        source=ADAM_MINI,
        paper="Adam-mini: Use Fewer Learning Rates To Gain More",
        authors="Zhang et al.",
        year=2025,
        references=(
            Reference("discover.references.reductions.AdamMiniPaper (paper form, one block per "
                      "tensor)", _adam_mini),
        ),
        settings=(
            {},
            {"lr": 0.01, "beta1": 0.8, "beta2": 0.99},
            {"lr": 0.003, "weight_decay": 0.0, "eps": 1e-6},
        ),
        notes="Each tensor is one block. pytorch_optimizer.AdamMini takes a model and splits "
              "embedding, attention (per head) and other blocks by module name, and keeps its "
              "state in float32, so it cannot be an exact reference; for tensors outside "
              "embeddings and attention it applies this rule.",
    ),
)
