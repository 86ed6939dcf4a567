"""Rules that read the minibatch loss: EmoNavi and EmoLynx.

Both keep three exponential moving averages of the loss (rates 0.3, 0.05, 0.01), turn the
relative gap between the short and long averages into a bounded "emotion" scalar, and scale the
step by a factor derived from it: Adam's step for EmoNavi, Lion's sign step for EmoLynx. The
averages are group-level scalars kept as state of shape ``()``.

References: paper-form ``EmoNaviExact`` and ``EmoLynxExact`` (``discover.references.elementwise``;
the loss reaches them through ``step(closure)``). ``pytorch_optimizer.EmoNavi``/``EmoLynx``
(default ``use_shadow=False``) are not 1e-10 references: they choose between two ratios by
comparing ``|dm| max(medium, 1e-5)`` with ``|dl| max(long, 1e-5)``, two roundings of the same
number ``|long - short|``, so the choice (and the step scale, which jumps at |e| = 0.25, 0.5 and
0.75) follows rounding noise. In exact arithmetic the comparison never holds, the medium average
never matters, and that is the rule the programs state.
"""

from __future__ import annotations

from ..base import Entry, Reference

__all__ = ["ENTRIES"]

# the loss trend -> step scale of both rules (pytorch_optimizer's get_emo_drive)
_DRIVE = '''
    short = 0.3 * loss + 0.7 * where(t - 1, short, loss)
    long = 0.01 * loss + 0.99 * where(t - 1, long, loss)
    emotion = tanh((long - short) / max(long, 1e-05))
    a = abs(emotion)
    calm = where(a - 0.75, where(a - 0.25, 1 - a, 1), 1)
    drive = where(min(a - 0.25, 0.5 - a), 8 * (1 - a) * (1 + 0.1 * sign(emotion) * (1 - a)), calm)
'''

_DRIVE_DOC = '''short, long = EMAs of the loss with rates 0.3 and 0.01 (started at the loss)
    e = tanh((long - short) / max(long, 1e-5));   a = |e|
    drive = 8 (1 - a)(1 + 0.1 sign(e)(1 - a)) if 0.25 < a < 0.5;  1 - a if a > 0.75;  else 1'''

EMONAVI = '''
def emonavi(w, g, m, v, short, long, t, loss, lr=0.001, beta1=0.9, beta2=0.999,
            eps=1e-08, weight_decay=0.01):
    """EmoNavi: Adam without bias correction, its step scaled by a loss-trend "emotion".

    DRIVE_DOC
    m = interp(g, m, beta1);  v = interp(g^2, v, beta2)
    update = lr * drive * m / (sqrt(v) + eps) + lr * weight_decay * w

    muooon, "EmoNavi: An emotion-driven optimizer that feels loss and navigates accordingly"
    (2025, github.com/muooon/EmoNavi).
    """DRIVE
    m = interp(g, m, beta1)
    v = interp(g * g, v, beta2)
    update = lr * drive * m / (sqrt(v) + eps) + lr * weight_decay * w
    return update, m, v, short, long
'''.replace("DRIVE_DOC", _DRIVE_DOC).replace('"""DRIVE', '"""' + _DRIVE.rstrip("\n"))

EMOLYNX = '''
def emolynx(w, g, m, short, long, t, loss, lr=0.001, beta1=0.9, beta2=0.99,
            weight_decay=0.01):
    """EmoLynx: Lion's sign step scaled by a loss-trend "emotion".

    DRIVE_DOC
    u = sign(interp(g, m, beta1));  m = interp(g, m, beta2)
    update = lr * drive * u + lr * weight_decay * w

    muooon, "EmoNavi: An emotion-driven optimizer that feels loss and navigates accordingly"
    (2025, github.com/muooon/EmoNavi).
    """DRIVE
    u = sign(interp(g, m, beta1))
    m = interp(g, m, beta2)
    return lr * drive * u + lr * weight_decay * w, m, short, long
'''.replace("DRIVE_DOC", _DRIVE_DOC).replace('"""DRIVE', '"""' + _DRIVE.rstrip("\n"))


def _emo(cls):
    def make(params, h):
        from discover.references import elementwise  # noqa: PLC0415

        eps = {"eps": h["eps"]} if "eps" in h else {}  # EmoLynx has no eps
        return getattr(elementwise, cls)(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]),
                                         weight_decay=h["weight_decay"], **eps)

    return make


_PAPER = "EmoNavi: An emotion-driven optimizer that feels loss and navigates accordingly"
_NOTES = ("Verified against a paper-form reference: pytorch_optimizer's version picks between "
          "two ratios by a comparison that is decided by rounding (see the module docstring); it "
          "agrees with the program to 1e-15 until its first such pick (step 32 of the EmoNavi "
          "check). pytorch_optimizer keeps the loss averages once per optimizer and updates "
          "them once per parameter group; the program keeps them per group (the same with one "
          "group). The shadow-weight option (use_shadow, off by default) is not part of the "
          "program. Decoupled weight decay.")

ENTRIES = (
    Entry(
        name="emonavi",
        source=EMONAVI,
        paper=_PAPER,
        authors="muooon",
        year=2025,
        references=(
            Reference("discover.references.elementwise.EmoNaviExact", _emo("EmoNaviExact")),
        ),
        settings=({}, {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.0},
                  {"lr": 0.003, "beta2": 0.9, "eps": 1e-12, "weight_decay": 0.1}),
        notes=_NOTES,
    ),
    Entry(
        name="emolynx",
        source=EMOLYNX,
        paper=_PAPER,
        authors="muooon",
        year=2025,
        references=(
            Reference("discover.references.elementwise.EmoLynxExact", _emo("EmoLynxExact")),
        ),
        settings=({}, {"lr": 0.003, "beta1": 0.95, "beta2": 0.98, "weight_decay": 0.0},
                  {"lr": 0.0003, "beta1": 0.5, "beta2": 0.999, "weight_decay": 0.1}),
        notes=_NOTES + " pytorch_optimizer.EmoLynx's eps argument is never used by its "
                       "update and is not a hyperparameter of the program.",
    ),
)
