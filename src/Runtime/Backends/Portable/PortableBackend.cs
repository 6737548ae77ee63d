using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Backends.Portable;

/// <summary>
/// The update as TorchSharp operations, for any parameter: each tensor as it is added, or — for a rule that yields
/// whole-tensor requests — the step's tensors in lockstep at <see cref="Run"/>. Half-precision parameters are computed
/// in float32, like their state, and rounded into the parameter once at the end, as the fused kernel does.
/// </summary>
internal sealed class PortableBackend(PortableUpdate update, PortableSteps? steps, UpdateStepsKind kind) : IUpdateBackend
{
    readonly List<UpdateItem> _lockstep = new();

    /// <summary>The registry's entry: every rule has a portable update.</summary>
    public static IUpdateBackend For(UpdateRule rule) => new PortableBackend(rule.Update, rule.Steps, rule.StepsKind);

    /// <inheritdoc/>
    public bool Fused => false;

    /// <inheritdoc/>
    public bool ScalesGradients => false;

    /// <inheritdoc/>
    public string? Report => null;

    /// <inheritdoc/>
    public bool Accepts(in UpdateItem item) => true;

    /// <inheritdoc/>
    public string? Prepare(in UpdateItem item) => null;

    /// <inheritdoc/>
    public void Add(in UpdateItem item)
    {
        if (kind != UpdateStepsKind.None)
        {
            _lockstep.Add(item);
            return;
        }
        using var scope = torch.NewDisposeScope();
        UpdateAlone(item);
    }

    /// <summary>
    /// The updates of a rule that yields whole-tensor requests, run in lockstep: with matrix work only, the CUDA tensors
    /// of one matrix shape and type at a time (one dispose scope per group bounds the temporaries to the group's), each
    /// orthogonalisation answered for the group by one batched chain; with global reductions, every tensor of the step
    /// together. On the CPU a batched chain is slower than one matrix at a time (measured with
    /// benchmarks/OptDsl.CpuBench's Muon benchmark), so there matrix-only rules run each tensor alone.
    /// </summary>
    public void Run(GradientFactor factor)
    {
        if (_lockstep.Count == 0) return;
        if (kind == UpdateStepsKind.PerShape)
        {
            foreach (var item in _lockstep.Where(w => w.Parameter.device_type != DeviceType.CUDA))
            {
                using var alone = torch.NewDisposeScope();
                UpdateAlone(item);
            }
            _lockstep.RemoveAll(w => w.Parameter.device_type != DeviceType.CUDA);
        }
        var groups = kind == UpdateStepsKind.AllTensors
            ? new[] { _lockstep.AsEnumerable() }
            : _lockstep.GroupBy(w => (w.Parameter.shape[0], MatrixMath.ColumnCount(w.Parameter), w.Parameter.dtype, w.Parameter.device_type, w.Parameter.device_index))
                .Select(g => g.AsEnumerable());
        foreach (var group in groups)
        {
            using var scope = torch.NewDisposeScope();
            var updates = new List<IEnumerator<WholeTensorRequest>>();
            var halves = new List<(Tensor P, Tensor P32, uint? Key, Tensor? Before, Tensor? Compensation)>();
            foreach (var item in group)
            {
                Tensor target = item.Parameter, gradient = item.Gradient;
                if (Precision.ComputeType(target.dtype) != target.dtype)
                {
                    target = item.Parameter.to(ScalarType.Float32);
                    gradient = item.Gradient.to(ScalarType.Float32);
                    halves.Add((item.Parameter, target, item.RoundingKey, item.Compensation is null ? null : target.clone(), item.Compensation));
                }
                updates.Add(steps!(item.Index, target, gradient).GetEnumerator());
            }
            StepRunner.Run(updates);
            foreach (var (p, p32, key, before, compensation) in halves) Store(p, p32, key, before, compensation);
        }
    }

    /// <inheritdoc/>
    public void EndStep() => _lockstep.Clear();

    void UpdateAlone(in UpdateItem item)
    {
        var (p, g) = (item.Parameter, item.Gradient);
        if (Precision.ComputeType(p.dtype) == p.dtype)
        {
            update(item.Index, p, g);
            return;
        }
        var p32 = p.to(ScalarType.Float32);
        var before = item.Compensation is null ? null : p32.clone();
        update(item.Index, p32, g.to(ScalarType.Float32));
        Store(p, p32, item.RoundingKey, before, item.Compensation);
    }

    /// <summary>
    /// The float32 result into the half-precision parameter: rounded to nearest, stochastically under a key, or with
    /// Kahan compensation (<paramref name="before"/> the value the update started from, <paramref name="compensation"/> its buffer).
    /// </summary>
    static void Store(Tensor p, Tensor p32, uint? key, Tensor? before, Tensor? compensation)
    {
        if (compensation is not null) KahanCompensation.Store(p, before!, p32, compensation);
        else if (key is { } k) StochasticRounding.Store(p, p32, k);
        else p.copy_(p32);
    }
}
