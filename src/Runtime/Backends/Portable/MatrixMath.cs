using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Backends.Portable;

/// <summary>The matrix functions of <c>OptDsl.Matrix</c> on the portable path; results stay on the device.</summary>
public static class MatrixMath
{
    /// <summary>
    /// Newton–Schulz orthogonalisation of <paramref name="x"/> viewed as <paramref name="like"/>'s matrix
    /// (<c>shape[0]</c> rows), returned in <paramref name="like"/>'s shape and <paramref name="x"/>'s type. On CUDA the
    /// iterations run in bfloat16 (tensor cores); elsewhere in <paramref name="x"/>'s type.
    /// </summary>
    public static Tensor NewtonSchulz(Tensor x, Tensor like, double steps, double a, double b, double c, double schedule = Coefficients.Constant)
    {
        var matrix = x.expand_as(like).reshape(like.shape[0], ColumnCount(like));
        return Orthogonalize(matrix, steps, a, b, c, schedule).reshape(like.shape);
    }

    /// <summary>
    /// Newton–Schulz on the last two dimensions of <paramref name="x"/> (a matrix or a batch of them), returned in
    /// <paramref name="x"/>'s type: in bfloat16 on CUDA (tensor cores), in <paramref name="x"/>'s type elsewhere.
    /// In bfloat16 an oblong matrix iterates on its Gram matrix where that takes fewer products (<see cref="GramForm"/>).
    /// </summary>
    public static Tensor Orthogonalize(Tensor x, double steps, double a, double b, double c, double schedule = Coefficients.Constant) =>
        Orthogonalize(new[] { x }, steps, a, b, c, schedule)[0];

    /// <summary>
    /// <see cref="Orthogonalize(Tensor, double, double, double, double, double)"/> of each of <paramref name="xs"/> (matrices or
    /// batches of any shapes, with one iteration). In bfloat16, those whose Gram form saves work, and square ones of the
    /// same size beside them, iterate on their Gram matrices as one chain per size (<see cref="GramForm.Iterate(IReadOnlyList{Tensor}, int, double, double, double, int, int, int)"/>):
    /// a square matrix costs a little more there than on X, but joins a chain that is issued anyway.
    /// </summary>
    public static Tensor[] Orthogonalize(IReadOnlyList<Tensor> xs, double steps, double a, double b, double c, double schedule = Coefficients.Constant)
    {
        if (steps < 0 || steps != Math.Floor(steps)) throw new ArgumentOutOfRangeException(nameof(steps), steps, "Newton–Schulz needs a whole number of steps, 0 or more.");
        int kind = Coefficients.Schedule(schedule);
        var work = new Tensor[xs.Count];
        var tall = new bool[xs.Count];
        for (int i = 0; i < xs.Count; i++)
        {
            work[i] = xs[i].dtype == WorkType(xs[i]) ? xs[i] : xs[i].to(WorkType(xs[i]));
            tall[i] = work[i].shape[^2] > work[i].shape[^1];
            if (tall[i]) work[i] = work[i].mT;
            work[i] = UnitNorm(work[i], Coefficients.NormScale(kind));
        }
        double cost = Coefficients.Quintic(kind, c) ? 1 : 0;
        bool Gram(int i) => work[i].dtype == ScalarType.BFloat16 && GramForm.Saves(work[i].shape[^2], work[i].shape[^1], (int)steps, cost);
        var chains = Enumerable.Range(0, xs.Count).Where(Gram).GroupBy(i => work[i].shape[^2]).ToDictionary(g => g.Key, g => g.ToList());
        for (int i = 0; i < xs.Count; i++)
            if (!Gram(i) && work[i].dtype == ScalarType.BFloat16 && work[i].shape[^2] == work[i].shape[^1] && chains.TryGetValue(work[i].shape[^2], out var chain))
                chain.Add(i);
        foreach (var chain in chains.Values)
        {
            var results = GramForm.Iterate(chain.Select(i => work[i]).ToArray(), (int)steps, a, b, c, schedule: kind);
            for (int k = 0; k < chain.Count; k++) work[chain[k]] = results[k];
        }
        var done = chains.Values.SelectMany(ch => ch).ToHashSet();
        var outputs = new Tensor[xs.Count];
        for (int i = 0; i < xs.Count; i++)
        {
            var w = done.Contains(i) ? work[i] : Iterate(work[i], (int)steps, a, b, c, kind);
            if (tall[i]) w = w.mT;
            outputs[i] = w.dtype == xs[i].dtype ? w : w.to(xs[i].dtype);
        }
        return outputs;
    }

    /// <summary>
    /// Each matrix divided by its Frobenius norm (times <paramref name="scale"/>, plus 1e-7): every singular value is
    /// then at most 1, inside the iteration's basin. The reduction accumulates in float32 whatever the work type.
    /// </summary>
    internal static Tensor UnitNorm(Tensor work, double scale = 1)
    {
        var norm = Norms.Vector(work, 2, new long[] { -2, -1 }, keepdim: true);
        using var kept = KeptScalars.Rent();
        if (scale != 1) norm = norm.mul(kept[scale]);
        return work.div(norm.add(kept[1e-7], ScalarCalls.One));
    }

    /// <summary>
    /// <paramref name="steps"/> iterations on a wide matrix (or batch): X &lt;- aX + (bA + cA²)X with A = XXᵀ, the
    /// coefficients of each iteration from <paramref name="schedule"/> (<see cref="Coefficients"/>).
    /// </summary>
    internal static Tensor Iterate(Tensor work, int steps, double a, double b, double c, int schedule = Coefficients.Constant)
    {
        for (int i = 0; i < steps; i++)
        {
            var (ai, bi, ci) = Coefficients.At(schedule, i, a, b, c);
            // The cubic iteration (c = 0) needs no A².
            var gram = work.matmul(work.mT);
            work = ci == 0 ? AddMatmul(work, gram, work, ai, bi) : AddMatmul(work, AddMatmul(gram, gram, gram, bi, ci), work, ai, 1);
        }
        return work;
    }

    /// <summary>
    /// <c>beta * input + alpha * (m1 @ m2)</c>. In bfloat16 one matmul with the sum in its epilogue (addmm, baddbmm;
    /// float coefficients suffice there); in other types separate operations, so the coefficients stay exact.
    /// </summary>
    internal static Tensor AddMatmul(Tensor input, Tensor m1, Tensor m2, double beta, double alpha)
    {
        if (input.dtype != ScalarType.BFloat16 || input.dim() > 3)
        {
            var product = m1.matmul(m2);
            using var kept = KeptScalars.Rent();
            return input.mul(kept[beta]).add(alpha == 1 ? product : product.mul(kept[alpha]), ScalarCalls.One);
        }
        if (input.dim() == 2) return torch.addmm(input, m1, m2, (float)beta, (float)alpha);
        return BaddbmmTakesProductFirst.Value
            ? torch.baddbmm(m1, m2, input, (float)beta, (float)alpha)
            : torch.baddbmm(input, m1, m2, (float)beta, (float)alpha);
    }

    /// <summary>
    /// TorchSharp 0.107's <c>torch.baddbmm(input, batch1, batch2)</c> hands its tensors to the native call in another
    /// order and computes <c>beta * batch2 + alpha * (input @ batch1)</c>. Which order this TorchSharp has is asked once,
    /// on 1x1 matrices, so a fixed release keeps working.
    /// </summary>
    static readonly Lazy<bool> BaddbmmTakesProductFirst = new(() =>
    {
        using var scope = torch.NewDisposeScope();
        using var kept = KeptScalars.Rent();
        var (one, two, three) = (torch.full(new long[] { 1, 1, 1 }, kept[1.0]), torch.full(new long[] { 1, 1, 1 }, kept[2.0]), torch.full(new long[] { 1, 1, 1 }, kept[3.0]));
        // As documented: 1 + 2 * 3 = 7; as 0.107 does it: 3 + 1 * 2 = 5.
        return torch.baddbmm(one, two, three).item<float>() != 7f;
    });

    /// <summary>The type the iterations run in: bfloat16 on CUDA (tensor cores), the input's type elsewhere.</summary>
    internal static ScalarType WorkType(Tensor x) => x.device_type == DeviceType.CUDA ? ScalarType.BFloat16 : x.dtype;

    /// <summary>The matrix view's rows: <c>shape[0]</c> (what <c>Matrix.Rows()</c> reads).</summary>
    public static long RowCount(Tensor p) => p.dim() > 0 ? p.shape[0]
        : throw new ArgumentException("Matrix.Rows() needs a parameter of at least one dimension; this one is a scalar.", nameof(p));

    /// <summary>The matrix view's columns: the product of every dimension but the first, so empty tensors work too (what <c>Matrix.Columns()</c> reads).</summary>
    public static long ColumnCount(Tensor like) => like.shape.Skip(1).Aggregate(1L, (a, b) => a * b);

    /// <summary>The matrix view's rows and columns of a parameter of two or more dimensions, from one read of its shape (for the step's hot path).</summary>
    internal static (long Rows, long Columns) ViewOf(Tensor p)
    {
        var shape = p.shape;
        long columns = 1;
        for (int i = 1; i < shape.Length; i++) columns *= shape[i];
        return (shape[0], columns);
    }

    // Per-row and per-column reductions of the matrix view (shape[0] rows), shaped to broadcast over the parameter:
    // a row's value as [rows, 1, 1, ...], a column's as [1, rest of the shape].

    static Tensor View(Tensor x, Tensor like) =>
        (x.shape.AsSpan().SequenceEqual(like.shape) ? x : x.expand_as(like)).reshape(like.shape[0], ColumnCount(like));


    static Tensor AsRows(Tensor perRow, Tensor like) =>
        perRow.reshape(new[] { like.shape[0] }.Concat(Enumerable.Repeat(1L, (int)like.dim() - 1)).ToArray());

    static Tensor AsColumns(Tensor perColumn, Tensor like) => perColumn.reshape(new[] { 1L }.Concat(like.shape.Skip(1)).ToArray());

    /// <summary>Each row's sum.</summary>
    public static Tensor RowSum(Tensor x, Tensor like) => AsRows(View(x, like).sum(new long[] { 1 }), like);

    /// <summary>Each row's mean.</summary>
    public static Tensor RowMean(Tensor x, Tensor like) => AsRows(View(x, like).mean(new long[] { 1 }), like);

    /// <summary>Each row's L2 norm.</summary>
    public static Tensor RowNorm(Tensor x, Tensor like) => AsRows(View(x, like).Squared().sum(new long[] { 1 }).sqrt(), like);

    /// <summary>Each column's sum.</summary>
    public static Tensor ColumnSum(Tensor x, Tensor like) => AsColumns(View(x, like).sum(new long[] { 0 }), like);

    /// <summary>Each column's mean.</summary>
    public static Tensor ColumnMean(Tensor x, Tensor like) => AsColumns(View(x, like).mean(new long[] { 0 }), like);

    /// <summary>Each column's L2 norm.</summary>
    public static Tensor ColumnNorm(Tensor x, Tensor like) => AsColumns(View(x, like).Squared().sum(new long[] { 0 }).sqrt(), like);
}
