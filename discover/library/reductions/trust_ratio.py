"""Trust ratios: layer-wise step sizes from the ratio of weight and update norms -- LARS,
TVLARS, LAMB (the paper's and pytorch_optimizer's) and Adalite.

The per-tensor norms (``norm``) broadcast back over the tensor; Adalite also factors its
moments into row and column statistics (``row_mean``, ``col_mean``, ``unit_sum``).
"""

from __future__ import annotations

from ..base import Entry, Reference

__all__ = ["ENTRIES"]

LARS = '''
def lars(w, g, b, lr=0.001, weight_decay=0.0, momentum=0.9, dampening=0.0,
         trust_coefficient=0.001, nesterov=0.0):
    """LARS: layer-wise adaptive rate scaling, as pytorch_optimizer.LARS.

    for tensors with 2 or more dims (others skip both the ratio and the decay):
        ratio = trust_coefficient * ||w|| / (||g|| + weight_decay * ||w||)  (1 at zero norms)
        d = ratio * (g + weight_decay * w)
    b = momentum * b + (1 - dampening) * d;  update = lr * (d + momentum * b if nesterov else b)

    You, Gitman & Ginsburg, "Large Batch Training of Convolutional Networks" (2017).
    """
    wn = norm(w)
    den = norm(g) + weight_decay * wn
    ratio = where(wn, where(den, trust_coefficient * wn / den, 1), 1)
    d = where(ndim(w) - 1, (g + weight_decay * w) * ratio, g)
    b = momentum * b + (1 - dampening) * d
    return lr * where(nesterov, d + momentum * b, b), b
'''

TVLARS = '''
def tvlars(w, g, b, t, lr=1.0, momentum=0.9, eta=0.001, weight_decay=0.0005, alpha=0.1,
           lmbda=0.001, delay=0.0, gamma_min=0.0):
    """TVLARS: LARS with a time-varying trust ratio in place of a learning-rate warm-up.

    d = g + weight_decay * w
    phi_t = 1 / (alpha + exp(lmbda * (t - delay))) + gamma_min
    ratio = eta * phi_t * ||w|| / ||d||  (1 where a norm is zero)
    b = momentum * b + ratio * d;  update = lr * b

    Do et al., "Revisiting LARS for Large Batch Training Generalization of Neural Networks"
    (2023).
    """
    d = g + weight_decay * w
    wn = norm(w)
    dn = norm(d)
    phi = 1 / (alpha + exp(lmbda * (t - delay))) + gamma_min
    ratio = where(wn, where(dn, eta * phi * wn / dn, 1), 1)
    b = momentum * b + ratio * d
    return lr * b, b
'''

LAMB = '''
def lamb(w, g, m, v, t, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-06, weight_decay=0.01,
         clamp_value=10.0):
    """LAMB: Adam direction with a layer-wise trust ratio (the paper's Algorithm 2).

    m = interp(g, m, beta1);  v = interp(g^2, v, beta2)
    r = m / (1 - beta1^t) / (sqrt(v / (1 - beta2^t)) + eps) + weight_decay * w
    update = lr * min(||w||, clamp_value) / ||r|| * r   (ratio 1 where a norm is zero)

    You et al., "Large Batch Optimization for Deep Learning: Training BERT in 76 minutes"
    (2020).
    """
    m = interp(g, m, beta1)
    v = interp(g * g, v, beta2)
    r = m / (1 - beta1 ** t) / (sqrt(v / (1 - beta2 ** t)) + eps) + weight_decay * w
    wn = min(norm(w), clamp_value)
    rn = norm(r)
    ratio = where(wn, where(rn, wn / rn, 1), 1)
    return lr * ratio * r, m, v
'''

LAMB_PO = '''
def lamb_po(w, g, m, v, t, lr=0.001, beta1=0.9, beta2=0.999, weight_decay=0.0,
            weight_decouple=1.0, grad_averaging=1.0, adam=0.0, eps=1e-06):
    """LAMB as pytorch_optimizer.Lamb: no bias correction of v, decay before the ratio.

    w1 = w (1 - lr weight_decay)  (decoupled; else the decay is added to r)
    m = beta1 m + (1 - beta1 if grad_averaging else 1) g;  v = beta2 v + (1 - beta2) g^2
    r = m / (sqrt(v) + eps);  ratio = min(||w1||, 10) / (||r|| + eps)  (1 at zero norms or adam)
    w_new = w1 - lr / (1 - beta1^t) * ratio * r;  update = w - w_new

    You et al., "Large Batch Optimization for Deep Learning: Training BERT in 76 minutes"
    (2020), in pytorch_optimizer's version (see lamb for the paper's Algorithm 2).
    """
    w1 = w * (1 - where(weight_decouple, lr * weight_decay, 0))
    m = beta1 * m + where(grad_averaging, 1 - beta1, 1) * g
    v = beta2 * v + (1 - beta2) * (g * g)
    r = m / (sqrt(v) + eps) + where(weight_decouple, 0, weight_decay) * w
    wn = min(norm(w1), 10)
    rn = norm(r)
    ratio = where(adam, 1, where(wn, where(rn, wn / (rn + eps), 1), 1))
    return w - (w1 - lr / (1 - beta1 ** t) * ratio * r), m, v
'''

ADALITE = '''
def adalite(w, g, m1, v1, vr, vc, mc, mr, mu, t, lr=0.001, beta1=0.9, beta2=0.999,
            weight_decay=0.01, g_norm_min=1e-10, ratio_min=0.0001, tau=1.0, eps1=1e-06,
            eps2=1e-10):
    """Adalite: a trust-ratio-scaled gradient with factored, importance-weighted moments.

    gt = g * max(||w|| / max(||g||, g_norm_min), ratio_min)
    vectors: m = interp(gt, m, beta1);  v = interp((gt - m)^2, v, beta2)
    matrices: v = vr vc / max(sum(vr), eps2) and m = mc mu mr are rebuilt from factors, then
        m = interp(gt, m, beta1);  v = interp((gt - m)^2, v, beta2)
        m = interp(m, gt, 1 - softmax(row_mean v) softmax(col_mean v))
        factors: vr = row sums of v, vc = column sums / sum(v); with importances
        ic, ir = softmax(row_mean v / tau), softmax(col_mean v / tau):
        mc = sum_j m ir, mr = sum_i m ic, mu = <mc, m mr> / max(|mc|^2 |mr|^2, eps2)
    update = lr * weight_decay * w + lr * interp(gt, m, beta1) / sqrt(v / (1 - beta2^t) + eps1)

    pytorch_optimizer's Adalite (no paper; after Adafactor, Shazeer & Stern 2018, and
    LAMB's trust ratio).
    """
    mat = ndim(g) - 1
    rows = numel(unit_sum(g))
    ratio = max(norm(w) / max(norm(g), g_norm_min), ratio_min)
    gt = where(numel(g) - 1, g * ratio, g)
    m1 = interp(gt, m1, beta1)
    v1 = interp(square(gt - m1), v1, beta2)
    vm = vr * vc / max(sum(vr), eps2)
    mm = interp(gt, mc * mu * mr, beta1)
    vm = interp(square(gt - mm), vm, beta2)
    rmean = row_mean(vm)
    cmean = col_mean(vm)
    imp = exp(rmean) / sum(exp(rmean)) * (exp(cmean) / sum(exp(cmean)))
    mm = interp(mm, gt, 1 - imp)
    ic = exp(rmean / tau) / sum(exp(rmean / tau))
    ir = exp(cmean / tau) / sum(exp(cmean / tau))
    mc = unit_sum(mm * ir)
    mr = col_mean(mm * ic) * rows
    mu = sum(mc * mm * mr) / max(sum(mc * mc) * sum(mr * mr), eps2)
    vc = col_mean(vm) * rows / max(sum(vm), eps2)
    m = where(mat, mm, m1)
    v = where(mat, vm, v1)
    u = interp(gt, m, beta1) / sqrt(v / (1 - beta2 ** t) + eps1)
    return lr * weight_decay * w + lr * u, m1, v1, unit_sum(vm), vc, mc, mr, mu
'''


def _lars(params, h):
    from pytorch_optimizer import LARS  # noqa: PLC0415 - optional dependency

    return LARS(params, lr=h["lr"], weight_decay=h["weight_decay"], momentum=h["momentum"],
                dampening=h["dampening"], trust_coefficient=h["trust_coefficient"],
                nesterov=bool(h["nesterov"]))


def _tvlars(params, h):
    from discover.references.reductions import TVLARS  # noqa: PLC0415

    return TVLARS(params, lr=h["lr"], momentum=h["momentum"], eta=h["eta"],
                  weight_decay=h["weight_decay"], alpha=h["alpha"], lmbda=h["lmbda"],
                  delay=h["delay"], gamma_min=h["gamma_min"])


def _lamb(params, h):
    from discover.references.reductions import LambPaper  # noqa: PLC0415

    return LambPaper(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"],
                     weight_decay=h["weight_decay"], clamp_value=h["clamp_value"])


def _lamb_po(params, h):
    from pytorch_optimizer import Lamb  # noqa: PLC0415 - optional dependency

    return Lamb(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]),
                weight_decay=h["weight_decay"], weight_decouple=bool(h["weight_decouple"]),
                grad_averaging=bool(h["grad_averaging"]), adam=bool(h["adam"]), eps=h["eps"])


def _adalite(params, h):
    from pytorch_optimizer import Adalite  # noqa: PLC0415 - optional dependency

    return Adalite(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]),
                   weight_decay=h["weight_decay"], g_norm_min=h["g_norm_min"],
                   ratio_min=h["ratio_min"], tau=h["tau"], eps1=h["eps1"], eps2=h["eps2"])



ENTRIES = (
    Entry(
        name="lars",
        source=LARS,
        paper="Large Batch Training of Convolutional Networks",
        authors="You, Gitman & Ginsburg",
        year=2017,
        references=(Reference("pytorch_optimizer.LARS", _lars, requires="pytorch-optimizer"),),
        settings=(
            {},
            {"lr": 0.5, "weight_decay": 0.01, "trust_coefficient": 0.02},
            {"lr": 0.2, "momentum": 0.8, "dampening": 0.1, "nesterov": 1.0,
             "weight_decay": 0.001, "trust_coefficient": 0.01},
        ),
        notes="The paper's rule with lr outside the momentum (b accumulates ratio * (g + wd w); "
              "the paper's global rate gamma multiplies inside). As the package, tensors with "
              "fewer than 2 dims (biases, norms) get neither the trust ratio nor weight decay, "
              "and the ratio is 1 where ||w|| or the denominator is 0. With momentum = 0 the "
              "package skips the buffer, so dampening has no effect there; the program still "
              "scales by 1 - dampening.",
    ),
    Entry(
        # alpha shifts the time-varying denominator, not a decay rate
        bounds=(("alpha", (0.0, None)),),
        name="tvlars",
        source=TVLARS,
        paper="Revisiting LARS for Large Batch Training Generalization of Neural Networks",
        authors="Do et al.",
        year=2023,
        references=(Reference("discover.references.reductions.TVLARS (paper form)", _tvlars),),
        settings=(
            {},
            {"lr": 5.0, "eta": 0.01, "lmbda": 0.05, "delay": 10.0, "alpha": 1.0},
            {"lr": 2.0, "momentum": 0.8, "weight_decay": 0.01, "gamma_min": 0.1,
             "lmbda": 0.02},
        ),
        notes="No package has TVLARS. The time-varying factor phi_t = 1 / (alpha + "
              "exp(lmbda (t - delay))) + gamma_min is the paper's; the rest (weight decay "
              "inside d, ratio eta ||w|| / ||d||, momentum b = mu b + ratio d, lr outside) "
              "follows the authors' code (KhoiDOO/tvlars), whose defaults (alpha = 0.1, "
              "lmbda = 1e-3, no delay or floor) are used. The ratio applies to every tensor; "
              "the official code can exclude 1-D tensors, which the program does not.",
    ),
    Entry(
        name="lamb",
        source=LAMB,
        paper="Large Batch Optimization for Deep Learning: Training BERT in 76 minutes",
        authors="You et al.",
        year=2020,
        references=(Reference("discover.references.reductions.LambPaper (paper form)", _lamb),),
        settings=(
            {},
            {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.1},
            {"lr": 0.003, "eps": 1e-8, "weight_decay": 0.0, "clamp_value": 1.0},
        ),
        notes="The paper's Algorithm 2 with phi(z) = min(z, clamp_value) (clamp_value = 10 as "
              "in common implementations). pytorch_optimizer.Lamb differs: v is not bias "
              "corrected (only the step is divided by 1 - beta1^t), eps is added to the trust "
              "ratio's denominator, and by default the weight decay is decoupled (applied to w "
              "before the ratio is taken, not inside r); it is therefore not a reference here.",
    ),
    Entry(
        name="lamb_po",
        source=LAMB_PO,
        paper="Large Batch Optimization for Deep Learning: Training BERT in 76 minutes",
        authors="You et al.",
        year=2020,
        references=(Reference("pytorch_optimizer.Lamb", _lamb_po, requires="pytorch-optimizer"),),
        settings=(
            {},
            {"lr": 0.01, "beta1": 0.8, "weight_decay": 0.1, "grad_averaging": 0.0},
            {"lr": 0.003, "weight_decay": 0.05, "weight_decouple": 0.0, "beta2": 0.99},
        ),
        notes="The package's LAMB (its rectify and pre_norm options are not covered; adam = 1 "
              "sets the trust ratio to 1). It differs from the paper's Algorithm 2 (lamb): v is "
              "not bias corrected, only the step is divided by 1 - beta1^t, eps is added to "
              "the ratio's denominator and the weight decay is decoupled and applied before "
              "the weight norm is taken.",
    ),
    Entry(
        name="adalite",
        source=ADALITE,
        paper="pytorch_optimizer.Adalite (no paper)",
        authors="Kim (pytorch_optimizer)",
        year=2024,
        references=(Reference("pytorch_optimizer.Adalite", _adalite,
                              requires="pytorch-optimizer"),),
        max_ndim=2,
        settings=(
            {},
            {"lr": 0.01, "tau": 0.5, "beta1": 0.8},
            {"lr": 0.003, "weight_decay": 0.0, "ratio_min": 0.01, "eps1": 1e-8},
        ),
        notes="As the package, for vectors and matrices. The package flattens tensors with "
              "more than 2 dims to (rows, -1) before factoring; the program's row/column "
              "statistics act on the last two dims, so conv kernels are not verified "
              "(max_ndim = 2). The program keeps both the vector-path moments and the "
              "factors as state (a program cannot choose its state by ndim), so a matrix's "
              "state is not smaller than Adam's. The trust ratio is skipped for 1-element "
              "tensors.",
    ),
)
