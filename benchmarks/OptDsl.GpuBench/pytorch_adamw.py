#!/usr/bin/env python3
"""PyTorch's AdamW on GPT-2 small's parameter list, timed as OptDsl.GpuBench times its own (median of windows of
steps between device synchronisations). Usage: python3 benchmarks/OptDsl.GpuBench/pytorch_adamw.py out.json"""
import json
import statistics
import sys
import time

import torch

from gpt2_shapes import gpt2_shapes


def median_ms(step, windows=15, per_window=10):
    for _ in range(5):
        step()
    torch.cuda.synchronize()
    times = []
    for _ in range(windows):
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(per_window):
            step()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000 / per_window)
    return statistics.median(times)


def params():
    ps = [torch.nn.Parameter(torch.randn(s, device="cuda") * 0.02) for s in gpt2_shapes()]
    for p in ps:
        p.grad = torch.randn_like(p) * 1e-3
    return ps


def main():
    torch.manual_seed(0)
    results = {}
    for name, kwargs in [("PyTorch AdamW fused=True", {"fused": True}), ("PyTorch AdamW foreach=True", {"foreach": True})]:
        opt = torch.optim.AdamW(params(), lr=1e-3, **kwargs)
        results[name] = median_ms(opt.step)
        print(f"{name:44} {results[name]:8.3f} ms", flush=True)
        del opt
        torch.cuda.empty_cache()
    # Global-norm clipping in front of the fused step, as a PyTorch training loop writes it.
    ps = params()
    opt = torch.optim.AdamW(ps, lr=1e-3, fused=True)

    def clipped_step():
        torch.nn.utils.clip_grad_norm_(ps, 1.0, foreach=True)
        opt.step()

    name = "PyTorch clip_grad_norm_ + AdamW fused"
    results[name] = median_ms(clipped_step)
    print(f"{name:44} {results[name]:8.3f} ms", flush=True)
    with open(sys.argv[1] if len(sys.argv) > 1 else "pytorch.json", "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
