using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Training.Distributed;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// What the distributed tests (thread ranks) and tests/MultiGpuCheck (NCCL ranks on GPUs) share: a small two-layer
/// regression whose three tensors differ in size, the optimizers they shard, and DiLoCo written out for two replicas in
/// one process — the references the distributed runs must equal.
/// </summary>
public static class DistributedScenario
{
    public const int Batch = 12;

    /// <summary>Runs <paramref name="work"/>(rank, collectives) on one thread per rank; throws the failures together.</summary>
    public static void OnRanks(int worldSize, Action<int, ICollectives> work)
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
        if (errors.Any(e => e is not null)) throw new AggregateException(errors.Where(e => e is not null).Select(e => e!));
    }

    /// <summary>The problem's parameters and data on one device, in one type.</summary>
    public sealed class Problem
    {
        public readonly Parameter W1, B1, W2;
        readonly Tensor _x, _y;

        public Problem(Device? device = null, ScalarType type = ScalarType.Float64)
        {
            using var kept = KeptScalars.Rent();
            device ??= CPU;
            Tensor On(Tensor t) => t.to(type).to(device);
            W1 = new Parameter(On(torch.linspace(-1, 1, 6 * 4, ScalarType.Float64).reshape(6, 4).sin()));
            B1 = new Parameter(On(torch.linspace(-0.3, 0.3, 6, ScalarType.Float64)));
            W2 = new Parameter(On(torch.linspace(-1, 1, 3 * 6, ScalarType.Float64).reshape(3, 6).cos().mul(kept[0.5])));
            _x = On(torch.linspace(-2, 2, Batch * 4, ScalarType.Float64).reshape(Batch, 4).sin().mul(kept[2]));
            _y = On(torch.linspace(-1, 1, Batch * 3, ScalarType.Float64).reshape(Batch, 3).cos());
        }

        public Parameter[] Parameters => new[] { W1, B1, W2 };

        /// <summary>Backpropagates the mean loss over rows [from, to) at step <paramref name="step"/> (the inputs shift with it).</summary>
        public void Backward(int from, int to, int step)
        {
            using var kept = KeptScalars.Rent();
            using var scope = NewDisposeScope();
            var x = _x[from..to].add(kept[0.1 * step], ScalarCalls.One);
            var h = x.matmul(W1.t()).Plus(B1).tanh();
            h.matmul(W2.t()).sub(_y[from..to]).Squared().sum(new long[] { 1 }).mean().mul(kept[0.5]).backward();
        }
    }

    /// <summary>The optimizers the sharding is checked with: element-wise, factored (whole-tensor state), per-tensor trust ratio.</summary>
    public static optim.Optimizer Make(string name, IEnumerable<Parameter> ps) => name switch
    {
        "AdamW" => new OptDsl.Optimizers.AdamW(ps, lr: 0.05, weightDecay: 0.01),
        "Adafactor" => new OptDsl.Optimizers.Adafactor(ps, lr: 0.05, relativeStep: false, scaleParameter: false),
        "Lamb" => new OptDsl.Optimizers.Lamb(ps, lr: 0.05),
        _ => throw new ArgumentException(name),
    };

    /// <summary><paramref name="steps"/> unsharded steps on the whole batch: what ZeRO-1 must equal.</summary>
    public static Tensor[] Unsharded(string optimizer, int steps, Device? device = null, ScalarType type = ScalarType.Float64)
    {
        var problem = new Problem(device, type);
        using var single = Make(optimizer, problem.Parameters);
        for (int step = 0; step < steps; step++)
        {
            single.zero_grad();
            problem.Backward(0, Batch, step);
            single.step();
        }
        return problem.Parameters.Select(p => p.detach().clone()).ToArray();
    }

    /// <summary>One rank's ZeRO-1 run over its equal share of each batch; returns its parameters and its state bytes.</summary>
    public static (Tensor[] Parameters, long StateBytes) Sharded(string optimizer, int steps, ICollectives group, Device? device = null, ScalarType type = ScalarType.Float64)
    {
        var problem = new Problem(device, type);
        using var sharded = new ShardedOptimizer(problem.Parameters, ps => Make(optimizer, ps), group);
        int per = Batch / group.WorldSize;
        for (int step = 0; step < steps; step++)
        {
            sharded.ZeroGrad();
            problem.Backward(group.Rank * per, (group.Rank + 1) * per, step);
            sharded.Step();
        }
        if (sharded.CopiedGradients != problem.Parameters.Length)
            throw new InvalidOperationException($"Backward should accumulate into the buffer's views after the first step; {sharded.CopiedGradients} gradients were copied.");
        return (problem.Parameters.Select(p => p.detach().clone()).ToArray(), sharded.StateBytes);
    }

    /// <summary>
    /// DiLoCo written out for two replicas in one process (inner AdamW on half the batch each, averaged pseudo-gradients,
    /// Nesterov, fragment f synchronised when (t + f·H/F) mod H = 0): both replicas' final parameters, replica 0's first.
    /// </summary>
    public static Tensor[] SimulatedDiLoCo(int steps, int h, int fragments, double lr, double mu, Device? device = null)
    {
        using var kept = KeptScalars.Rent();
        var replicas = new[] { new Problem(device), new Problem(device) };
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
                    var delta = (global[i] - replicas[0].Parameters[i]).Plus((global[i] - replicas[1].Parameters[i])).div(kept[2]);
                    momentum[i] = momentum[i].mul(kept[mu]).Plus(delta);
                    global[i] = global[i] - delta.Plus(momentum[i].mul(kept[mu])).mul(kept[lr]);
                    foreach (var replica in replicas) replica.Parameters[i].copy_(global[i]);
                }
            }
        }
        return replicas[0].Parameters.Concat(replicas[1].Parameters).Select(p => p.detach().clone()).ToArray();
    }

    /// <summary>One rank's DiLoCo run (rank r trains on rows 6r..6r+6); returns its parameters and synchronisations.</summary>
    public static (Tensor[] Parameters, long Synchronisations) DiLoCoRun(int steps, int h, int fragments, double lr, double mu, ICollectives group, Device? device = null)
    {
        var problem = new Problem(device);
        using var inner = Make("AdamW", problem.Parameters);
        using var diloco = new DiLoCo(problem.Parameters, inner, group, syncEvery: h, lr, mu, fragments);
        for (int t = 1; t <= steps; t++)
        {
            inner.zero_grad();
            problem.Backward(group.Rank * 6, group.Rank * 6 + 6, t);
            diloco.Step();
        }
        return (problem.Parameters.Select(p => p.detach().clone()).ToArray(), diloco.Synchronisations);
    }
}
