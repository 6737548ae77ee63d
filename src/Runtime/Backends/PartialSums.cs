using System;

namespace OptDsl.Runtime.Backends;

/// <summary>Where the chunk partials of a step's queued tensors lie, in a backend's own layout.</summary>
internal interface IPartialSums
{
    /// <summary>The tensors queued, in order (a group's one after another).</summary>
    int Tensors { get; }

    /// <summary>Elements of tensor <paramref name="tensor"/>.</summary>
    long Size(int tensor);

    /// <summary>Its parameter group's number.</summary>
    int Group(int tensor);

    /// <summary>Its chunks.</summary>
    int Chunks(int tensor);

    /// <summary>Reduction <paramref name="reduction"/>'s partial over chunk <paramref name="chunk"/> of the tensor.</summary>
    float Partial(int tensor, int chunk, int reduction);
}

/// <summary>
/// Finishes the reductions a phase accumulated, the same way on every backend: each tensor's chunks in order, in
/// double — over the tensor, or over the tensors of a group or of the step in the order queued, one result for all of
/// them — so a step gives the same bits on every run and the CPU and CUDA paths the same results from the same partials.
/// </summary>
internal static class PartialSums
{
    /// <summary>Writes the finished reductions of <paramref name="phase"/> to <paramref name="results"/> (tensor t's at t · reductions + j).</summary>
    public static void Finish<T>(ReductionPlan plan, int phase, in T partials, Span<float> results) where T : struct, IPartialSums
    {
        int reductions = plan.Reductions.Length, tensors = partials.Tensors;
        for (int j = 0; j < reductions; j++)
        {
            var spec = plan.Reductions[j];
            // A reduction per row or column is finished by the backend that lays out its rows.
            if (spec.Level != phase || spec.PerRowOrColumn) continue;
            for (int t = 0; t < tensors;)
            {
                int end = t + 1;
                if (spec.Scope != ReductionScope.Tensor)
                    while (end < tensors && (spec.Scope == ReductionScope.Step || partials.Group(end) == partials.Group(t))) end++;
                double total = ReductionPlan.Identity(spec.Op);
                long count = 0;
                for (int k = t; k < end; k++)
                {
                    for (int c = 0, chunks = partials.Chunks(k); c < chunks; c++) total = ReductionPlan.Combine(spec.Op, total, partials.Partial(k, c, j));
                    count += partials.Size(k);
                }
                float result = (float)ReductionPlan.Finish(spec.Op, total, count);
                for (; t < end; t++) results[t * reductions + j] = result;
            }
        }
    }
}
