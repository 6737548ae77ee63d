using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using OptDsl.Runtime;
using OptDsl.Runtime.Distributed;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// Sharded and communication-efficient training on ranks that are threads of this process (the NCCL path runs the same
/// code on GPUs: tests/GpuCheck --multi-gpu). ZeRO-1 against the unsharded optimizer on the whole batch, DiLoCo (plain and
/// streaming) against its algorithm simulated in one thread, the collectives against their definitions. float64,
/// 1e-12: the sums are the same numbers added in another order at most.
/// </summary>
public class DistributedTests
{
    /// <summary>Runs <paramref name="work"/>(rank, collectives) on one thread per rank; rethrows the first failure.</summary>
    static void OnRanks(int worldSize, Action<int, ICollectives> work)
    {
        var group = ThreadCollectives.Create(worldSize);
        var errors = new Exception?[worldSize];
        var threads = Enumerable.Range(0, worldSize).Select(r => new Thread(() =>
        {
            try
            {
                using var scope = NewDisposeScope();
                work(r, group[r]);
            }
            catch (Exception e)
            {
                errors[r] = e;
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        if (errors.FirstOrDefault(e => e is not null) is { } first) throw new AggregateException(errors.Where(e => e is not null)!);
    }

    const int Batch = 12;

    /// <summary>A two-layer regression whose three tensors have different sizes; rows <paramref name="from"/>..to of the data.</summary>
    sealed class Problem
    {
        public readonly Parameter W1, B1, W2;
        readonly Tensor _x, _y;

        public Problem()
        {
            W1 = new Parameter(torch.linspace(-1, 1, 6 * 4, ScalarType.Float64).reshape(6, 4).sin());
            B1 = new Parameter(torch.linspace(-0.3, 0.3, 6, ScalarType.Float64));
            W2 = new Parameter(torch.linspace(-1, 1, 3 * 6, ScalarType.Float64).reshape(3, 6).cos().mul(0.5));
            _x = torch.linspace(-2, 2, Batch * 4, ScalarType.Float64).reshape(Batch, 4).sin().mul(2);
            _y = torch.linspace(-1, 1, Batch * 3, ScalarType.Float64).reshape(Batch, 3).cos();
        }

        public Parameter[] Parameters => new[] { W1, B1, W2 };

        /// <summary>Mean loss over rows [from, to) at step <paramref name="step"/> (the data shifts with the step).</summary>
        public void Backward(int from, int to, int step)
        {
            var x = _x[from..to].add(0.1 * step);
            var h = x.matmul(W1.t()).add(B1).tanh();
            h.matmul(W2.t()).sub(_y[from..to]).square().sum(new long[] { 1 }).mean().mul(0.5).backward();
        }
    }

    public static IEnumerable<object[]> Optimizers() => new[]
    {
        new object[] { "AdamW", 2 },
        new object[] { "AdamW", 3 },
        new object[] { "Adafactor", 2 },   // factored second moments: whole-tensor state
        new object[] { "Lamb", 2 },        // a trust ratio per tensor
    };

    static optim.Optimizer Make(string name, IEnumerable<Parameter> ps) => name switch
    {
        "AdamW" => new OptDsl.Optimizers.AdamW(ps, lr: 0.05, weightDecay: 0.01),
        "Adafactor" => new OptDsl.Optimizers.Adafactor(ps, lr: 0.05, relativeStep: false, scaleParameter: false),
        "Lamb" => new OptDsl.Optimizers.Lamb(ps, lr: 0.05),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void ZeRO_1_steps_are_the_unsharded_steps_on_the_whole_batch(string optimizer, int ranks)
    {
        const int steps = 5;
        var reference = new Problem();
        using (var single = Make(optimizer, reference.Parameters))
            for (int step = 0; step < steps; step++)
            {
                single.zero_grad();
                reference.Backward(0, Batch, step);
                single.step();
            }
        var unshardedBytes = ((IStateMemory)Make(optimizer, new Problem().Parameters)).StateBytes;

        var finals = new Tensor[ranks][];
        var stateBytes = new long[ranks];
        OnRanks(ranks, (rank, group) =>
        {
            var problem = new Problem();
            using var sharded = new ShardedOptimizer(problem.Parameters, ps => Make(optimizer, ps), group);
            int per = Batch / ranks;
            for (int step = 0; step < steps; step++)
            {
                sharded.ZeroGrad();
                problem.Backward(rank * per, (rank + 1) * per, step);
                sharded.Step();
            }
            finals[rank] = problem.Parameters.Select(p => p.detach().clone().MoveToOuterDisposeScope()).ToArray();
            stateBytes[rank] = sharded.StateBytes;
        });
        for (int rank = 0; rank < ranks; rank++)
            foreach (var (got, want) in finals[rank].Zip(reference.Parameters))
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
    public void ZeRO_1_refuses_rules_with_global_sums_and_non_finite_gradients_on_any_rank()
    {
        OnRanks(2, (rank, group) =>
        {
            var problem = new Problem();
            Assert.Throws<NotSupportedException>(() => new ShardedOptimizer(problem.Parameters, ps => new OptDsl.Optimizers.Prodigy(ps), group));
        });
        OnRanks(2, (rank, group) =>
        {
            var problem = new Problem();
            using var sharded = new ShardedOptimizer(problem.Parameters, ps => Make("AdamW", ps), group);
            var before = problem.Parameters.Select(p => p.detach().clone()).ToArray();
            problem.Backward(0, 6, 0);
            if (rank == 1) problem.W1.grad![0, 0] = double.NaN;   // owned by rank 0: only the sum shows it
            var e = Assert.Throws<InvalidOperationException>(() => sharded.Step());
            Assert.Contains("not finite", e.Message);
            foreach (var (p, b) in problem.Parameters.Zip(before)) Assert.True(p.equal(b).all().item<bool>());
        });
    }

    /// <summary>DiLoCo written out for two replicas in one thread: inner AdamW steps, averaged pseudo-gradients, Nesterov.</summary>
    static Tensor[] Simulated(int steps, int h, int fragments, double lr, double mu)
    {
        var replicas = new[] { new Problem(), new Problem() };
        var inners = replicas.Select(r => Make("AdamW", r.Parameters)).ToArray();
        var global = replicas[0].Parameters.Select(p => p.detach().clone()).ToArray();
        var momentum = global.Select(g => torch.zeros_like(g)).ToArray();
        var fragmentOf = ShardedOptimizer.Partition(global.Select(g => g.NumberOfElements).ToArray(), fragments);
        for (int t = 1; t <= steps; t++)
        {
            for (int r = 0; r < 2; r++)
            {
                inners[r].zero_grad();
                replicas[r].Backward(r * 6, r * 6 + 6, t);
                inners[r].step();
            }
            for (int f = 0; f < fragments; f++)
            {
                if ((t + f * h / fragments) % h != 0) continue;
                using var noGrad = no_grad();
                for (int i = 0; i < global.Length; i++)
                {
                    if (fragmentOf[i] != f) continue;
                    var delta = (global[i] - replicas[0].Parameters[i] + (global[i] - replicas[1].Parameters[i])) / 2;
                    momentum[i] = mu * momentum[i] + delta;
                    global[i] = global[i] - lr * (delta + mu * momentum[i]);
                    foreach (var replica in replicas) replica.Parameters[i].copy_(global[i]);
                }
            }
        }
        return replicas[0].Parameters.Concat(replicas[1].Parameters).Select(p => p.detach().clone()).ToArray();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]   // streaming: three fragments at staggered steps
    public void DiLoCo_is_its_algorithm_simulated_in_one_thread(int fragments)
    {
        const int steps = 11, h = 4;
        const double lr = 0.7, mu = 0.9;
        var expected = Simulated(steps, h, fragments, lr, mu);
        var finals = new Tensor[2][];
        var syncs = new long[2];
        OnRanks(2, (rank, group) =>
        {
            var problem = new Problem();
            using var inner = Make("AdamW", problem.Parameters);
            using var diloco = new DiLoCo(problem.Parameters, inner, group, syncEvery: h, lr, mu, fragments);
            for (int t = 1; t <= steps; t++)
            {
                inner.zero_grad();
                problem.Backward(rank * 6, rank * 6 + 6, t);
                diloco.Step();
            }
            finals[rank] = problem.Parameters.Select(p => p.detach().clone().MoveToOuterDisposeScope()).ToArray();
            syncs[rank] = diloco.Synchronisations;
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
        var results = new Tensor[3][];
        var bytes = new long[3];
        OnRanks(3, (rank, group) =>
        {
            var a = torch.full(4, (double)(rank + 1), ScalarType.Float64);
            group.AllReduce(a);                                       // 1 + 2 + 3
            var b = torch.full(2, (double)(rank + 1), ScalarType.Float64);
            group.Reduce(b, root: 1, ReduceOp.Average);               // rank 1: 2; others keep theirs
            var c = torch.full(2, (double)(rank + 1), ScalarType.Float64);
            group.Broadcast(c, root: 2);                              // 3 everywhere
            var d = torch.arange(6, dtype: ScalarType.Float64).add(rank * 10);
            var e = torch.zeros(2, ScalarType.Float64);
            group.ReduceScatter(d, e);                                // slice r of Σ_r (arange + 10r)
            var f = torch.zeros(3, ScalarType.Float64);
            group.AllGather(torch.full(1, (double)rank, ScalarType.Float64), f);
            results[rank] = new[] { a, b, c, e, f }.Select(t => t.MoveToOuterDisposeScope()).ToArray();
            bytes[rank] = group.BytesSent;
        });
        for (int rank = 0; rank < 3; rank++)
        {
            var r = results[rank];
            Assert.True(r[0].eq(6).all().item<bool>());
            Assert.True(r[1].eq(rank == 1 ? 2 : rank + 1).all().item<bool>());
            Assert.True(r[2].eq(3).all().item<bool>());
            Assert.Equal(new[] { 3.0 * 2 * rank + 30, 3.0 * (2 * rank + 1) + 30 }, r[3].data<double>().ToArray());
            Assert.Equal(new[] { 0.0, 1, 2 }, r[4].data<double>().ToArray());
        }
        // all-reduce 2·(2/3)·32 + reduce 16 + broadcast 16 + reduce-scatter (2/3)·48 + all-gather (2/3)·24.
        Assert.Equal(42 + 16 + 16 + 32 + 16, bytes[0]);
    }
}
