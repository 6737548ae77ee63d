#!/usr/bin/env python3
"""Catalog rules written in PyTorch the way a user would, eager and under torch.compile, on GPT-2 small's parameter
list; timed as OptDsl.GpuBench times its own. The same equations as the OptDsl catalog's declarations
(src/Optimizers/<Name>.cs), with their default hyperparameters except where OptDsl.GpuBench --phases sets its own (the
learning rates of LARS and Momentum-SAM, 1e-2). Scalar state (Prodigy's d, DoG's running values, Stable-SPAM's
averages...) is kept as 0-d float64 device tensors, as the C# keeps it in double, so no step waits for the device.
Usage: python3 pytorch_phases.py out.json [Name ...]   (no names: every rule; "Cautious AdamW", CautiousAdamW and
cautious-adamw name the same one)"""
import json
import re
import sys

import torch

from pytorch_adamw import median_ms, params


def scalar(value=0.0):
    return torch.full((), value, device="cuda", dtype=torch.float64)


def moments(*names):
    """A state of zeroed per-element buffers, and the step as a device tensor: a Python int would change every call
    and make torch.compile recompile."""
    def init(ps):
        state = {"t": torch.zeros((), device="cuda")}
        for name in names:
            state[name] = [torch.zeros_like(p) for p in ps]
        return state
    return init


def rows(p):
    """The matrix of its first dimension and the rest that the catalog's Rows and Columns state sees: a vector is n
    rows of one column."""
    return p.view(p.shape[0], -1)


def adamw(ps, state, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, wd=1e-2):
    """The rule itself, one tensor at a time, not torch.optim.AdamW (pytorch_adamw.py times that)."""
    state["t"] += 1
    t = state["t"]
    for p, m, v in zip(ps, state["m"], state["v"]):
        g = p.grad
        p.mul_(1 - lr * wd)
        m.mul_(b1).add_(g, alpha=1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        p.sub_(lr / (1 - b1 ** t) * m / (v.sqrt() / (1 - b2 ** t).sqrt() + eps))


def lion(ps, state, lr=1e-4, b1=0.9, b2=0.99, wd=0.0):
    for p, m in zip(ps, state["m"]):
        g = p.grad
        p.sub_(lr * (torch.sign(b1 * m + (1 - b1) * g) + wd * p))
        m.mul_(b2).add_(g, alpha=1 - b2)


def lamb(ps, state, lr=1e-3, b1=0.9, b2=0.999, eps=1e-6, wd=0.01):
    state["t"] += 1
    t = state["t"]
    for p, m, v in zip(ps, state["m"], state["v"]):
        g = p.grad
        m.mul_(b1).add_(g, alpha=1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        u = m / (1 - b1 ** t) / ((v / (1 - b2 ** t)).sqrt() + eps) + wd * p
        wn, un = p.norm(), u.norm()
        trust = torch.where((wn > 0) & (un > 0), wn / un, torch.ones_like(wn))
        p.sub_(lr * trust * u)


def lars(ps, state, lr=1e-2, momentum=0.9, wd=5e-4, coefficient=1e-3):
    for p, buf in zip(ps, state["m"]):
        g = p.grad
        wn, gn = p.norm(), g.norm()
        local = torch.where((wn > 0) & (gn > 0), coefficient * wn / (gn + wd * wn), torch.ones_like(wn))
        buf.mul_(momentum).add_(lr * local * (g + wd * p))
        p.sub_(buf)


def cautious_adamw(ps, state, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, wd=1e-2):
    state["t"] += 1
    t = state["t"]
    for p, m, v in zip(ps, state["m"], state["v"]):
        g = p.grad
        p.mul_(1 - lr * wd)
        m.mul_(b1).add_(g, alpha=1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        mask = (m * g > 0).to(g.dtype)
        kept = mask.mean().clamp_min(1e-3)
        p.sub_(lr / (1 - b1 ** t) * m / ((v / (1 - b2 ** t)).sqrt() + eps) * (mask / kept))


def cautious_lion(ps, state, lr=1e-4, b1=0.9, b2=0.99, wd=0.0):
    for p, m in zip(ps, state["m"]):
        g = p.grad
        u = torch.sign(b1 * m + (1 - b1) * g)
        mask = (u * g > 0).to(g.dtype)
        kept = mask.mean().clamp_min(1e-3)
        p.sub_(lr * (u * (mask / kept) + wd * p))
        m.mul_(b2).add_(g, alpha=1 - b2)


def adafactor_state(ps):
    return {"t": torch.zeros((), device="cuda"),
            "row": [torch.zeros(p.shape[0], device="cuda") for p in ps],
            "column": [torch.zeros(p.numel() // p.shape[0], device="cuda") for p in ps]}


def adafactor(ps, state, lr=1e-3, eps1=1e-30, eps2=1e-3, clip_threshold=1.0, decay_rate=-0.8, b1=0.0, wd=0.0,
              scale_parameter=True, relative_step=True, warmup_init=False):
    """Factored over the first dimension and the rest: a vector is n rows of one column, whose two averages multiply
    back to its unfactored second moment. The catalog's default b1 = 0 keeps no first moment (a run with b1 > 0 needs
    state["m"], zeros like the parameters)."""
    state["t"] += 1
    t = state["t"]
    if relative_step:
        rho = torch.minimum(1e-6 * t, t.rsqrt()) if warmup_init else t.rsqrt().clamp_max(1e-2)
    else:
        rho = lr
    beta = 1 - t ** decay_rate
    for i, (p, row, column) in enumerate(zip(ps, state["row"], state["column"])):
        g = rows(p.grad)
        alpha = p.square().mean().sqrt().clamp_min(eps2) * rho if scale_parameter else rho
        squared = g * g + eps1
        row.mul_(beta).add_((1 - beta) * squared.mean(1))
        column.mul_(beta).add_((1 - beta) * squared.mean(0))
        u = g * (row / row.mean()).rsqrt()[:, None] * column.rsqrt()
        u = (alpha * u / (u.square().mean().sqrt() / clip_threshold).clamp_min(1)).view_as(p)
        if b1 != 0:
            m = state["m"][i]
            m.mul_(b1).add_(u, alpha=1 - b1)
            u = m
        p.sub_(wd * alpha * p + u)


def prodigy_state(ps):
    """d and its running maximum start at d0: the C# rule reads d0 for both at its first step."""
    zeros = lambda: [torch.zeros_like(p) for p in ps]
    return {"t": torch.zeros((), device="cuda"), "m": zeros(), "v": zeros(), "s": zeros(),
            "x0": [p.detach().clone() for p in ps], "d": scalar(1e-6), "d_max": scalar(1e-6), "numerator": scalar()}


def prodigy(ps, state, lr=1.0, b1=0.9, b2=0.999, b3=0.0, eps=1e-8, wd=0.0, decouple=True, bias_correction=False,
            safeguard_warmup=False, d0=1e-6, d_coef=1.0, growth_rate=3.4028234663852886e38):
    """Two passes: the sums over every tensor that give d, then the update with the new d. Without gradients so far
    (the denominator zero) the update is multiplied by 0, where the authors' step returns early."""
    state["t"] += 1
    t = state["t"]
    b3 = b3 if b3 > 0 else b2 ** 0.5
    correction = (1 - b2 ** t).sqrt() / (1 - b1 ** t) if bias_correction else 1.0
    d = state["d"]
    dlr = d * lr * correction
    scale = d / d0
    numerators, denominators = [], []
    for p, m, v, s, x0 in zip(ps, state["m"], state["v"], state["s"], state["x0"]):
        g = p.grad if decouple else p.grad + wd * p
        numerators.append((g * (x0 - p)).sum())
        m.mul_(b1).add_(d * (1 - b1) * g)
        v.mul_(b2).add_(d * d * (1 - b2) * g * g)
        s.mul_(b3).add_(scale * (d if safeguard_warmup else dlr) * g)
        denominators.append(s.abs().sum())
    numerator = state["numerator"].mul_(b3).add_(scale * dlr * torch.stack(numerators).sum().double())
    denominator = torch.stack(denominators).sum().double()
    d_hat = torch.where(denominator > 0, d_coef * numerator / denominator, d)
    grown = torch.where(d == d0, torch.maximum(d, d_hat), d)
    state["d_max"].copy_(torch.maximum(state["d_max"], d_hat))
    d.copy_(torch.minimum(state["d_max"], grown * growth_rate))
    step = (denominator > 0).double() * dlr
    for p, m, v in zip(ps, state["m"], state["v"]):
        u = m / (v.sqrt() + d * eps)
        if decouple:
            u = u + wd * p
        p.sub_(step * u)


def dog_state(ps):
    """The largest distance starts at r_eps = reps_rel (1 + ||x0||), the value the C# rule takes at its first step."""
    x0 = [p.detach().clone() for p in ps]
    return {"x0": x0, "rbar": 1e-6 * (1 + torch.stack([x.norm() for x in x0]).norm().double()), "gsum": scalar()}


def dog(ps, state, lr=1.0, eps=1e-8, wd=0.0):
    """Global DoG (not L-DoG): the distance and the gradients' norm over every tensor, then the update."""
    ds = [p.grad + wd * p for p in ps]
    distance = torch.stack([(p - x0).norm() for p, x0 in zip(ps, state["x0"])]).norm().double()
    state["rbar"].copy_(torch.maximum(state["rbar"], distance))
    state["gsum"].add_(torch.stack([(d * d).sum() for d in ds]).sum().double())
    step = lr * state["rbar"] / (state["gsum"] + eps).sqrt()
    for p, d in zip(ps, ds):
        p.sub_(step * d)


def sgd_sai_state(ps):
    return {"first": True, "buffer": [torch.zeros_like(p) for p in ps], "gsnr": [scalar() for _ in ps]}


def sgd_sai(ps, state, lr=1e-2, momentum=0.9, wd=1e-2, eps=1e-8):
    """Each tensor's scale is found at the first step behind a host-side flag, as the authors' implementation finds
    it when its state is missing: torch.compile compiles twice, and later steps reduce nothing, as the C# rule's
    skipped phase. The buffer starts as the first gradient."""
    if state["first"]:
        state["first"] = False
        for p, buf, gsnr in zip(ps, state["buffer"], state["gsnr"]):
            g = p.grad
            sigma, norm = g.std().double(), g.norm().double()
            gsnr.copy_(torch.where(sigma > 0, norm / (sigma + eps), norm))
            buf.copy_(g)
    for p, buf, gsnr in zip(ps, state["buffer"], state["gsnr"]):
        buf.mul_(momentum).add_(p.grad, alpha=1 - momentum)
        p.mul_(1 - lr * wd)
        p.sub_(lr * gsnr * buf)


def stable_spam_state(ps):
    state = moments("m", "v")(ps)
    for name in ["count", "max", "norm", "squared"]:
        state[name] = [scalar() for _ in ps]
    return state


def stable_spam(ps, state, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, gamma1=0.7, gamma2=0.9, gamma3=0.999,
                delta_t=1000):
    """Per-tensor statistics. The reset zeroes m and v by a factor 0 on their decay (the same unless they hold
    infinities or NaNs), so the step needs no host branch on the device's step counter."""
    state["t"] += 1
    t = state["t"]
    reset = torch.remainder(t, delta_t) == 0 if delta_t > 0 else torch.zeros_like(t, dtype=torch.bool)
    keep = (~reset).to(torch.float32)
    for p, m, v, count, largest_avg, norm_avg, squared_avg in zip(
            ps, state["m"], state["v"], state["count"], state["max"], state["norm"], state["squared"]):
        g = p.grad
        p.mul_(1 - lr * wd)
        count.add_(1)
        largest = g.abs().max().double()
        largest_avg.mul_(gamma3).add_((1 - gamma3) * largest)
        limit = largest_avg / (1 - gamma3 ** count)
        g = torch.where(g.abs() > limit, g / largest * limit, g)
        norm = g.norm().double()
        norm_avg.mul_(gamma1).add_((1 - gamma1) * norm)
        squared_avg.mul_(gamma2).add_((1 - gamma2) * norm * norm)
        target = norm_avg / (1 - gamma1 ** count) / ((squared_avg / (1 - gamma2 ** count)).sqrt() + eps)
        g = g * torch.where(norm > 0, target / norm, torch.ones_like(norm))
        count.copy_(torch.where(reset, torch.ones_like(count), count))
        m.mul_(b1 * keep).add_(g, alpha=1 - b1)
        v.mul_(b2 * keep).addcmul_(g, g, value=1 - b2)
        p.sub_(lr / (1 - b1 ** count) * m / (v.sqrt() / (1 - b2 ** count).sqrt() + eps))


def momentum_sam_state(ps):
    return {"v": [torch.zeros_like(p) for p in ps], "inverse_norm": scalar()}


def momentum_sam(ps, state, lr=1e-2, momentum=0.9, rho=0.3, wd=0.01):
    """The whole rule: its gradient is the one taken at the perturbed point the previous step left in the parameters,
    so a step needs no closure and no second gradient. Two passes: back to w, the momentum step and the new
    momentum's norm over every tensor; then the new perturbation."""
    inverse = state["inverse_norm"]
    squares = []
    for p, v in zip(ps, state["v"]):
        d = p.grad + wd * p
        p.add_(rho * inverse * v)
        v.mul_(momentum).add_(d)
        p.sub_(lr * v)
        squares.append(v.square().sum())
    inverse.copy_(1 / (torch.stack(squares).sum().double().sqrt() + 1e-12))
    for p, v in zip(ps, state["v"]):
        p.sub_(rho * inverse * v)


def adam_mini_state(ps):
    return {"t": torch.zeros((), device="cuda"), "m": [torch.zeros_like(p) for p in ps],
            "v": [torch.zeros(p.shape[0], device="cuda") for p in ps]}


def adam_mini(ps, state, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, wd=0.0):
    """One second moment per row of the first dimension and the rest (per element for a vector), as the catalog's."""
    state["t"] += 1
    t = state["t"]
    for p, m, v in zip(ps, state["m"], state["v"]):
        g = p.grad
        p.mul_(1 - lr * wd)
        m.mul_(b1).add_(g, alpha=1 - b1)
        v.mul_(b2).add_(rows(g * g).mean(1), alpha=1 - b2)
        denom = v.sqrt() / (1 - b2 ** t).sqrt() + eps
        p.sub_((lr / (1 - b1 ** t) * rows(m) / denom[:, None]).view_as(p))


RULES = [
    ("AdamW", adamw, moments("m", "v")),
    ("LAMB", lamb, moments("m", "v")),
    ("LARS", lars, moments("m")),
    ("Cautious AdamW", cautious_adamw, moments("m", "v")),
    ("Cautious Lion", cautious_lion, moments("m")),
    ("DoG", dog, dog_state),
    ("Prodigy", prodigy, prodigy_state),
    ("Momentum-SAM", momentum_sam, momentum_sam_state),
    ("Stable-SPAM", stable_spam, stable_spam_state),
    ("SGD-SaI", sgd_sai, sgd_sai_state),
    ("Lion", lion, moments("m")),
    ("Adafactor", adafactor, adafactor_state),
    ("Adam-mini", adam_mini, adam_mini_state),
]


def folded(name):
    return re.sub(r"[^a-z0-9]", "", name.lower())


def main():
    known = {folded(name): name for name, _, _ in RULES}
    unknown = [n for n in sys.argv[2:] if folded(n) not in known]
    if unknown:
        sys.exit(f"unknown rules {unknown}; known: {', '.join(name for name, _, _ in RULES)}")
    chosen = {known[folded(n)] for n in sys.argv[2:]} or set(known.values())
    torch.manual_seed(0)
    results = {}
    for name, rule, init in RULES:
        if name not in chosen:
            continue
        for mode in ["eager", "torch.compile"]:
            key = f"PyTorch {name}, {mode}"
            try:
                ps = params()
                with torch.no_grad():
                    state = init(ps)
                fn = rule if mode == "eager" else torch.compile(rule)
                with torch.no_grad():
                    results[key] = median_ms(lambda: fn(ps, state), windows=5, per_window=5)
                print(f"{key:44} {results[key]:8.3f} ms", flush=True)
            except Exception as e:  # a compiler failure is a result too
                print(f"{key:44} failed: {type(e).__name__}: {str(e)[:200]}", flush=True)
            ps = state = fn = None
            torch.cuda.empty_cache()
    with open(sys.argv[1] if len(sys.argv) > 1 else "pytorch_phases.json", "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
