using System;
using System.Collections.Generic;
using OptDsl.Optimizers;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Composition;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Catalog;

/// <summary>
/// Scion and ScionBias against the authors' reference implementation (scion.py) written out here in float64 as that
/// code has it: each norm's LMO on the matrix, transposing it where the norm says so, then the constrained or
/// unconstrained step.
/// </summary>
public class ScionTests
{
    /// <summary>The averaged gradient of each tensor, by index.</summary>
    readonly Dictionary<int, Tensor> _buffers = new();

    Tensor Average(int k, Tensor g, double momentum, KeptScalars kept)
    {
        var buffer = _buffers.TryGetValue(k, out var b) ? b : torch.zeros_like(g);
        buffer = momentum == 1 ? g : buffer.mul(kept[1 - momentum]).Plus(g.mul(kept[momentum]));
        return _buffers[k] = buffer;
    }

    static Tensor Step(Tensor p, Tensor lmo, double lr, double scale, bool unconstrained, KeptScalars kept) =>
        (unconstrained ? p : p.mul(kept[1 - lr])) - lmo.mul(kept[lr * scale]);

    /// <summary>The authors' LMOs on a matrix m (d_out x d_in), written as their code writes them.</summary>
    static Tensor Lmo(Tensor m, int norm, bool normalized, bool transpose, bool max, KeptScalars kept)
    {
        long dOut = m.shape[0], dIn = m.shape[1];
        switch (norm)
        {
            case Scion.Spectral:
            {
                double scale = normalized ? Math.Sqrt((double)dOut / dIn) : Math.Sqrt(dOut);
                return MuonTests.Orthogonalize(m, 5).mul(kept[max ? Math.Max(1, scale) : scale]);
            }
            case Scion.Sign:
                return normalized ? m.sign().mul(kept[1.0 / dIn]) : m.sign();
            case Scion.ColumnNorm:
            {
                var g = transpose ? m.t() : m;
                var rms = g.Squared().sum(new long[] { 0 }, keepdim: true).sqrt().mul(kept[1 / Math.Sqrt(g.shape[0])]);
                if (normalized) rms = rms.mul(kept[(double)g.shape[1]]);
                g = g / rms.add(kept[1e-8], ScalarCalls.One);
                return transpose ? g.t() : g;
            }
            default:
            {
                var g = transpose ? m.t() : m;
                var rms = g.Squared().sum(new long[] { -1 }, keepdim: true).sqrt();
                if (normalized) rms = rms.mul(kept[Math.Sqrt(g.shape[^1])]);
                g = g / rms.add(kept[1e-8], ScalarCalls.One);
                return transpose ? g.t() : g;
            }
        }
    }

    [Theory]
    [InlineData(Scion.Spectral, true, false, false, false, 0.1)]
    [InlineData(Scion.Spectral, false, false, true, true, 1.0)]
    [InlineData(Scion.Sign, true, false, false, false, 0.1)]
    [InlineData(Scion.Sign, false, false, true, false, 0.5)]
    [InlineData(Scion.ColumnNorm, true, false, false, false, 0.1)]
    [InlineData(Scion.ColumnNorm, false, true, true, false, 0.1)]
    [InlineData(Scion.RowNorm, true, false, false, false, 0.1)]
    [InlineData(Scion.RowNorm, false, true, true, false, 0.3)]
    public void Follows_the_reference_implementation(int norm, bool normalized, bool transpose, bool unconstrained, bool spectralMax, double momentum)
    {
        const double lr = 0.05, scale = 3;
        MatrixReference.Check(
            ps => new Scion(ps, lr: lr, momentum: momentum, norm: norm, scale: scale, normalized: normalized, spectralMax: spectralMax,
                transpose: transpose, unconstrained: unconstrained),
            (t, k, p, g) =>
            {
                using var kept = KeptScalars.Rent();
                var (rows, columns) = MatrixReference.View(p);
                var d = Average(k, g, momentum, kept);
                var lmo = Lmo(d.reshape(rows, columns), norm, normalized, transpose, spectralMax, kept).reshape(p.shape);
                return Step(p, lmo, lr, scale, unconstrained, kept);
            });
    }

    [Theory]
    [InlineData(false, 0.1)]
    [InlineData(true, 1.0)]
    public void ScionBias_follows_the_reference_implementation(bool unconstrained, double momentum)
    {
        // A vector (the whole of it is one RMS), and a matrix and a 3-d tensor, whose RMS runs down the first dimension.
        const double lr = 0.05, scale = 2;
        MatrixReference.Check(
            ps => new ScionBias(ps, lr: lr, momentum: momentum, scale: scale, unconstrained: unconstrained),
            (t, k, p, g) =>
            {
                using var kept = KeptScalars.Rent();
                var d = Average(k, g, momentum, kept);
                var rms = d.Squared().mean(new long[] { 0 }, keepdim: true).sqrt();
                return Step(p, d / rms.add(kept[1e-8], ScalarCalls.One), lr, scale, unconstrained, kept);
            },
            shapes: new[] { new long[] { 9 }, new long[] { 6, 10 }, new long[] { 4, 3, 5 } });
    }

    [Fact]
    public void The_constrained_form_keeps_the_weights_inside_the_ball_of_radius_scale()
    {
        // With the sign LMO (unnormalised: the l-infinity ball), p <- (1 - lr) p - lr scale sign(d) is a convex
        // combination of p and a point of the ball; from inside the ball, every weight stays within scale.
        var p = new TorchSharp.Modules.Parameter(torch.zeros(8, 8));
        using var optimizer = new Scion(new[] { p }, lr: 0.5, momentum: 1, norm: Scion.Sign, scale: 2, normalized: false);
        for (int t = 1; t <= 20; t++)
        {
            p.grad = TestData.Normal(new long[] { 8, 8 }, 300 + (ulong)t).to(ScalarType.Float32);
            optimizer.step();
            Assert.True(p.detach().abs().max().item<float>() <= 2 + 1e-6, $"step {t}");
        }
    }

    [Fact]
    public void Routed_by_role_as_the_docs_show_every_parameter_moves_once_by_its_own_norm()
    {
        // docs/composition.md's routing on a tiny GPT's names: each route's optimizer updates its parameters only.
        (string, TorchSharp.Modules.Parameter) Named(string name, params long[] shape) =>
            (name, new TorchSharp.Modules.Parameter(TestData.Normal(shape, (ulong)name.Length).to(ScalarType.Float32)));
        var named = new[] { Named("embed.weight", 50, 8), Named("h.0.weight", 8, 8), Named("h.0.bias", 8), Named("head.weight", 50, 8) };
        var before = Array.ConvertAll(named, n => n.Item2.detach().clone());
        using var scion = named
            .Route("hidden", Routing.Matrices("embed", "head"), ps => new Scion(ps, lr: 1.0 / 4096, scale: 50))
            .Route("embedding", (name, p) => name.Contains("embed"), ps => new Scion(ps, lr: 1.0 / 4096, norm: Scion.ColumnNorm, transpose: true, normalized: false, scale: 50))
            .Route("head", (name, p) => name.Contains("head"), ps => new Scion(ps, lr: 1.0 / 4096, norm: Scion.Sign, scale: 3000))
            .Otherwise("vectors", ps => new ScionBias(ps, lr: 1.0 / 4096, scale: 50));
        foreach (var (_, p) in named) p.grad = torch.ones_like(p);
        scion.step();
        // Every weight moved; the head by the sign LMO: p (1 - lr) - lr 3000 sign(d) / 8 columns, d = 0.1 (all ones).
        for (int k = 0; k < named.Length; k++)
            Assert.True((named[k].Item2.detach() - before[k]).abs().min().item<float>() > 0, named[k].Item1);
        using var kept = KeptScalars.Rent();
        var expected = before[3].mul(kept[1 - 1.0 / 4096]).add(kept[-3000.0 / 4096 / 8], ScalarCalls.One);
        Assert.True((named[3].Item2.detach() - expected).abs().max().item<float>() < 1e-5);
    }
}
