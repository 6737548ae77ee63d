using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Core;
using OptDsl.Runtime.Training.Distributed;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// Sharded and communication-efficient training on ranks that are threads of this process (the NCCL path runs the same
/// code on GPUs: tests/MultiGpuCheck). ZeRO-1 against the unsharded optimizer on the whole batch, DiLoCo (plain and
/// streaming) against its algorithm simulated in one thread, the collectives against their definitions. float64,
/// 1e-12: the sums are the same numbers added in another order at most.
/// </summary>
public class DistributedTests
{
    public static IEnumerable<object[]> Optimizers() => new[]
    {
        new object[] { "AdamW", 2 },
        new object[] { "AdamW", 3 },
        new object[] { "Adafactor", 2 },   // factored second moments: whole-tensor state
        new object[] { "Lamb", 2 },        // a trust ratio per tensor
    };

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void ZeRO_1_steps_are_the_unsharded_steps_on_the_whole_batch(string optimizer, int ranks)
    {
        const int steps = 5;
        var reference = DistributedScenario.Unsharded(optimizer, steps);
        var unshardedBytes = ((IStateMemory)DistributedScenario.Make(optimizer, new DistributedScenario.Problem().Parameters)).StateBytes;
        var finals = new Tensor[ranks][];
        var stateBytes = new long[ranks];
        DistributedScenario.OnRanks(ranks, (rank, group) =>
        {
            var (ps, bytes) = DistributedScenario.Sharded(optimizer, steps, group);
            finals[rank] = ps.Select(p => p.MoveToOuterDisposeScope()).ToArray();
            stateBytes[rank] = bytes;
        });
        for (int rank = 0; rank < ranks; rank++)
            foreach (var (got, want) in finals[rank].Zip(reference))
                Assert.True((got - want).abs().max().item<double>() < 1e-12, $"rank {rank}: differs by {(got - want).abs().max().item<double>()}");
        Assert.Equal(unshardedBytes, stateBytes.Sum());
        Assert.All(stateBytes, b => Assert.True(b < unshardedBytes, "every rank keeps less than the whole state"));
    }

    [Fact]
    public void Shards_are_contiguous_runs_of_about_equal_size()
    {
        Assert.Equal(new[] { 0, 0, 1, 1 }, ShardedOptimizer.Partition(new long[] { 10, 10, 10, 10 }, 2));
        Assert.Equal(new[] { 0, 1, 1 }, ShardedOptimizer.Partition(new long[] { 50, 30, 20 }, 2));
        // GPT-2 small's embedding (38.6M of 124M elements) takes a rank's share largely alone.
        var owners = ShardedOptimizer.Partition(new long[] { 38_597_376, 786_432 }.Concat(Enumerable.Repeat(7_087_872L, 12)).ToArray(), 2);
        Assert.Equal(0, owners[0]);
        Assert.Equal(1, owners[^1]);
        Assert.True(owners.SequenceEqual(owners.OrderBy(o => o)), "runs are contiguous");
    }

    [Fact]
    public void ZeRO_1_refuses_rules_with_global_sums_and_agrees_on_non_finite_gradients_across_ranks()
    {
        DistributedScenario.OnRanks(2, (rank, group) =>
        {
            var problem = new DistributedScenario.Problem();
            Assert.Throws<NotSupportedException>(() => new ShardedOptimizer(problem.Parameters, ps => new OptDsl.Optimizers.Prodigy(ps), group));
        });
        DistributedScenario.OnRanks(2, (rank, group) =>
        {
            var problem = new DistributedScenario.Problem();
            using var sharded = new ShardedOptimizer(problem.Parameters, ps => DistributedScenario.Make("AdamW", ps), group)
            {
                NonFiniteGradients = NonFiniteGradients.Throw,
            };
            var before = problem.Parameters.Select(p => p.detach().clone()).ToArray();
            problem.Backward(0, 6, 0);
            if (rank == 1) problem.W1.grad![0, 0] = double.NaN;   // owned by rank 0: only the sum shows it
            var e = Assert.Throws<InvalidOperationException>(() => sharded.Step());
            Assert.Contains("not finite", e.Message);
            foreach (var (p, b) in problem.Parameters.Zip(before)) Assert.True(p.equal(b).all().item<bool>());
            // Skipped instead: on every rank, nothing changed, and the next finite step runs.
            sharded.NonFiniteGradients = NonFiniteGradients.Skip;
            problem.Backward(0, 6, 0);
            if (rank == 1) problem.W1.grad![0, 0] = double.PositiveInfinity;
            sharded.Step();
            Assert.Equal(1, sharded.SkippedSteps);
            foreach (var (p, b) in problem.Parameters.Zip(before)) Assert.True(p.equal(b).all().item<bool>());
            problem.Backward(0, 6, 0);
            sharded.Step();
            Assert.False(problem.W2.equal(before[2]).all().item<bool>());
        });
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]   // streaming: three fragments at staggered steps
    public void DiLoCo_is_its_algorithm_simulated_in_one_thread(int fragments)
    {
        const int steps = 11, h = 4;
        const double lr = 0.7, mu = 0.9;
        var expected = DistributedScenario.SimulatedDiLoCo(steps, h, fragments, lr, mu);
        var finals = new Tensor[2][];
        var syncs = new long[2];
        DistributedScenario.OnRanks(2, (rank, group) =>
        {
            var (ps, count) = DistributedScenario.DiLoCoRun(steps, h, fragments, lr, mu, group);
            finals[rank] = ps.Select(p => p.MoveToOuterDisposeScope()).ToArray();
            syncs[rank] = count;
        });
        var got = finals[0].Concat(finals[1]).ToArray();
        for (int i = 0; i < got.Length; i++)
            Assert.True((got[i] - expected[i]).abs().max().item<double>() < 1e-12, $"tensor {i}: {(got[i] - expected[i]).abs().max().item<double>()}");
        Assert.Equal(fragments == 1 ? 2 : 8, syncs[0]);   // t = 4, 8; or fragment 0 at 4, 8, fragment 1 at 3, 7, 11, fragment 2 at 2, 6, 10
        // After the last synchronisation of fragment 0 (step 8) replicas have drifted apart again: 3 local steps.
        Assert.False(finals[0][0].equal(finals[1][0]).all().item<bool>());
    }

    [Fact]
    public void Collectives_do_what_they_say_and_count_ring_bytes()
    {
        using var kept = KeptScalars.Rent();
        var results = new Tensor[3][];
        var bytes = new long[3];
        DistributedScenario.OnRanks(3, (rank, group) =>
        {
            using var kept = KeptScalars.Rent();
            var a = torch.full(4, kept[(double)(rank + 1)], ScalarType.Float64);
            group.AllReduce(a);                                       // 1 + 2 + 3
            var b = torch.full(2, kept[(double)(rank + 1)], ScalarType.Float64);
            group.Reduce(b, root: 1, ReduceOp.Average);               // rank 1: 2; others keep theirs
            var c = torch.full(2, kept[(double)(rank + 1)], ScalarType.Float64);
            group.Broadcast(c, root: 2);                              // 3 everywhere
            var d = torch.arange(kept[0L], kept[6L], ScalarCalls.One, dtype: ScalarType.Float64).add(kept[rank * 10], ScalarCalls.One);
            var e = torch.zeros(2, ScalarType.Float64);
            group.ReduceScatter(d, e);                                // slice r of Σ_r (arange + 10r)
            var f = torch.zeros(3, ScalarType.Float64);
            group.AllGather(torch.full(1, kept[(double)rank], ScalarType.Float64), f);
            results[rank] = new[] { a, b, c, e, f }.Select(t => t.MoveToOuterDisposeScope()).ToArray();
            bytes[rank] = group.BytesSent;
        });
        for (int rank = 0; rank < 3; rank++)
        {
            var r = results[rank];
            Assert.True(r[0].eq(kept[6]).all().item<bool>());
            Assert.True(r[1].eq(kept[rank == 1 ? 2 : rank + 1]).all().item<bool>());
            Assert.True(r[2].eq(kept[3]).all().item<bool>());
            Assert.Equal(new[] { 3.0 * 2 * rank + 30, 3.0 * (2 * rank + 1) + 30 }, r[3].data<double>().ToArray());
            Assert.Equal(new[] { 0.0, 1, 2 }, r[4].data<double>().ToArray());
        }
        // all-reduce 2·(2/3)·32 + reduce 16 + broadcast 16 + reduce-scatter (2/3)·48 + all-gather (2/3)·24.
        Assert.Equal(42 + 16 + 16 + 32 + 16, bytes[0]);
    }
}
