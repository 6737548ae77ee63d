#!/usr/bin/env python3
"""Muon's step on GPT-2 small's 48 hidden matrices in PyTorch, two ways, timed as OptDsl.GpuBench times its own:
one matrix at a time (the reference implementation's loop) and one batched bf16 matmul chain per shape.
Usage: python3 benchmarks/OptDsl.GpuBench/pytorch_muon.py out.json"""
import json
import sys

import torch

from pytorch_adamw import median_ms

A, B, C = 3.4445, -4.7750, 2.0315


def hidden_shapes():
    d = 768
    return [s for _ in range(12) for s in [(d, 3 * d), (d, d), (d, 4 * d), (4 * d, d)]]


def newton_schulz(g, steps=5):
    # Batched over leading dimensions: unit Frobenius norm, then X <- aX + (bA + cA^2)X with A = XX^T.
    x = g.bfloat16()
    tall = g.size(-2) > g.size(-1)
    if tall:
        x = x.mT
    x = x / (x.norm(dim=(-2, -1), keepdim=True) + 1e-7)
    for _ in range(steps):
        a = x @ x.mT
        x = A * x + (B * a + C * a @ a) @ x
    return x.mT if tall else x


def setup():
    ps = [torch.randn(s, device="cuda") * 0.02 for s in hidden_shapes()]
    gs = [torch.randn_like(p) * 1e-3 for p in ps]
    bufs = [torch.zeros_like(p) for p in ps]
    return ps, gs, bufs


def step_loop(ps, gs, bufs, lr=0.02, beta=0.95):
    for p, g, buf in zip(ps, gs, bufs):
        buf.lerp_(g, 1 - beta)
        u = g.lerp(buf, beta)
        o = newton_schulz(u)
        p.add_(o.to(p.dtype), alpha=-lr * max(1, p.size(-2) / p.size(-1)) ** 0.5)


def step_batched(groups, lr=0.02, beta=0.95):
    for ps, gs, bufs in groups:
        torch._foreach_lerp_(bufs, gs, 1 - beta)
        u = torch.stack([g.lerp(b, beta) for g, b in zip(gs, bufs)])
        o = newton_schulz(u)
        scale = max(1, ps[0].size(-2) / ps[0].size(-1)) ** 0.5
        torch._foreach_add_(ps, list(o.to(ps[0].dtype).unbind(0)), alpha=-lr * scale)


def main():
    torch.manual_seed(0)
    results = {}
    ps, gs, bufs = setup()
    results["PyTorch Muon, per-matrix loop"] = median_ms(lambda: step_loop(ps, gs, bufs), windows=9, per_window=5)
    by_shape = {}
    for p, g, b in zip(ps, gs, bufs):
        by_shape.setdefault(tuple(p.shape), ([], [], []))
        for lst, t in zip(by_shape[tuple(p.shape)], (p, g, b)):
            lst.append(t)
    results["PyTorch Muon, batched per shape"] = median_ms(lambda: step_batched(list(by_shape.values())), windows=9, per_window=5)
    # Where the time goes: the per-shape Newton-Schulz chains alone, on inputs already stacked in bf16.
    batches = [torch.randn(len(v[0]), *k, device="cuda").bfloat16() for k, v in by_shape.items()]
    results["PyTorch Newton-Schulz alone, 4 bf16 batches"] = median_ms(lambda: [newton_schulz(b) for b in batches], windows=9, per_window=5)
    for name, ms in results.items():
        print(f"{name:44} {ms:8.3f} ms", flush=True)
    with open(sys.argv[1] if len(sys.argv) > 1 else "pytorch_muon.json", "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
