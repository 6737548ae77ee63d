using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Optimizers;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Core;
using OptDsl.Tests.Catalog;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Runtime;

/// <summary>Rules with work per row or column on the fused CPU path, row by row, against the portable path.</summary>
public class RowWiseFusedTests
{
    /// <summary>
    /// Matrix views that exercise the row loop: a vector (rows of one element), one row, rows shorter than a vector,
    /// rows with a tail, several chunks of whole rows (40 x 1000 and 300 x 257: 32768 elements a chunk), a row longer
    /// than a chunk, and a tensor of three dimensions (4 rows of 15).
    /// </summary>
    static readonly long[][] Shapes =
    {
        new long[] { 7 }, new long[] { 1, 100 }, new long[] { 3, 5 }, new long[] { 7, 13 }, new long[] { 40, 1000 },
        new long[] { 300, 257 }, new long[] { 2, 40_000 }, new long[] { 4, 3, 5 }, new long[] { 70, 33 },
    };

    public static TheoryData<string> RowWise() => new()
    {
        "Adafactor", "AdamMini", "NorMuon", "ScionBias", "Swan", "RowColumnState", "RowColumnStateWithoutMomentum", "RowColumnProbe", "RowState", "RowStateWithoutMomentum",
    };

    static DeclaredOptimizer Create(string name, IEnumerable<Parameter> ps) => RowDeclarations.Create(name, ps);

    /// <summary>Newton–Schulz takes matrices: the rules that orthogonalise get the shapes of two dimensions or more.</summary>
    static long[][] ShapesFor(string name) => name is "NorMuon" or "Swan" ? Shapes.Where(s => s.Length > 1).ToArray() : Shapes;

    [Theory]
    [MemberData(nameof(RowWise))]
    public void Rules_with_work_per_row_or_column_run_fused_on_the_cpu(string name)
    {
        var parameters = ShapesFor(name).Select(s => new Parameter(torch.randn(s))).ToArray();
        using var optimizer = Create(name, parameters);
        optimizer.Backend = UpdateBackend.Fused;
        foreach (var p in parameters) p.grad = torch.randn(p.shape);
        optimizer.step();
        Assert.Contains("row by row, in chunks of whole rows", optimizer.FusedStatus);
        Assert.DoesNotContain("portable", optimizer.FusedStatus);
    }

    /// <summary>
    /// Fused against portable over 12 steps (gradients scaled down at steps 7-9, as TestData scales them). Both round in
    /// float32, in other orders — a row's sum in lanes folded into a double, torch's pairwise — so they agree to a few
    /// ulps a step; 1e-4 relative bounds that widely, as for the other phased rules. NaN (a standard deviation over one
    /// row) must be at the same elements on both.
    /// </summary>
    [Theory]
    [MemberData(nameof(RowWise))]
    public void Row_by_row_agrees_with_the_portable_path(string name)
    {
        using var kept = KeptScalars.Rent();
        var shapes = ShapesFor(name);
        using var runs = Runs.Step(name, seed: 11, shapes);
        var (fused, portable, a, b) = (runs.Fused, runs.Portable, runs.OnFused, runs.OnPortable);
        Assert.DoesNotContain("portable", a.FusedStatus);
        long total = 0, beyond = 0;
        double worst = 0;
        for (int k = 0; k < shapes.Length; k++)
        {
            Assert.True(fused[k].isnan().eq(portable[k].isnan()).all().item<bool>(), $"{name}: tensor {k} is NaN at other elements than the portable path's: {fused[k].isnan().sum().item<long>()} against {portable[k].isnan().sum().item<long>()}");
            var relative = (fused[k] - portable[k]).abs() / portable[k].abs().clamp_min(kept[1.0]);
            relative = relative.nan_to_num(0, 0, 0);
            total += fused[k].NumberOfElements;
            beyond += relative.gt(kept[1e-4]).sum().item<long>();
            worst = Math.Max(worst, relative.max().item<float>());
        }
        Assert.True(beyond == 0, $"{name}: {beyond} of {total} elements differ by more than 1e-4 relative (max {worst:E2}); {a.FusedStatus}");
        // The state per row and column as well.
        if (a is RowColumnState sa && b is RowColumnState sb)
            for (int k = 0; k < shapes.Length; k++)
            {
                var (x, y) = (sa.StateOf(fused[k]), sb.StateOf(portable[k]));
                Assert.True(x.Row.allclose(y.Row, rtol: 1e-4, atol: 1e-7), $"tensor {k}: state per row");
                Assert.True(x.Column.allclose(y.Column, rtol: 1e-4, atol: 1e-7), $"tensor {k}: state per column");
                if (x.RowMomentum is { } m) Assert.True(m.allclose(y.RowMomentum!, rtol: 1e-4, atol: 1e-6), $"tensor {k}: momentum per row");
            }
    }

    /// <summary>
    /// The rule stepped 12 times from the same tensors and gradients (scaled as TestData scales them) on the fused path,
    /// on the portable path, and on the portable path in float64.
    /// </summary>
    sealed class Runs : IDisposable
    {
        public Parameter[] Fused = null!, Portable = null!, Exact = null!;
        public DeclaredOptimizer OnFused = null!, OnPortable = null!, InFloat64 = null!;

        public static Runs Step(string name, int seed, long[][] shapes)
        {
            using var kept = KeptScalars.Rent();
            torch.manual_seed(seed);
            var initial = shapes.Select(s => torch.randn(s)).ToArray();
            var runs = new Runs
            {
                Fused = initial.Select(t => new Parameter(t.clone())).ToArray(),
                Portable = initial.Select(t => new Parameter(t.clone())).ToArray(),
                Exact = initial.Select(t => new Parameter(t.to(ScalarType.Float64))).ToArray(),
            };
            (runs.OnFused, runs.OnPortable, runs.InFloat64) = (Create(name, runs.Fused), Create(name, runs.Portable), Create(name, runs.Exact));
            runs.OnFused.Backend = UpdateBackend.Fused;
            runs.OnPortable.Backend = UpdateBackend.Portable;
            for (int step = 1; step <= 12; step++)
            {
                for (int k = 0; k < shapes.Length; k++)
                {
                    var g = torch.randn(shapes[k]).mul(kept[TestData.GradScale(step)]);
                    runs.Fused[k].grad = g;
                    runs.Portable[k].grad = g.clone();
                    runs.Exact[k].grad = g.to(ScalarType.Float64);
                }
                runs.OnFused.step();
                runs.OnPortable.step();
                runs.InFloat64.step();
            }
            return runs;
        }

        public void Dispose()
        {
            OnFused.Dispose();
            OnPortable.Dispose();
            InFloat64.Dispose();
        }
    }

    /// <summary>
    /// Both paths against the same rule in float64 (the portable path over float64 tensors) after 12 steps: the row
    /// loop must be as accurate as the portable path — within 3x its error, plus a few float32 ulps. (Before the lanes
    /// were folded into a double every 512 elements, a row of 40,000 elements summing one value per row drifted to
    /// 1.6e-4 where the portable path stayed at 6.7e-7.)
    /// </summary>
    [Theory]
    [MemberData(nameof(RowWise))]
    public void Row_by_row_is_as_accurate_as_the_portable_path(string name)
    {
        using var kept = KeptScalars.Rent();
        var shapes = ShapesFor(name);
        using var runs = Runs.Step(name, seed: 17, shapes);
        var (fused, portable, exact) = (runs.Fused, runs.Portable, runs.Exact);
        for (int k = 0; k < shapes.Length; k++)
        {
            double Error(Tensor x) => ((x.to(ScalarType.Float64) - exact[k]).abs() / exact[k].abs().clamp_min(kept[1.0])).nan_to_num(0, 0, 0).max().item<double>();
            double f = Error(fused[k]), p = Error(portable[k]);
            Assert.True(f <= 3 * p + 5e-7, $"{name}: tensor {k} ({string.Join("x", shapes[k])}): fused {f:E2} from float64, portable {p:E2}");
        }
    }

    /// <summary>
    /// Reductions per row and column in a fixed order: two runs give the same bits, and so do the tensors stepped by one
    /// optimizer together and by one optimizer each (other queue positions, the same chunks of whole rows).
    /// </summary>
    [Theory]
    [MemberData(nameof(RowWise))]
    public void Row_by_row_gives_the_same_bits_on_every_run_and_batching(string name)
    {
        torch.manual_seed(13);
        var initial = new[] { torch.randn(300, 257), torch.randn(40, 1000), torch.randn(7, 13) };
        var grads = Enumerable.Range(0, 4).Select(_ => initial.Select(t => torch.randn(t.shape)).ToArray()).ToArray();

        var first = Determinism.Run(ps => Create(name, ps), initial, grads, together: true);
        var second = Determinism.Run(ps => Create(name, ps), initial, grads, together: true);
        var apart = Determinism.Run(ps => Create(name, ps), initial, grads, together: false);
        for (int k = 0; k < first.Length; k++)
        {
            Assert.True(Determinism.Bits(first[k]).SequenceEqual(Determinism.Bits(second[k])), $"{name}: tensor {k} differs between two runs");
            Assert.True(Determinism.Bits(first[k]).SequenceEqual(Determinism.Bits(apart[k])), $"{name}: tensor {k} differs when stepped alone");
        }
    }

    /// <summary>
    /// What the row loop cannot take goes to the portable path, in the same step as the rest: an empty tensor (its
    /// matrix view has rows of nothing), and 8-bit state (expanded per chunk of fixed size).
    /// </summary>
    [Fact]
    public void Empty_tensors_and_eight_bit_state_take_the_portable_path()
    {
        var ps = new[] { new Parameter(torch.randn(6, 10)), new Parameter(torch.randn(0, 4)) };
        using var opt = new AdamMini(ps);
        foreach (var p in ps) p.grad = torch.randn(p.shape);
        opt.step();
        Assert.Contains("portable path for 1 of 2 parameters", opt.FusedStatus);
        Assert.Contains("row by row", opt.FusedStatus);

        var q = new Parameter(torch.randn(64, 64));
        using var quantized = new AdamMini(new[] { q });
        quantized.QuantizeState("m");
        q.grad = torch.randn(q.shape);
        quantized.step();
        Assert.Contains("portable path for 1 of 1 parameters", quantized.FusedStatus);
    }

    [Fact]
    public void The_generated_plan_says_how_each_state_is_kept()
    {
        var p = new Parameter(torch.randn(5, 6));
        using var opt = new RowColumnState(new[] { p });
        p.grad = torch.randn(5, 6);
        opt.step();
        var state = opt.StateOf(p);
        Assert.Equal(new long[] { 5, 1 }, state.Row.shape);
        Assert.Equal(new long[] { 1, 6 }, state.Column.shape);
        Assert.Equal(new long[] { 5, 1 }, state.RowMomentum!.shape);
    }
}
