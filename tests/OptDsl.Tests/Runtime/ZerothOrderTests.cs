using System;
using System.IO;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Services.Random;
using OptDsl.Runtime.Training.ZerothOrder;
using OptDsl.Tests.Catalog;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;
using SGD = OptDsl.Optimizers.SGD;
using Adam = OptDsl.Optimizers.Adam;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// Zeroth-order steps: the perturbation's exact round trip, MeZO's update against its equations written out here in
/// float64 (with the generator's noise), q-SPSA, an inner declared optimizer, replay from the log bit for bit, refusals.
/// </summary>
public sealed class ZerothOrderTests : IDisposable
{
    readonly string _folder = Directory.CreateTempSubdirectory("optdsl-zo").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    static readonly long[][] Shapes = { new long[] { 5, 7 }, new long[] { 13 }, new long[] { 1 } };

    static Parameter[] Parameters(ScalarType dtype) =>
        Shapes.Select((s, k) => new Parameter(TestData.Normal(s, 60 + (ulong)k).to(dtype))).ToArray();

    static readonly Tensor[] Targets = Shapes.Select((s, k) => TestData.Normal(s, 70 + (ulong)k)).ToArray();

    /// <summary>A quadratic with a different weight per element: sum w (θ - target)².</summary>
    static Tensor Loss(Parameter[] ps) =>
        ps.Select((p, k) => (p.to(ScalarType.Float64) - Targets[k]).Squared().mul(torch.linspace(0.5, 2, p.NumberOfElements, ScalarType.Float64).reshape(p.shape)).sum())
            .Aggregate((a, b) => a.Plus(b));

    static uint[] Bits(Tensor t) => t.to(ScalarType.Float32).data<float>().ToArray().Select(BitConverter.SingleToUInt32Bits).ToArray();

    [Fact]
    public void A_perturbation_round_trip_gives_back_every_bit()
    {
        using var kept = KeptScalars.Rent();
        // Values that subtraction alone would not give back: far below the step, zeros of both signs, NaN, infinity,
        // subnormals; and ordinary weights.
        var special = new[] { 0f, -0f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, 1e-40f, -1e-38f, 1e-9f, 3.4e38f, 1f, -2.5f };
        var values = special.Concat(TestData.Normal(new long[] { 4000 }, 3).mul(kept[0.02]).to(ScalarType.Float32).data<float>().ToArray()).ToArray();
        var p = new Parameter(torch.tensor(values));
        var before = Bits(p);
        using var opt = new ZerothOrderOptimizer(new[] { p }, lr: 0, eps: 1e-3, seed: 9);
        opt.Step(() => torch.tensor(1.0));
        Assert.Equal(before, Bits(p));
        // Typical weights (std 0.02) keep a few percent of their elements' bits for the way back.
        Assert.True(opt.LastKeptElements < values.Length / 10, $"kept {opt.LastKeptElements} of {values.Length}");
    }

    /// <summary>MeZO written out: the same noise, the losses in float64, θ ← θ(1 − lr·wd) − lr·Σ_j pg_j z_j / q.</summary>
    static Tensor[] Reference(int steps, double lr, double eps, int q, double wd, ulong seed)
    {
        using var kept = KeptScalars.Rent();
        var p = Parameters(ScalarType.Float64).Select(x => x.detach().clone()).ToArray();
        long[] offsets = { 0, 35, 48 };
        Tensor Z(long stream, int k) => torch.tensor(Enumerable.Range(0, (int)p[k].NumberOfElements)
            .Select(i => (double)CounterRandom.Normal(seed, (ulong)stream, offsets[k] + i)).ToArray()).reshape(p[k].shape);
        double L(Tensor[] x) => x.Select((t, k) => (t - Targets[k]).Squared().mul(torch.linspace(0.5, 2, t.NumberOfElements, ScalarType.Float64).reshape(t.shape)).sum().item<double>()).Sum();
        for (int t = 0; t < steps; t++)
        {
            var pg = new double[q];
            for (int j = 0; j < q; j++)
            {
                long stream = t * q + j;
                var plus = p.Select((x, k) => x.Plus(Z(stream, k).mul(kept[eps]))).ToArray();
                var minus = p.Select((x, k) => x.Plus(Z(stream, k).mul(kept[-eps]))).ToArray();
                pg[j] = (L(plus) - L(minus)) / (2 * eps);
            }
            for (int k = 0; k < p.Length; k++)
            {
                var next = p[k].mul(kept[(1 - lr * wd)]);
                for (int j = 0; j < q; j++) next = next - Z(t * q + j, k).mul(kept[lr * (pg[j] / q)]);
                p[k] = next;
            }
        }
        return p;
    }

    [Theory]
    [InlineData(1, 0.0)]
    [InlineData(3, 0.1)]
    public void MeZO_follows_its_equations(int q, double weightDecay)
    {
        // ZO-SGD's step grows with the dimension (|z|² ≈ 49 here): a small learning rate keeps it descending.
        var expected = Reference(4, 0.005, 1e-3, q, weightDecay, seed: 11);
        var ps = Parameters(ScalarType.Float64);
        using var opt = new ZerothOrderOptimizer(ps, lr: 0.005, eps: 1e-3, perturbations: q, weightDecay: weightDecay, seed: 11);
        double start = Loss(ps).item<double>();
        for (int t = 0; t < 4; t++) opt.Step(() => Loss(ps));
        for (int k = 0; k < ps.Length; k++)
            Assert.True(ps[k].allclose(expected[k], rtol: 1e-9, atol: 1e-12), $"tensor {k}: off by {(ps[k] - expected[k]).abs().max().item<double>():E2}");
        Assert.Equal(4, opt.StepCount);
        Assert.True(Loss(ps).item<double>() < start);
    }

    [Fact]
    public void Sparse_MeZO_moves_only_the_small_weights()
    {
        using var kept = KeptScalars.Rent();
        // Reference: the mask of the 40% smallest magnitudes per tensor (at the step's start), then MeZO on z * mask.
        var ps = Parameters(ScalarType.Float64);
        var start = TestData.Copies(ps);
        var byHand = TestData.Copies(ps);
        long[] offsets = { 0, 35, 48 };
        using var opt = new ZerothOrderOptimizer(ps, lr: 0.005, eps: 1e-3, seed: 3, sparsity: 0.6);
        for (int t = 0; t < 3; t++)
        {
            var masks = byHand.Select(p =>
            {
                using var kept = KeptScalars.Rent();
                var magnitudes = p.abs().flatten().data<double>().ToArray();
                var threshold = magnitudes.OrderBy(v => v).ElementAt((int)Math.Ceiling(0.4 * magnitudes.Length) - 1);
                return p.abs().le(kept[threshold]).to(ScalarType.Float64);
            }).ToArray();
            Tensor Z(int k) => CounterRandomTensors.Normal(3, (ulong)t, byHand[k].shape, CPU, offsets[k]).to(ScalarType.Float64) * masks[k];
            double L(Func<int, Tensor> at) => Enumerable.Range(0, byHand.Length).Sum(k =>
                (at(k) - Targets[k]).Squared().mul(torch.linspace(0.5, 2, at(k).NumberOfElements, ScalarType.Float64).reshape(at(k).shape)).sum().item<double>());
            double pg = (L(k => byHand[k].Plus(Z(k).mul(kept[1e-3]))) - L(k => byHand[k].Plus(Z(k).mul(kept[-1e-3])))) / 2e-3;
            for (int k = 0; k < byHand.Length; k++) byHand[k] = new Parameter(byHand[k] - Z(k).mul(kept[0.005 * pg]));
            opt.Step(() => Loss(ps));
            if (t > 0) continue;
            // A step leaves the weights outside its mask bit-identical: all but the ceil(40%) smallest of each tensor.
            for (int k = 0; k < ps.Length; k++)
            {
                long n = ps[k].NumberOfElements, unchanged = ps[k].eq(start[k]).sum().item<long>();
                Assert.Equal(n - (long)Math.Ceiling(0.4 * n), unchanged);
            }
        }
        for (int k = 0; k < ps.Length; k++)
            Assert.True(ps[k].allclose(byHand[k], rtol: 1e-9, atol: 1e-12), $"tensor {k}");
    }

    [Fact]
    public void An_inner_optimizer_takes_the_estimate_as_its_gradient()
    {
        using var kept = KeptScalars.Rent();
        // ZO with SGD momentum: the same as feeding SGD momentum the estimate sum_j pg_j z_j / q by hand.
        var ps = Parameters(ScalarType.Float64);
        var byHand = TestData.Copies(ps);
        using var inner = new SGD(ps, lr: 0.02, momentum: 0.9);
        using var zo = new ZerothOrderOptimizer(ps, eps: 1e-3, perturbations: 2, seed: 5, inner: inner);
        using var reference = new SGD(byHand, lr: 0.02, momentum: 0.9);
        long[] offsets = { 0, 35, 48 };
        for (int t = 0; t < 5; t++)
        {
            zo.Step(() => Loss(ps));
            var pg = zo.Log[t].ProjectedGradients;
            for (int k = 0; k < byHand.Length; k++)
            {
                Tensor Z(int j) => CounterRandomTensors.Normal(5, (ulong)(t * 2 + j), byHand[k].shape, CPU, offsets[k]).to(ScalarType.Float64);
                byHand[k].grad = Z(0).mul(kept[pg[0] / 2]).add_(Z(1), alpha: kept[pg[1] / 2]);
            }
            reference.step();
        }
        for (int k = 0; k < ps.Length; k++) Assert.True(TestData.Identical(ps[k], byHand[k]), $"tensor {k}");
        Assert.All(ps, p => Assert.Null(p.grad));
    }

    [Fact]
    public void ZO_sign_moves_every_weight_by_the_step_size_along_the_estimates_sign()
    {
        using var kept = KeptScalars.Rent();
        // ZO-SGD-Sign: the sign of pg * z. Every element moves by exactly lr, opposite to the estimate.
        var ps = Parameters(ScalarType.Float64);
        var before = TestData.Copies(ps);
        using var sign = new OptDsl.Optimizers.SignSgd(ps, lr: 0.0078125);
        using var zo = new ZerothOrderOptimizer(ps, eps: 1e-3, seed: 8, inner: sign);
        zo.Step(() => Loss(ps));
        double pg = zo.Log[0].ProjectedGradients[0];
        long[] offsets = { 0, 35, 48 };
        for (int k = 0; k < ps.Length; k++)
        {
            var z = CounterRandomTensors.Normal(8, 0, ps[k].shape, CPU, offsets[k]).to(ScalarType.Float64);
            Assert.True((ps[k] - before[k]).allclose((-z.mul(kept[pg]).sign()).mul(kept[0.0078125]), rtol: 0, atol: 1e-15), $"tensor {k}");
        }
    }

    [Fact]
    public void A_hybrid_step_is_MeZO_on_one_part_and_a_first_order_step_at_the_same_weights_on_the_other()
    {
        // ZO on the 5x7 matrix; SGD with momentum by backpropagation on the rest. Reference: the gradient taken first at
        // the step's weights, then MeZO alone on the matrix, then SGD.
        var ps = Parameters(ScalarType.Float64);
        var reference = TestData.Copies(ps);
        var hybrid = new HybridOptimizer(new ZerothOrderOptimizer(new[] { ps[0] }, lr: 0.005, seed: 21),
#pragma warning disable RS0030 // a TorchSharp optimizer on purpose (what is tested is composing with one); its step() still passes temporary Scalars
            torch.optim.SGD(new[] { ps[1], ps[2] }, 0.05, momentum: 0.9));
        using var zoAlone = new ZerothOrderOptimizer(new[] { reference[0] }, lr: 0.005, seed: 21);
        var sgd = torch.optim.SGD(new[] { reference[1], reference[2] }, 0.05, momentum: 0.9);
#pragma warning restore RS0030
        for (int t = 0; t < 4; t++)
        {
            hybrid.Step(() => Loss(ps));
            sgd.zero_grad();
            Loss(reference).backward();
            zoAlone.Step(() => Loss(reference));
            sgd.step();
        }
        for (int k = 0; k < ps.Length; k++) Assert.True(TestData.Identical(ps[k], reference[k]), $"tensor {k}");
        Assert.Null(ps[0].grad);
        Assert.Equal(4, hybrid.Log.Count);
#pragma warning disable RS0030 // refused before any step
        Assert.Throws<ArgumentException>(() => new HybridOptimizer(new ZerothOrderOptimizer(new[] { ps[0] }), torch.optim.SGD(new[] { ps[0] }, 0.1)));
#pragma warning restore RS0030
    }

    [Fact]
    public void The_log_replays_the_trajectory_bit_for_bit_from_a_file_of_a_few_bytes_per_step()
    {
        foreach (var (withAdam, sparse) in new[] { (false, 0.0), (true, 0.0), (false, 0.6) })
        {
            var ps = Parameters(ScalarType.Float32);
            var initial = TestData.Copies(ps);
            using var adam = withAdam ? new Adam(ps, lr: 0.01) : null;
            using var opt = new ZerothOrderOptimizer(ps, lr: 0.01, perturbations: 2, weightDecay: 0.01, seed: 77, inner: adam, sparsity: sparse);
            for (int t = 0; t < 25; t++)
            {
                if (t == 10) opt.LearningRate = 0.005;   // a schedule's change is in the log too
                opt.Step(() => Loss(ps));
            }
            var path = Path.Combine(_folder, $"zo{withAdam}{sparse}.log");
            opt.SaveLog(path);
            Assert.True(new FileInfo(path).Length < 100 + 25 * 40, $"{new FileInfo(path).Length} bytes");

            using var freshAdam = withAdam ? new Adam(initial, lr: 0.01) : null;
            using var replayed = ZerothOrderOptimizer.Replay(initial, ZerothOrderOptimizer.LoadLog(path), freshAdam);
            for (int k = 0; k < ps.Length; k++) Assert.Equal(Bits(ps[k]), Bits(initial[k]));
            Assert.Equal(25, replayed.StepCount);
        }
    }

    [Fact]
    public void A_run_resumed_from_its_log_goes_on_as_if_never_interrupted()
    {
        // 15 steps straight, against 10 steps, the log saved, replayed on the initial weights in a new optimizer, then
        // 5 more: the resumed run draws the next streams, not the first ones again.
        var straight = Parameters(ScalarType.Float32);
        var initial = TestData.Copies(straight);
        using (var opt = new ZerothOrderOptimizer(straight, lr: 0.01, perturbations: 2, seed: 5, sparsity: 0.2))
            for (int t = 0; t < 15; t++) opt.Step(() => Loss(straight));

        var interrupted = TestData.Copies(initial);
        var path = Path.Combine(_folder, "resume.log");
        using (var opt = new ZerothOrderOptimizer(interrupted, lr: 0.01, perturbations: 2, seed: 5, sparsity: 0.2))
        {
            for (int t = 0; t < 10; t++) opt.Step(() => Loss(interrupted));
            opt.SaveLog(path);
        }
        var resumed = TestData.Copies(initial);
        using (var opt = ZerothOrderOptimizer.Replay(resumed, ZerothOrderOptimizer.LoadLog(path)))
            for (int t = 0; t < 5; t++) opt.Step(() => Loss(resumed));
        for (int k = 0; k < straight.Length; k++) Assert.Equal(Bits(straight[k]), Bits(resumed[k]));
    }

    [Fact]
    public void Bad_settings_a_non_finite_loss_and_a_damaged_log_are_refused_with_nothing_changed()
    {
        var ps = Parameters(ScalarType.Float32);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ZerothOrderOptimizer(ps, eps: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ZerothOrderOptimizer(ps, lr: double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ZerothOrderOptimizer(ps, perturbations: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ZerothOrderOptimizer(ps, sparsity: 1));
        Assert.Throws<ArgumentException>(() => new ZerothOrderOptimizer(new[] { ps[0], ps[0] }));
        Assert.Throws<ArgumentException>(() => new ZerothOrderOptimizer(new[] { new Parameter(torch.zeros(4, 4).t()) }));
        using var other = new SGD(new[] { ps[0] });
        Assert.Throws<ArgumentException>(() => new ZerothOrderOptimizer(ps, inner: other));

        var before = ps.Select(Bits).ToArray();
        using var opt = new ZerothOrderOptimizer(ps, lr: 0.1, seed: 1);
        int calls = 0;
        var e = Assert.Throws<InvalidOperationException>(() => opt.Step(() => ++calls == 2 ? torch.tensor(double.NaN) : Loss(ps)));
        Assert.Contains("nothing was changed", e.Message);
        Assert.Equal(before, ps.Select(Bits).ToArray());
        Assert.Equal(0, opt.StepCount);

        opt.Step(() => Loss(ps));
        var path = Path.Combine(_folder, "damaged.log");
        opt.SaveLog(path);
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(path, bytes);
        Assert.Throws<InvalidDataException>(() => ZerothOrderOptimizer.LoadLog(path));
    }
}
