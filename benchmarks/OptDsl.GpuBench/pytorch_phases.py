#!/usr/bin/env python3
"""Rules with per-tensor reductions (LAMB, LARS, Cautious AdamW, Cautious Lion) written in PyTorch the way a user
would, eager and under torch.compile, on GPT-2 small's parameter list; timed as OptDsl.GpuBench times its own.
The same equations as the OptDsl catalog's declarations. Usage: python3 pytorch_phases.py out.json"""
import json
import sys

import torch

from pytorch_adamw import median_ms, params


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


def lars(ps, state, lr=1e-2, momentum=0.9, wd=0.0, coefficient=1e-3):
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


def main():
    torch.manual_seed(0)
    results = {}
    for name, rule in [("LAMB", lamb), ("LARS", lars), ("Cautious AdamW", cautious_adamw), ("Cautious Lion", cautious_lion)]:
        for mode in ["eager", "torch.compile"]:
            ps = params()
            # The step as a device tensor: a Python int would change every call and make torch.compile recompile.
            state = {"t": torch.zeros((), device="cuda"), "m": [torch.zeros_like(p) for p in ps], "v": [torch.zeros_like(p) for p in ps]}
            fn = rule if mode == "eager" else torch.compile(rule)
            key = f"PyTorch {name}, {mode}"
            try:
                with torch.no_grad():
                    results[key] = median_ms(lambda: fn(ps, state), windows=5, per_window=5)
                print(f"{key:44} {results[key]:8.3f} ms", flush=True)
            except Exception as e:  # a compiler failure is a result too
                print(f"{key:44} failed: {type(e).__name__}: {str(e)[:200]}", flush=True)
            del ps, state
            torch.cuda.empty_cache()
    with open(sys.argv[1] if len(sys.argv) > 1 else "pytorch_phases.json", "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
