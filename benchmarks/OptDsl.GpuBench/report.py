#!/usr/bin/env python3
"""Prints OptDsl.GpuBench's and pytorch_adamw.py's results side by side, each as a ratio to its copy floor.
Usage: python3 benchmarks/OptDsl.GpuBench/report.py csharp.json pytorch.json [more.json ...] (more: pytorch_muon.py's,
or a later --clip or --muon run of either side, whose rows replace the earlier ones)"""
import json
import sys

ours = json.load(open(sys.argv[1]))
theirs = json.load(open(sys.argv[2]))
for extra in sys.argv[3:]:
    theirs.update(json.load(open(extra)))
ours = {k: theirs.get(k, v) if k.startswith("OptDsl") and k in theirs else v for k, v in ours.items()}
floor28 = ours["copy floor (28 B/element)"]
floor20 = ours["copy floor (20 B/element)"]
floor22 = ours["copy floor (22 B/element)"]
rows = [
    ("copy floor (28 B/element)", floor28),
    ("OptDsl AdamW, fused CUDA", floor28),
    ("PyTorch AdamW fused=True", floor28),
    ("PyTorch AdamW foreach=True", floor28),
    ("TorchSharp AdamW (built-in)", floor28),
    ("OptDsl AdamW, portable", floor28),
    ("copy floor (20 B/element)", floor20),
    ("OptDsl Lion, fused CUDA", floor20),
    ("OptDsl SGD Nesterov, fused CUDA", floor20),
    ("copy floor (22 B/element)", floor22),
    ("OptDsl AdamW bf16 params, fused CUDA", floor22),
]
print(f"| {'what (GPT-2 small, 148 tensors, 124.4M fp32)':46} | {'ms/step':>8} | {'x floor':>7} |")
print(f"| {'-' * 46} | {'-' * 8} | {'-' * 7} |")
for name, floor in rows:
    ms = ours.get(name, theirs.get(name))
    if ms is not None:
        print(f"| {name:46} | {ms:8.3f} | {ms / floor:7.2f} |")
fused = ours["OptDsl AdamW, fused CUDA"]
print()
print(f"OptDsl fused AdamW vs PyTorch fused AdamW: {theirs['PyTorch AdamW fused=True'] / fused:.2f}x faster")
print(f"OptDsl fused AdamW vs TorchSharp AdamW:    {ours['TorchSharp AdamW (built-in)'] / fused:.1f}x faster")

muon = ours.get("OptDsl Muon, 48 hidden matrices")
if muon is not None:
    print()
    print("| Muon, GPT-2 small's 48 hidden matrices | ms/step |")
    print("| --- | --- |")
    for name in ["OptDsl Muon, 48 hidden matrices", "PyTorch Muon, per-matrix loop", "PyTorch Muon, batched per shape",
                 "OptDsl Newton-Schulz alone, 4 bf16 batches", "PyTorch Newton-Schulz alone, 4 bf16 batches"]:
        ms = ours.get(name, theirs.get(name))
        if ms is not None:
            print(f"| {name} | {ms:.3f} |")

plain = theirs.get("OptDsl AdamW, fused CUDA (no clipping)", ours.get("OptDsl AdamW, fused CUDA (no clipping)"))
if plain is not None:
    print()
    print("| Global-norm clipping (max norm 1) in front of AdamW | ms/step | clipping's cost |")
    print("| --- | --- | --- |")
    baselines = {"OptDsl": plain, "PyTorch": theirs["PyTorch AdamW fused=True"]}
    for name in ["OptDsl AdamW, fused CUDA (no clipping)", "OptDsl ClipGradNorm + AdamW, factor in kernel",
                 "OptDsl ClipGradNorm + AdamW, grads scaled", "PyTorch AdamW fused=True", "PyTorch clip_grad_norm_ + AdamW fused"]:
        ms = theirs.get(name, ours.get(name))
        if ms is not None:
            print(f"| {name} | {ms:.3f} | {ms - baselines[name.split()[0]]:+.3f} |")
