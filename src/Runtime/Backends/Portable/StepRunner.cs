using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Backends.Portable;

/// <summary>Runs generated updates that yield <see cref="WholeTensorRequest"/>s, answering them for one tensor or across many.</summary>
public static class StepRunner
{
    /// <summary>Runs one tensor's update, answering each request on its own (a global reduction covers this tensor alone).</summary>
    public static void RunAlone(IEnumerable<WholeTensorRequest> update)
    {
        foreach (var request in update) Answer(new[] { request });
    }

    /// <summary>
    /// Runs many tensors' updates in lockstep: all advance to their next request; matrix requests of one type, device
    /// and iteration are answered together (one batch per shape, the Gram matrices of a size in one chain), global
    /// reductions of one kind by one reduction over all who asked; then all resume — until every update ends.
    /// </summary>
    public static void Run(IReadOnlyList<IEnumerator<WholeTensorRequest>> updates)
    {
        var live = updates.Where(u => u.MoveNext()).ToList();
        while (live.Count > 0)
        {
            var requests = live.Select(u => u.Current).ToList();
            foreach (var group in requests.OfType<MatrixRequest>().GroupBy(r => r.Iteration)) AnswerMatrices(group.ToList());
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

    /// <summary>Requests of one type, device and iteration: one batch per matrix shape, orthogonalised together.</summary>
    static void AnswerMatrices(IReadOnlyList<MatrixRequest> requests)
    {
        var first = requests[0];
        if (requests.Count == 1)
        {
            first.Result = MatrixMath.NewtonSchulz(first.Input, first.Like, first.Steps, first.A, first.B, first.C, first.Schedule);
            return;
        }
        var shapes = requests.GroupBy(r => (Rows: r.Like.shape[0], Columns: MatrixMath.ColumnCount(r.Like))).Select(g => g.ToList()).ToList();
        var batches = shapes.Select(same =>
        {
            var (rows, columns) = (same[0].Like.shape[0], MatrixMath.ColumnCount(same[0].Like));
            // Each matrix is converted straight into its slot of the batch, in the iterations' type: no float32 stack.
            var stacked = torch.empty(new[] { same.Count, rows, columns }, MatrixMath.WorkType(first.Input), first.Input.device);
            for (int i = 0; i < same.Count; i++) stacked[i].copy_(same[i].Full.reshape(rows, columns));
            return stacked;
        }).ToArray();
        var results = MatrixMath.Orthogonalize(batches, first.Steps, first.A, first.B, first.C, first.Schedule);
        for (int k = 0; k < shapes.Count; k++)
        {
            var matrices = results[k].to(first.Input.dtype).unbind(0);
            for (int i = 0; i < shapes[k].Count; i++) shapes[k][i].Result = matrices[i].reshape(shapes[k][i].Like.shape);
        }
    }
}
