#!/usr/bin/env python3
"""Newton-Schulz for Muon, computed four ways on GPT-2 small's 48 hidden matrices: time on the GPU and accuracy
against the same iteration in float64. Used to choose how OptDsl's Matrix.NewtonSchulz runs on CUDA.

  x-space        X <- aX + (bA + cA^2)X, A = XX^T, in bf16, one batched chain per shape (what OptDsl ran before)
  gram           the same polynomial applied to the m x m Gram matrix: with P = aI + bG + cG^2 the iteration is
                 X <- PX, so X_k = Q_k X_0 with Q_k = P_{k-1}...P_0, and G <- P G P; X_0 is multiplied once at the
                 end. For an m x n matrix (m <= n) that is 4k - 3 products of m x m matrices and two of m x m by m x n,
                 against 3k products in x-space of which 2k are m x m by m x n.
  gram-restart   gram, but after `r` iterations X = QX_0 and G = XX^T are formed again from X (bf16 errors in G are
                 amplified by later iterations; a restart drops them).
  gram-all       gram with every matrix of the same short side in one batched m x m chain, whatever its long side
                 (with fresh starts after 3 iterations and then every 2: gram-all-restart).

  polar-*        Polar Express (Amsel et al. 2025, Algorithm 1): a quintic per iteration, the matrix scaled by 1.01 ||X||,
                 on X and in the Gram form with fresh starts (3, 2), against the same iteration in float64.

Usage: python3 benchmarks/OptDsl.GpuBench/ns_variants.py out.json [--polar]   (--polar: only the Polar Express rows)"""
import json
import sys

import torch

from pytorch_adamw import median_ms

A, B, C = 3.4445, -4.7750, 2.0315
STEPS = 5


def hidden_shapes():
    d = 768
    return [s for _ in range(12) for s in [(d, 3 * d), (d, d), (d, 4 * d), (4 * d, d)]]


def wide(x):
    return x.mT if x.size(-2) > x.size(-1) else x


def unit(x):
    return x / (x.float().norm(dim=(-2, -1), keepdim=True) + 1e-7).to(x.dtype)


def ns_x(x, steps=STEPS):
    x = unit(wide(x))
    for _ in range(steps):
        a = x @ x.mT
        x = torch.baddbmm(x, torch.baddbmm(a, a, a, beta=B, alpha=C), x, beta=A) if x.dim() == 3 \
            else A * x + (B * a + C * a @ a) @ x
    return x


def polynomial(g):
    # aI + bG + cG^2
    p = torch.baddbmm(g, g, g, beta=B, alpha=C)
    p.diagonal(dim1=-2, dim2=-1).add_(A)
    return p


def gram_chain(g, steps=STEPS):
    """Q = P_{k-1}...P_0 from G_0, batched."""
    q = None
    for k in range(steps):
        p = polynomial(g)
        q = p if q is None else torch.bmm(p, q)
        if k < steps - 1:
            g = torch.bmm(p, torch.bmm(g, p))
    return q


def ns_gram(x, steps=STEPS, restart=None):
    x = unit(wide(x))
    if restart is None or restart >= steps:
        return torch.bmm(gram_chain(torch.bmm(x, x.mT), steps), x)
    x = torch.bmm(gram_chain(torch.bmm(x, x.mT), restart), x)
    return torch.bmm(gram_chain(torch.bmm(x, x.mT), steps - restart), x)


def ns_gram_all(batches, steps=STEPS):
    """Every batch (same short side m) through one m x m chain; the long sides may differ."""
    xs = [unit(wide(b)) for b in batches]
    g = torch.cat([torch.bmm(x, x.mT) for x in xs])
    q = gram_chain(g, steps)
    out, at = [], 0
    for x in xs:
        out.append(torch.bmm(q[at:at + x.size(0)], x))
        at += x.size(0)
    return out


def ns_gram_all_restart(batches, steps=STEPS, first=3, then=2):
    """gram-all with fresh starts: X and G formed again per shape, the m x m chains shared by every shape."""
    xs = [unit(wide(b)) for b in batches]
    done = 0
    while done < steps:
        k = min(first if done == 0 else then, steps - done)
        q = gram_chain(torch.cat([torch.bmm(x, x.mT) for x in xs]), k)
        out, at = [], 0
        for x in xs:
            out.append(torch.bmm(q[at:at + x.size(0)], x))
            at += x.size(0)
        xs = out
        done += k
    return xs


def ns_reference(x, steps=STEPS):
    x = wide(x.double())
    x = x / (x.norm(dim=(-2, -1), keepdim=True) + 1e-7)
    for _ in range(steps):
        a = x @ x.mT
        x = A * x + (B * a + C * a @ a) @ x
    return x


def spectrum_matrix(m, n, kind, generator):
    if kind == "gaussian":
        return torch.randn(m, n, generator=generator, dtype=torch.float64, device="cuda")
    k = min(m, n)
    u, _ = torch.linalg.qr(torch.randn(m, k, generator=generator, dtype=torch.float64, device="cuda"))
    v, _ = torch.linalg.qr(torch.randn(n, k, generator=generator, dtype=torch.float64, device="cuda"))
    power = {"1/i": 1.0, "1/i^2": 2.0}[kind]
    s = torch.arange(1, k + 1, dtype=torch.float64, device="cuda") ** -power
    return u @ torch.diag(s) @ v.mT


def quality(results):
    gen = torch.Generator(device="cuda")
    gen.manual_seed(1)
    variants = {
        "x-space": lambda b: ns_x(b),
        "gram": lambda b: ns_gram(b),
        "gram-restart-2": lambda b: ns_gram(b, restart=2),
        "gram-restart-3": lambda b: ns_gram(b, restart=3),
        "gram-all-restart (3, 2)": lambda b: ns_gram_all_restart([b])[0],
    }
    for kind in ["gaussian", "1/i", "1/i^2"]:
        for shape in [(768, 3072), (768, 2304), (768, 768)]:
            xs = torch.stack([spectrum_matrix(*shape, kind, gen) for _ in range(4)])
            reference = ns_reference(xs)
            ref_sv = torch.linalg.svdvals(reference)
            for name, f in variants.items():
                out = f(xs.bfloat16()).double()
                err = ((out - reference).norm(dim=(-2, -1)) / reference.norm(dim=(-2, -1))).max().item()
                sv = torch.linalg.svdvals(out)
                sv_err = (sv - ref_sv).abs().max().item()
                key = f"quality {kind} {shape[0]}x{shape[1]} {name}"
                results[key] = {"relative error": err, "largest singular-value error": sv_err,
                                "singular values": [sv.min().item(), sv.max().item()],
                                "reference singular values": [ref_sv.min().item(), ref_sv.max().item()]}
                print(f"{key:48} rel.err {err:.4f}  sv err {sv_err:.4f}  sv [{sv.min().item():.3f}, {sv.max().item():.3f}]"
                      f"  ref [{ref_sv.min().item():.3f}, {ref_sv.max().item():.3f}]", flush=True)


def speed(results):
    torch.manual_seed(0)
    by_shape = {}
    for s in hidden_shapes():
        by_shape[s] = by_shape.get(s, 0) + 1
    batches = [torch.randn(count, *shape, device="cuda").bfloat16() for shape, count in by_shape.items()]
    square = [b for b in batches if b.size(-1) == b.size(-2)]
    oblong = [b for b in batches if b.size(-1) != b.size(-2)]
    timed = {
        "x-space, per shape": lambda: [ns_x(b) for b in batches],
        "gram, per shape": lambda: [ns_gram(b) for b in batches],
        "gram-restart-2, per shape": lambda: [ns_gram(b, restart=2) for b in batches],
        "gram-restart-3, per shape": lambda: [ns_gram(b, restart=3) for b in batches],
        "gram-all, 48 in one chain": lambda: ns_gram_all(batches),
        "gram-all oblong + x-space square": lambda: (ns_gram_all(oblong), [ns_x(b) for b in square]),
        "gram-restart-3 oblong + x-space square": lambda: ([ns_gram(b, restart=3) for b in oblong], [ns_x(b) for b in square]),
        "gram-all-restart (3, 2) oblong + x-space square": lambda: (ns_gram_all_restart(oblong), [ns_x(b) for b in square]),
    }
    for name, f in timed.items():
        ms = median_ms(f, windows=9, per_window=5)
        results["speed " + name] = ms
        print(f"{name:44} {ms:8.3f} ms", flush=True)
    big = torch.randn(8192, 8192, device="cuda").bfloat16()
    ms = median_ms(lambda: big @ big, windows=9, per_window=5)
    tflops = 2 * 8192 ** 3 / ms / 1e9
    results["bf16 8192^3 product TFLOP/s"] = tflops
    print(f"{'bf16 8192^3 product':44} {ms:8.3f} ms  {tflops:.0f} TFLOP/s", flush=True)


# Polar Express's polynomials before the safety factor; every one but the last is evaluated at x / 1.01.
POLAR = [
    (8.28721201814563, -23.595886519098837, 17.300387312530933),
    (4.107059111542203, -2.9478499167379106, 0.5448431082926601),
    (3.9486908534822946, -2.908902115962949, 0.5518191394370137),
    (3.3184196573706015, -2.488488024314874, 0.51004894012372),
    (2.300652019954817, -1.6689039845747493, 0.4188073119525673),
    (1.891301407787398, -1.2679958271945868, 0.37680408948524835),
    (1.8750014808534479, -1.2500016453999487, 0.3750001645474248),
    (1.875, -1.25, 0.375),
]


def polar_coefficients(i):
    if i >= len(POLAR) - 1:
        return POLAR[-1]
    a, b, c = POLAR[i]
    return a / 1.01, b / 1.01 ** 3, c / 1.01 ** 5


def polar_unit(x):
    return x / (x.float().norm(dim=(-2, -1), keepdim=True) * 1.01 + 1e-7).to(x.dtype)


def polar_x(x, steps=STEPS):
    x = polar_unit(wide(x))
    for i in range(steps):
        a, b, c = polar_coefficients(i)
        g = x @ x.mT
        x = torch.baddbmm(x, torch.baddbmm(g, g, g, beta=b, alpha=c), x, beta=a)
    return x


def polar_gram(x, steps=STEPS, first=3, then=2):
    x = polar_unit(wide(x))
    done = 0
    while done < steps:
        k = min(first if done == 0 else then, steps - done)
        g = torch.bmm(x, x.mT)
        q = None
        for j in range(k):
            a, b, c = polar_coefficients(done + j)
            p = torch.baddbmm(g, g, g, beta=b, alpha=c)
            p.diagonal(dim1=-2, dim2=-1).add_(a)
            q = p if q is None else torch.bmm(p, q)
            if j < k - 1:
                g = torch.bmm(p, torch.bmm(g, p))
        x = torch.bmm(q, x)
        done += k
    return x


def polar_reference(x, steps=STEPS):
    x = wide(x.double())
    x = x / (x.norm(dim=(-2, -1), keepdim=True) * 1.01 + 1e-7)
    for i in range(steps):
        a, b, c = polar_coefficients(i)
        g = x @ x.mT
        x = a * x + (b * g + c * g @ g) @ x
    return x


def quality_polar(results):
    gen = torch.Generator(device="cuda")
    gen.manual_seed(1)
    for kind in ["gaussian", "1/i", "1/i^2"]:
        for shape in [(768, 3072), (768, 2304), (768, 768)]:
            xs = torch.stack([spectrum_matrix(*shape, kind, gen) for _ in range(4)])
            reference = polar_reference(xs)
            ref_sv = torch.linalg.svdvals(reference)
            for name, f in {"polar x-space": polar_x, "polar gram-restart (3, 2)": polar_gram, "quintic x-space": ns_x}.items():
                out = f(xs.bfloat16()).double()
                exact = reference if name.startswith("polar") else ns_reference(xs)
                err = ((out - exact).norm(dim=(-2, -1)) / exact.norm(dim=(-2, -1))).max().item()
                sv = torch.linalg.svdvals(out)
                worst = (sv - 1).abs().max().item()
                key = f"polar quality {kind} {shape[0]}x{shape[1]} {name}"
                results[key] = {"relative error": err, "largest |sv - 1|": worst, "reference largest |sv - 1|": (ref_sv - 1).abs().max().item()}
                print(f"{key:56} rel.err {err:.4f}  max|sv-1| {worst:.4f}  (float64 polar: {(ref_sv - 1).abs().max().item():.4f})", flush=True)


def main():
    results = {}
    if "--polar" in sys.argv:
        quality_polar(results)
    else:
        speed(results)
        quality(results)
        quality_polar(results)
    out = [a for a in sys.argv[1:] if not a.startswith("--")]
    with open(out[0] if out else "ns_variants.json", "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
