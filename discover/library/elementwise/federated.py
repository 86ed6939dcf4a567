"""Server optimizers of adaptive federated optimization: FedAdagrad, FedAdam and FedYogi.

The server treats minus the average client change, ``g = -mean_i(x_i - x)``, as a gradient and
takes an Adagrad / Adam / Yogi step without bias correction, with ``tau`` as the denominator's
constant. Only the server update is a program; the client loop (local SGD epochs, sampling,
averaging) sits outside the optimizer. The three programs differ only in the line that updates
``v``.

References: the paper's Algorithm 2 as ``discover.references.elementwise.FedOptServer``
(no package implements it).
"""

from __future__ import annotations

from ..base import Entry, Reference

__all__ = ["ENTRIES"]

FEDADAGRAD = '''
def fedadagrad(w, g, m, v: initial_accumulator, lr=0.01, beta1=0.9, tau=0.001,
               initial_accumulator=1e-06):
    """FedAdagrad: the server's Adagrad step on the pseudo-gradient.

    m = interp(g, m, beta1);  v = v + g^2  (v starts at initial_accumulator >= tau^2)
    update = lr * m / (sqrt(v) + tau)

    Reddi, Charles, Zaheer, Garrett, Rush, Konecny, Kumar & McMahan, "Adaptive Federated
    Optimization" (ICLR 2021), Algorithm 2; g is minus the mean client model change.
    """
    m = interp(g, m, beta1)
    v = v + g * g
    return lr * m / (sqrt(v) + tau), m, v
'''

FEDADAM = '''
def fedadam(w, g, m, v: initial_accumulator, lr=0.01, beta1=0.9, beta2=0.99, tau=0.001,
            initial_accumulator=1e-06):
    """FedAdam: the server's Adam step (no bias correction) on the pseudo-gradient.

    m = interp(g, m, beta1);  v = interp(g^2, v, beta2)
    (v starts at initial_accumulator >= tau^2)
    update = lr * m / (sqrt(v) + tau)

    Reddi, Charles, Zaheer, Garrett, Rush, Konecny, Kumar & McMahan, "Adaptive Federated
    Optimization" (ICLR 2021), Algorithm 2; g is minus the mean client model change.
    """
    m = interp(g, m, beta1)
    v = interp(g * g, v, beta2)
    return lr * m / (sqrt(v) + tau), m, v
'''

FEDYOGI = '''
def fedyogi(w, g, m, v: initial_accumulator, lr=0.01, beta1=0.9, beta2=0.99, tau=0.001,
            initial_accumulator=1e-06):
    """FedYogi: the server's Yogi step on the pseudo-gradient.

    m = interp(g, m, beta1);  v = v - (1 - beta2) g^2 sign(v - g^2)
    (v starts at initial_accumulator >= tau^2)
    update = lr * m / (sqrt(v) + tau)

    Reddi, Charles, Zaheer, Garrett, Rush, Konecny, Kumar & McMahan, "Adaptive Federated
    Optimization" (ICLR 2021), Algorithm 2; g is minus the mean client model change.
    """
    m = interp(g, m, beta1)
    v = v - (1 - beta2) * (g * g) * sign(v - g * g)
    return lr * m / (sqrt(v) + tau), m, v
'''


def _server(variant):
    def make(params, h):
        from discover.references.elementwise import FedOptServer  # noqa: PLC0415

        beta2 = 0.0 if variant == "adagrad" else h["beta2"]  # FedAdagrad has no beta2
        return FedOptServer(params, variant=variant, lr=h["lr"], betas=(h["beta1"], beta2),
                            tau=h["tau"], initial_accumulator=h["initial_accumulator"])

    return make


def _settings(**beta2):
    return ({}, {"lr": 0.03, "beta1": 0.5, "tau": 0.01, "initial_accumulator": 1e-4, **beta2},
            {"lr": 0.003, "beta1": 0.0, "tau": 1e-5, "initial_accumulator": 1e-10})


_PAPER = "Adaptive Federated Optimization"
_NOTES = ("The server step only; the paper tunes lr and tau per task (tau in 1e-1 ... 1e-5) and "
          "starts v at tau^2 or above. beta1 = 0 gives the momentum-free variant.")

ENTRIES = (
    Entry(
        name="fedadagrad",
        source=FEDADAGRAD,
        paper=_PAPER,
        authors="Reddi et al.",
        year=2021,
        references=(Reference("discover.references.elementwise.FedOptServer(variant='adagrad')",
                              _server("adagrad")),),
        settings=_settings(),
        reference_overrides=("variant", "betas"),
        notes=_NOTES,
    ),
    Entry(
        name="fedadam",
        source=FEDADAM,
        paper=_PAPER,
        authors="Reddi et al.",
        year=2021,
        references=(Reference("discover.references.elementwise.FedOptServer(variant='adam')",
                              _server("adam")),),
        settings=_settings(beta2=0.999),
        reference_overrides=("variant",),
        notes=_NOTES,
    ),
    Entry(
        name="fedyogi",
        source=FEDYOGI,
        paper=_PAPER,
        authors="Reddi et al.",
        year=2021,
        references=(Reference("discover.references.elementwise.FedOptServer(variant='yogi')",
                              _server("yogi")),),
        settings=_settings(beta2=0.999),
        reference_overrides=("variant",),
        notes=_NOTES,
    ),
)
