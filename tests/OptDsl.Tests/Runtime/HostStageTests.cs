using System;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Core;
using OptDsl.Tests.Catalog;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// Rules whose scalar state takes values from reductions run fused on the CPU: the host half runs again after each
/// phase. Checked against the rule written out in float64 over plain arrays, against the portable path, and bit for
/// bit between runs.
/// </summary>
public class HostStageTests
{
    static readonly long[][] Shapes = { new long[] { 7, 13 }, new long[] { 33 }, new long[] { 5 }, new long[] { 4, 3, 5 }, new long[] { 40_000 } };
    const int Steps = 8;
    const double Lr = 0.01;

    static double[] Values(Tensor t) => t.to(ScalarType.Float64).contiguous().data<double>().ToArray();

    // Small gradients first, so that the condition on the running maximum turns on at step 3.
    static Tensor Gradient(int step, int k)
    {
        using var factor = (step <= 2 ? 0.2 : 1.0).ToScalar();
        return TestData.Normal(Shapes[k], 100 * (ulong)step + (ulong)k).mul(factor);
    }

    static int GroupOf(int k) => k < 2 ? 0 : 1;

    /// <summary>The rule over arrays in float64, two groups ({0, 1} and the rest).</summary>
    static double[][] Reference()
    {
        int n = Shapes.Length;
        var p = Enumerable.Range(0, n).Select(k => Values(TestData.Normal(Shapes[k], 7 + (ulong)k))).ToArray();
        var m = p.Select(x => new double[x.Length]).ToArray();
        var (scale, peak, total) = (Enumerable.Repeat(1.0, n).ToArray(), new double[n], new double[n]);
        for (int t = 1; t <= Steps; t++)
        {
            var g = Enumerable.Range(0, n).Select(k => Values(Gradient(t, k))).ToArray();
            double Squares(double[] x) => x.Sum(v => v * v);
            double stepMax = g.Max(x => x.Max(Math.Abs));
            for (int k = 0; k < n; k++)
            {
                double norm = Math.Sqrt(Squares(g[k]));
                double group = Math.Sqrt(Enumerable.Range(0, n).Where(j => GroupOf(j) == GroupOf(k)).Sum(j => Squares(g[j])));
                double mean = g[k].Average();
                double spread = t % 2 == 0 ? Math.Sqrt(g[k].Sum(v => (v - mean) * (v - mean)) / (g[k].Length - 1)) : 0;
                peak[k] = Math.Max(peak[k], stepMax);
                scale[k] = 0.5 * scale[k] + 0.5 * norm / (group + 1e-6) + spread;
                if (peak[k] > 1) total[k] += m[k].Sum();
                for (int i = 0; i < p[k].Length; i++)
                {
                    m[k][i] = 0.9 * m[k][i] + 0.1 * g[k][i] * scale[k];
                    p[k][i] -= Lr * m[k][i] / (1 + peak[k]) + 1e-4 * total[k];
                }
            }
        }
        return p;
    }

    static (Parameter[] Parameters, ScalarFromReductions Optimizer) Create(ScalarType dtype, UpdateBackend backend)
    {
        var ps = Enumerable.Range(0, Shapes.Length).Select(k => new Parameter(TestData.Normal(Shapes[k], 7 + (ulong)k).to(dtype))).ToArray();
        var optimizer = new ScalarFromReductions(new[]
        {
            new ScalarFromReductions.ParamGroup(ps.Take(2), lr: Lr),
            new ScalarFromReductions.ParamGroup(ps.Skip(2), lr: Lr),
        }) { Backend = backend };
        return (ps, optimizer);
    }

    static Parameter[] Run(ScalarType dtype, UpdateBackend backend, out string status)
    {
        var (ps, optimizer) = Create(dtype, backend);
        using (optimizer)
        {
            for (int t = 1; t <= Steps; t++)
            {
                for (int k = 0; k < ps.Length; k++) ps[k].grad = Gradient(t, k).to(dtype);
                optimizer.step();
            }
            status = optimizer.FusedStatus;
        }
        return ps;
    }

    /// <summary>
    /// Portable float64 within 1e-12 of the reference; fused float32 within 2e-5 (measured 2e-6: float32 rounding of
    /// the moments and of the reductions, summed per chunk, over 8 steps).
    /// </summary>
    [Theory]
    [InlineData(ScalarType.Float64, UpdateBackend.Portable, 1e-12)]
    [InlineData(ScalarType.Float32, UpdateBackend.Fused, 2e-5)]
    [InlineData(ScalarType.Float32, UpdateBackend.Portable, 2e-5)]
    public void Follows_the_rule_written_out(ScalarType dtype, UpdateBackend backend, double tolerance)
    {
        var expected = Reference();
        var ps = Run(dtype, backend, out var status);
        if (backend == UpdateBackend.Fused)
            Assert.Equal("CPU: " + status.Split("CPU: ")[1].Split(';')[0] + "; 3 phases (reductions in passes of their own); reductions over the step's or group's tensors; "
                         + "scalar state from reductions, on the host after each phase", status);
        for (int k = 0; k < ps.Length; k++)
        {
            var actual = Values(ps[k]);
            double error = actual.Zip(expected[k], (a, b) => Math.Abs(a - b) / Math.Max(1, Math.Abs(b))).Max();
            Assert.True(error <= tolerance, $"{dtype} {backend} tensor {k}: off by {error:E2}");
        }
    }

    [Fact]
    public void The_fused_steps_give_the_same_bits_on_every_run()
    {
        var first = Run(ScalarType.Float32, UpdateBackend.Fused, out _);
        var second = Run(ScalarType.Float32, UpdateBackend.Fused, out _);
        for (int k = 0; k < first.Length; k++) Assert.True(TestData.Identical(first[k], second[k]), $"tensor {k}");
    }

    /// <summary>
    /// The host half runs once per phase, each time from the scalar state of the step's start: after every step the
    /// fused path's scalar state equals the portable path's (which runs it once), within float32 reductions' rounding.
    /// </summary>
    [Fact]
    public void Scalar_state_advances_once_a_step()
    {
        var (ps, fused) = Create(ScalarType.Float32, UpdateBackend.Fused);
        var (qs, portable) = Create(ScalarType.Float32, UpdateBackend.Portable);
        using (fused)
        using (portable)
            for (int t = 1; t <= 4; t++)
            {
                for (int k = 0; k < ps.Length; k++)
                {
                    ps[k].grad = Gradient(t, k).to(ScalarType.Float32);
                    qs[k].grad = Gradient(t, k).to(ScalarType.Float32);
                }
                fused.step();
                portable.step();
                for (int k = 0; k < ps.Length; k++)
                {
                    var (a, b) = (fused.StateOf(ps[k]), portable.StateOf(qs[k]));
                    foreach (var (x, y, name) in new[] { (a.Scale, b.Scale, "scale"), (a.Peak, b.Peak, "peak"), (a.Total, b.Total, "total") })
                        Assert.True(Math.Abs(x - y) <= 1e-5 * Math.Max(1, Math.Abs(y)), $"step {t}, tensor {k}: {name} {x} against {y}");
                }
            }
    }

    [Fact]
    public void A_step_split_between_the_fused_and_portable_paths_runs_portable_whole()
    {
        // A float64 parameter is not the fused path's: the global maximum must still span every tensor.
        var ps = new[] { new Parameter(torch.ones(3, ScalarType.Float32)), new Parameter(torch.ones(3, ScalarType.Float64)) };
        using var optimizer = new ScalarFromReductions(ps);
        using var kept = KeptScalars.Rent();
        ps[0].grad = torch.ones(3).mul(kept[0.5]);
        ps[1].grad = torch.ones(3, ScalarType.Float64).mul(kept[4.0]);
        optimizer.step();
        Assert.EndsWith("portable path for 2 of 2 parameters at the last step (the rule reduces over every tensor of the step, and the fused update does not take all of them)",
            optimizer.FusedStatus);
        Assert.Equal(4.0, optimizer.StateOf(ps[0]).Peak);
        // Required fused, the step is refused before anything changes.
        optimizer.Backend = UpdateBackend.Fused;
        var before = ps.Select(p => p.detach().clone()).ToArray();
        Assert.Contains("Float64", Assert.Throws<InvalidOperationException>(() => optimizer.step()).Message);
        Assert.True(TestData.Identical(ps[0], before[0]) && TestData.Identical(ps[1], before[1]));
        Assert.Equal(4.0, optimizer.StateOf(ps[0]).Peak);
    }
}
