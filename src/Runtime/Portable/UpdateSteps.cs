using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Portable;

/// <summary>
/// Whole-tensor work a generated portable update yields — a Newton–Schulz orthogonalisation, a reduction over every
/// tensor — so that the runtime can answer it across tensors; the rule reads <see cref="Result"/> when it resumes.
/// </summary>
public abstract class WholeTensorRequest(Tensor input, Tensor like)
{
    /// <summary>The rule's per-element value (shaped like the parameter, or broadcast to it).</summary>
    public Tensor Input { get; } = input;

    /// <summary>The parameter.</summary>
    public Tensor Like { get; } = like;

    /// <summary>The answer, once the runtime has given it.</summary>
    public Tensor Result { get; internal set; } = null!;

    /// <summary>The input expanded to the parameter's shape.</summary>
    internal Tensor Full => Input.shape.AsSpan().SequenceEqual(Like.shape) ? Input : Input.expand_as(Like);
}

/// <summary>A request for a Newton–Schulz orthogonalisation of <see cref="WholeTensorRequest.Input"/> as a matrix of <c>shape[0]</c> rows.</summary>
public sealed class MatrixRequest(Tensor input, Tensor like, double steps, double a, double b, double c) : WholeTensorRequest(input, like)
{
    /// <summary>Newton–Schulz iterations.</summary>
    public double Steps { get; } = steps;

    /// <summary>The quintic's coefficient of X.</summary>
    public double A { get; } = a;

    /// <summary>The quintic's coefficient of XXᵀX.</summary>
    public double B { get; } = b;

    /// <summary>The quintic's coefficient of (XXᵀ)²X.</summary>
    public double C { get; } = c;

    internal (long, long, ScalarType, DeviceType, int, double, double, double, double) Key =>
        (Like.shape[0], MatrixMath.ColumnCount(Like), Input.dtype, Input.device_type, Input.device_index, Steps, A, B, C);
}

/// <summary>What a <see cref="GlobalRequest"/> computes over all tensors.</summary>
public enum GlobalReduction
{
    /// <summary>The sum of every element.</summary>
    Sum,
    /// <summary>The L2 norm of all elements together.</summary>
    Norm,
    /// <summary>The largest absolute value.</summary>
    MaxAbs,
}

/// <summary>
/// A request for a reduction over every tensor that makes the same request in the same round — of the whole step, or,
/// with a <paramref name="scope"/> (the parameter group's options object), of that group only.
/// </summary>
public sealed class GlobalRequest(GlobalReduction reduction, Tensor input, Tensor like, object? scope = null) : WholeTensorRequest(input, like)
{
    /// <summary>The reduction.</summary>
    public GlobalReduction Reduction { get; } = reduction;

    /// <summary>What the reduction spans: null for every tensor of the step, else the group it is limited to.</summary>
    public object? Scope { get; } = scope;

    /// <summary>This tensor's part: its sum, its sum of squares, or its largest magnitude (0 when empty), in at least float32.</summary>
    internal Tensor Part()
    {
        var x = DeclaredState.InStateType(Full);
        return Reduction switch
        {
            GlobalReduction.Sum => x.sum(),
            GlobalReduction.Norm => x.square().sum(),
            _ => x.NumberOfElements == 0 ? torch.zeros(1, x.dtype, x.device).squeeze() : x.abs().max(),
        };
    }
}

/// <summary>How a declaration's portable update runs when it yields whole-tensor requests.</summary>
public enum UpdateStepsKind
{
    /// <summary>It yields nothing: <c>Update</c> runs each tensor alone.</summary>
    None,
    /// <summary>Only matrix requests: tensors of one shape run in lockstep, a group at a time.</summary>
    PerShape,
    /// <summary>Global reductions: every tensor of the step runs in lockstep.</summary>
    AllTensors,
}

/// <summary>Runs generated updates that yield <see cref="WholeTensorRequest"/>s, answering them for one tensor or across many.</summary>
public static class StepRunner
{
    /// <summary>Runs one tensor's update, answering each request on its own (a global reduction covers this tensor alone).</summary>
    public static void RunAlone(IEnumerable<WholeTensorRequest> update)
    {
        foreach (var request in update) Answer(new[] { request });
    }

    /// <summary>
    /// Runs many tensors' updates in lockstep: all advance to their next request; matrix requests of one shape, type,
    /// device and iteration are answered by one batched chain, global reductions of one kind by one reduction over
    /// all who asked; then all resume — until every update ends.
    /// </summary>
    public static void Run(IReadOnlyList<IEnumerator<WholeTensorRequest>> updates)
    {
        var live = updates.Where(u => u.MoveNext()).ToList();
        while (live.Count > 0)
        {
            var requests = live.Select(u => u.Current).ToList();
            foreach (var group in requests.OfType<MatrixRequest>().GroupBy(r => r.Key)) Answer(group.ToList());
            foreach (var group in requests.OfType<GlobalRequest>().GroupBy(r => (r.Reduction, Scope: r.Scope ?? NoScope)))
                Answer(group.ToList());
            live = live.Where(u => u.MoveNext()).ToList();
        }
    }

    static readonly object NoScope = new();

    static void Answer(IReadOnlyList<WholeTensorRequest> same)
    {
        switch (same[0])
        {
            case MatrixRequest:
                AnswerMatrices(same.Cast<MatrixRequest>().ToList());
                break;
            case GlobalRequest first:
            {
                var device = first.Like.device;
                var parts = torch.stack(same.Cast<GlobalRequest>().Select(r => r.Part().to(ScalarType.Float64).to(device)));
                var total = first.Reduction switch
                {
                    GlobalReduction.Sum => parts.sum(),
                    GlobalReduction.Norm => parts.sum().sqrt(),
                    _ => parts.max(),
                };
                foreach (var r in same) r.Result = total.to(r.Input.dtype).to(r.Like.device);
                break;
            }
            default:
                throw new NotSupportedException($"No runner answers {same[0].GetType().Name}.");
        }
    }

    static void AnswerMatrices(IReadOnlyList<MatrixRequest> same)
    {
        var first = same[0];
        if (same.Count == 1)
        {
            first.Result = MatrixMath.NewtonSchulz(first.Input, first.Like, first.Steps, first.A, first.B, first.C);
            return;
        }
        long rows = first.Like.shape[0], columns = MatrixMath.ColumnCount(first.Like);
        // Each matrix is converted straight into its slot of the batch, in the iterations' type: no float32 stack.
        var stacked = torch.empty(new[] { same.Count, rows, columns }, MatrixMath.WorkType(first.Input), first.Input.device);
        for (int i = 0; i < same.Count; i++) stacked[i].copy_(same[i].Full.reshape(rows, columns));
        var results = MatrixMath.Orthogonalize(stacked, first.Steps, first.A, first.B, first.C).to(first.Input.dtype).unbind(0);
        for (int i = 0; i < same.Count; i++) same[i].Result = results[i].reshape(same[i].Like.shape);
    }
}
