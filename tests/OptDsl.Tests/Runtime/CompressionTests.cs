using System;
using System.IO;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Services.Random;
using OptDsl.Runtime.Training.Distributed;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// Data parallelism with compressed gradient averaging, on thread ranks: PowerSGD and top-k against their algorithms
/// written out for two ranks (float64, 1e-12), exact where they should be (full rank, density 1), plain data
/// parallelism against the unsharded optimizer on the whole batch, and the error-feedback state through checkpoints.
/// </summary>
public class CompressionTests
{
    static readonly long[][] Shapes = { new long[] { 6, 5 }, new long[] { 5 }, new long[] { 4, 2, 3 } };

    /// <summary>Rank r's gradients at step t: different on each rank, each step and each tensor.</summary>
    static Tensor[] Gradients(int rank, int step)
    {
        using var kept = KeptScalars.Rent();
        return Shapes.Select((s, i) =>
        torch.linspace(-0.9, 1.3, s.Aggregate(1L, (a, b) => a * b), ScalarType.Float64).mul(kept[1.3 * i + 0.7 * rank + 0.31 * step + 1]).sin().reshape(s)).ToArray();
    }

    static Tensor[][] Run(int steps, Func<GradientCompression> compression)
    {
        var outputs = new Tensor[2][];
        DistributedScenario.OnRanks(2, (rank, group) =>
        {
            var c = compression();
            Tensor[] last = Array.Empty<Tensor>();
            for (int t = 0; t < steps; t++)
            {
                last = Gradients(rank, t);
                c.AverageInPlace(last, group);
            }
            outputs[rank] = last.Concat(c.State.Where(s => s is not null).Select(s => s!)).Select(x => x.detach().clone().MoveToOuterDisposeScope()).ToArray();
        });
        return outputs;
    }

    static void Same(Tensor[] got, Tensor[] want, string what)
    {
        Assert.Equal(want.Length, got.Length);
        for (int i = 0; i < got.Length; i++)
            Assert.True((got[i] - want[i]).abs().max().item<double>() < 1e-12, $"{what}, tensor {i}: {(got[i] - want[i]).abs().max().item<double>()}");
    }

    [Fact]
    public void PowerSGD_is_its_algorithm_written_out()
    {
        using var kept = KeptScalars.Rent();
        const int steps = 3, width = 2;
        var errors = new Tensor?[2, Shapes.Length];
        var q = new Tensor?[Shapes.Length];
        Tensor[] averaged = Array.Empty<Tensor>();
        for (int t = 0; t < steps; t++)
        {
            var g = new[] { Gradients(0, t), Gradients(1, t) };
            averaged = new Tensor[Shapes.Length];
            for (int i = 0; i < Shapes.Length; i++)
            {
                if (Shapes[i].Length < 2)
                {
                    averaged[i] = g[0][i].Plus(g[1][i]).div(kept[2]);
                    continue;
                }
                long n = Shapes[i][0], m = g[0][i].NumberOfElements / n;
                var mats = new Tensor[2];
                for (int r = 0; r < 2; r++) mats[r] = g[r][i].reshape(n, m).Plus((errors[r, i] ?? torch.zeros(n, m, ScalarType.Float64)));
                q[i] ??= CounterRandomTensors.Normal(7, (ulong)i, new[] { m, (long)width }, CPU).to(ScalarType.Float64);
                var p = linalg.qr(mats[0].matmul(q[i]!).Plus(mats[1].matmul(q[i]!)).div(kept[2])).Q;
                q[i] = mats[0].t().matmul(p).Plus(mats[1].t().matmul(p)).div(kept[2]);
                var approx = p.matmul(q[i]!.t());
                for (int r = 0; r < 2; r++) errors[r, i] = mats[r] - approx;
                averaged[i] = approx.reshape(Shapes[i]);
            }
        }
        var got = Run(steps, () => new PowerSgd(width, seed: 7));
        // Rank 0's output: the averages, then its matrices' errors, then their Qs.
        var errors0 = Enumerable.Range(0, Shapes.Length).Where(i => errors[0, i] is not null).Select(i => errors[0, i]!.reshape(Shapes[i]));
        Same(got[0], averaged.Concat(errors0).Concat(q.Where(x => x is not null).Select(x => x!)).ToArray(), "rank 0");
        Same(got[1][..Shapes.Length], averaged, "rank 1's average");
        Assert.True(errors[0, 0]!.abs().max().item<double>() > 1e-3, "rank 2 of 5 columns must leave an error");
    }

    [Fact]
    public void PowerSGD_at_full_rank_and_top_k_at_density_one_are_the_plain_average()
    {
        using var kept = KeptScalars.Rent();
        var plain = Enumerable.Range(0, Shapes.Length).Select(i => Gradients(0, 1)[i].Plus(Gradients(1, 1)[i]).div(kept[2])).ToArray();
        foreach (var make in new Func<GradientCompression>[] { () => new PowerSgd(8), () => new TopK(1.0) })
        {
            var got = Run(2, make);
            for (int r = 0; r < 2; r++)
                for (int i = 0; i < Shapes.Length; i++)
                    Assert.True((got[r][i] - plain[i]).abs().max().item<double>() < 1e-10);
        }
    }

    [Fact]
    public void Top_k_is_its_algorithm_written_out()
    {
        using var kept = KeptScalars.Rent();
        const int steps = 3;
        const double density = 0.2;
        var errors = new Tensor?[2, Shapes.Length];
        Tensor[] averaged = Array.Empty<Tensor>();
        for (int t = 0; t < steps; t++)
        {
            var g = new[] { Gradients(0, t), Gradients(1, t) };
            averaged = new Tensor[Shapes.Length];
            for (int i = 0; i < Shapes.Length; i++)
            {
                long n = g[0][i].NumberOfElements, k = (long)Math.Ceiling(density * n);
                var sum = torch.zeros(n, ScalarType.Float64);
                for (int r = 0; r < 2; r++)
                {
                    var acc = g[r][i].reshape(-1).Plus((errors[r, i] ?? torch.zeros(n, ScalarType.Float64)));
                    var order = acc.abs().argsort(descending: true)[..(int)k];
                    var top = torch.zeros(n, ScalarType.Float64).index_copy(0, order, acc.index_select(0, order));
                    sum = sum.Plus(top);
                    errors[r, i] = acc - top;
                }
                averaged[i] = sum.div(kept[2]).reshape(Shapes[i]);
            }
        }
        var got = Run(steps, () => new TopK(density));
        Same(got[0], averaged.Concat(Enumerable.Range(0, Shapes.Length).Select(i => errors[0, i]!.reshape(Shapes[i]))).ToArray(), "rank 0");
        Same(got[1], averaged.Concat(Enumerable.Range(0, Shapes.Length).Select(i => errors[1, i]!.reshape(Shapes[i]))).ToArray(), "rank 1");
        Assert.Throws<ArgumentOutOfRangeException>(() => new TopK(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PowerSgd(0));
    }

    [Fact]
    public void Plain_data_parallelism_is_the_step_on_the_whole_batch()
    {
        var reference = DistributedScenario.Unsharded("AdamW", 4);
        var finals = new Tensor[2][];
        DistributedScenario.OnRanks(2, (rank, group) =>
        {
            var problem = new DistributedScenario.Problem();
            using var optimizer = DistributedScenario.Make("AdamW", problem.Parameters);
            using var dp = new DataParallel(problem.Parameters, optimizer, group);
            for (int step = 0; step < 4; step++)
            {
                optimizer.zero_grad();
                problem.Backward(rank * 6, rank * 6 + 6, step);
                dp.Step();
            }
            finals[rank] = problem.Parameters.Select(p => p.detach().clone().MoveToOuterDisposeScope()).ToArray();
        });
        Same(finals[0], reference, "rank 0");
        Same(finals[1], reference, "rank 1");
    }

    [Fact]
    public void Error_feedback_state_goes_through_checkpoints()
    {
        var dir = Directory.CreateTempSubdirectory("optdsl-dp-").FullName;
        try
        {
            Tensor[] Train(int rank, ICollectives group, int steps, string? save, string? load)
            {
                var problem = new DistributedScenario.Problem();
                var optimizer = new OptDsl.Optimizers.SGD(problem.Parameters, lr: 0.1, momentum: 0.9);
                using var dp = new DataParallel(problem.Parameters, optimizer, group, new PowerSgd(1, seed: 3));
                int start = 0;
                if (load is not null)
                {
                    using (no_grad())
                        foreach (var (p, saved) in problem.Parameters.Zip(Enumerable.Range(0, 3).Select(i => torch.Tensor.Load(Path.Combine(load, $"p{rank}-{i}")))))
                            p.copy_(saved);
                    optimizer.LoadCheckpoint(Path.Combine(load, $"sgd{rank}"));
                    dp.LoadCheckpoint(Path.Combine(load, $"dp{rank}"));
                    start = 2;
                }
                for (int step = start; step < steps; step++)
                {
                    optimizer.zero_grad();
                    problem.Backward(rank * 6, rank * 6 + 6, step);
                    dp.Step();
                }
                if (save is not null)
                {
                    for (int i = 0; i < 3; i++) problem.Parameters[i].detach().Save(Path.Combine(save, $"p{rank}-{i}"));
                    optimizer.SaveCheckpoint(Path.Combine(save, $"sgd{rank}"));
                    dp.SaveCheckpoint(Path.Combine(save, $"dp{rank}"));
                }
                return problem.Parameters.Select(p => p.detach().clone().MoveToOuterDisposeScope()).ToArray();
            }
            var whole = new Tensor[2][];
            DistributedScenario.OnRanks(2, (rank, group) => whole[rank] = Train(rank, group, 4, null, null));
            DistributedScenario.OnRanks(2, (rank, group) => Train(rank, group, 2, dir, null));
            var resumed = new Tensor[2][];
            DistributedScenario.OnRanks(2, (rank, group) => resumed[rank] = Train(rank, group, 4, null, dir));
            for (int r = 0; r < 2; r++)
                Assert.True(whole[r].Zip(resumed[r]).All(p => p.First.equal(p.Second).all().item<bool>()), $"rank {r} resumed differs");

            // Another compression, or another rank's file: refused.
            DistributedScenario.OnRanks(2, (rank, group) =>
            {
                var problem = new DistributedScenario.Problem();
                using var other = new DataParallel(problem.Parameters, new OptDsl.Optimizers.SGD(problem.Parameters), group, new TopK(0.5));
                Assert.Throws<InvalidDataException>(() => other.LoadCheckpoint(Path.Combine(dir, $"dp{rank}")));
                using var swapped = new DataParallel(problem.Parameters, new OptDsl.Optimizers.SGD(problem.Parameters), group, new PowerSgd(1, seed: 3));
                Assert.Throws<InvalidDataException>(() => swapped.LoadCheckpoint(Path.Combine(dir, $"dp{1 - rank}")));
            });
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
