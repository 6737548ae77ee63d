#!/usr/bin/env python3
"""The PyTorch twin of the Transformer example: the same GPT on bytes, from the same initial weights, on the same
batches, with torch.optim.Muon for the hidden matrices and AdamW(fused=True) for the rest, the same WSD factors and
global-norm clip, timed the same way. Reads the folder `Transformer --export` wrote; writes a run log that
`Transformer report` reads.
Usage: python3 pytorch_gpt.py export-folder pytorch.json"""
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(width)
        self.attn_qkv = nn.Linear(width, 3 * width)
        self.attn_proj = nn.Linear(width, width)
        self.ln2 = nn.LayerNorm(width)
        self.mlp_fc = nn.Linear(width, 4 * width)
        self.mlp_proj = nn.Linear(4 * width, width)

    def forward(self, x):
        b, t, c = x.shape
        qkv = self.attn_qkv(self.ln1(x)).view(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], is_causal=True)
        x = x + self.attn_proj(y.transpose(1, 2).reshape(b, t, c))
        return x + self.mlp_proj(F.gelu(self.mlp_fc(self.ln2(x))))


class Gpt(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.tok_embed = nn.Embedding(256, m["Width"])
        self.pos_embed = nn.Embedding(m["Context"], m["Width"])
        self.blocks = nn.ModuleList([Block(m["Width"], m["Heads"]) for _ in range(m["Layers"])])
        self.ln_f = nn.LayerNorm(m["Width"])
        self.head = nn.Linear(m["Width"], 256, bias=False)

    def forward(self, tokens):
        x = self.tok_embed(tokens) + self.pos_embed(torch.arange(tokens.shape[1], device=tokens.device))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


def load(folder):
    with open(os.path.join(folder, "manifest.json")) as f:
        manifest = json.load(f)
    corpus = np.fromfile(os.path.join(folder, "corpus.bin"), dtype=np.uint8)
    init = np.fromfile(os.path.join(folder, "init.bin"), dtype=np.float32)
    offsets = np.fromfile(os.path.join(folder, "offsets.bin"), dtype=np.int64)
    eval_offsets = np.fromfile(os.path.join(folder, "eval_offsets.bin"), dtype=np.int64)
    return manifest, corpus, init, offsets, eval_offsets


def main(folder, out):
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    manifest, corpus, init, offsets, eval_offsets = load(folder)
    m, r, steps = manifest["model"], manifest["recipe"], manifest["steps"]
    batch, context = m["Batch"], m["Context"]
    device = torch.device("cuda")

    model = Gpt(m)
    named = dict(model.named_parameters())
    at = 0
    with torch.no_grad():
        for p in manifest["parameters"]:
            t = named[p["name"]]
            assert list(t.shape) == p["shape"], (p["name"], t.shape, p["shape"])
            t.copy_(torch.from_numpy(init[at:at + t.numel()].copy()).view_as(t))
            at += t.numel()
    assert at == init.size, "init.bin holds other parameters"
    model.to(device)

    # The example's routing: matrices of two or more dimensions whose names hold neither "embed" nor "head".
    hidden = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embed" not in n and "head" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embed" not in n and "head" not in n)]
    muon = torch.optim.Muon(hidden, lr=r["MuonLr"], momentum=r["MuonMomentum"], nesterov=True, weight_decay=r["MuonWeightDecay"])
    adamw = torch.optim.AdamW(rest, lr=r["AdamLr"], betas=(r["Beta1"], r["Beta2"]), eps=r["AdamEps"], weight_decay=0.0, fused=True)
    factors = manifest["lrFactor"]
    schedules = [torch.optim.lr_scheduler.LambdaLR(o, lambda s: factors[min(s, steps - 1)]) for o in (muon, adamw)]

    data = torch.from_numpy(corpus).to(device)
    window = torch.arange(context + 1, device=device)

    def batch_at(starts):
        b = data[(torch.from_numpy(starts).to(device).unsqueeze(1) + window).view(-1)].view(len(starts), context + 1).long()
        return b[:, :-1], b[:, 1:]

    def validate():
        model.eval()
        with torch.no_grad():
            total = 0.0
            for k in range(manifest["evalBatches"]):
                x, y = batch_at(eval_offsets[k * batch:(k + 1) * batch])
                total += F.cross_entropy(model(x).view(-1, 256), y.reshape(-1)).item()
        model.train()
        return total / manifest["evalBatches"]

    losses, validation, step_ms, optimizer_ms = [], [[0, validate()]], [], []
    params = list(model.parameters())
    for step in range(steps):
        x, y = batch_at(offsets[step * batch:(step + 1) * batch])
        torch.cuda.synchronize()
        start = time.perf_counter()
        loss = F.cross_entropy(model(x).view(-1, 256), y.reshape(-1))
        loss.backward()
        torch.cuda.synchronize()
        backward_end = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(params, r["ClipNorm"])
        muon.step()
        adamw.step()
        muon.zero_grad()
        adamw.zero_grad()
        torch.cuda.synchronize()
        optimizer_end = time.perf_counter()
        losses.append(loss.item())
        step_ms.append((time.perf_counter() - start) * 1000)
        optimizer_ms.append((optimizer_end - backward_end) * 1000)
        for s in schedules:
            s.step()
        if (step + 1) % manifest["evalEvery"] == 0 or step + 1 == steps:
            validation.append([step + 1, validate()])
        if (step + 1) % max(1, steps // 10) == 0:
            print(f"step {step + 1}/{steps}  loss {losses[-1]:.4f}", flush=True)

    skip = min(10, steps // 2)
    median_step = statistics.median(step_ms[skip:])
    state = sum(t.numel() * t.element_size() for o in (muon, adamw) for s in o.state.values() for t in s.values() if torch.is_tensor(t) and t.dim() > 0)
    log = {
        "Framework": f"PyTorch {torch.__version__.split('+')[0]}",
        "Device": str(device), "Model": m["Name"],
        "Parameters": sum(p.numel() for p in params), "MuonParameters": sum(p.numel() for p in hidden),
        "TokensPerStep": batch * context,
        "Losses": losses, "Validation": validation,
        "StepMs": median_step, "OptimizerMs": statistics.median(optimizer_ms[skip:]),
        "TokensPerSecond": batch * context / median_step * 1000, "StateBytes": state,
    }
    with open(out, "w") as f:
        json.dump(log, f, indent=1)
    print(f"step {median_step:.1f} ms, optimizer {log['OptimizerMs']:.2f} ms, {log['TokensPerSecond']:,.0f} tokens/s")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
