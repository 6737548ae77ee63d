using System;
using System.Collections.Generic;
using OptDsl.Runtime.Core;
using OptDsl.Tests.Catalog;
using TorchSharp.Modules;

namespace OptDsl.Tests.Runtime;

/// <summary>A probe of the per-row and per-column reductions: centres each row and scales by row and column norms.</summary>
[Optimizer]
public partial class RowColumnProbe
{
    [Hyper("[0, inf)")] float lr = 0.1f;

    [Update]
    void Update(ref float p, float g)
    {
        float centred = g - Matrix.RowMean(g);
        p -= lr * (centred / (Matrix.RowNorm(centred) + 1e-6f) + Matrix.ColumnSum(g) * 0.01f
            + Matrix.RowSum(g) * 0.001f - Matrix.ColumnMean(g) * Matrix.ColumnNorm(g));
    }
}

/// <summary>
/// Every kind of work per row or column the fused CPU path runs: state per row and per column (one of them switched by
/// a flag), reductions per row and column, reductions over the tensor of a value per row or per column (broadcast to
/// the elements first, as everywhere; a variance among them), and a reduction per row under a host condition.
/// </summary>
[Optimizer]
public partial class RowColumnState
{
    [Hyper("[0, inf)")] float lr = 0.01f;
    [Hyper("[0, 1)")] float beta = 0.9f;
    [Hyper] bool momentum = true;

    [State(Shape = StateShape.Rows)] float row;
    [State(Shape = StateShape.Columns)] float column;
    [State(Shape = StateShape.Rows, OnlyIf = nameof(momentum))] float rowMomentum;

    [Update]
    void Update(ref float p, float g)
    {
        row = beta * row + (1 - beta) * Matrix.RowMean(g * g);
        column = beta * column + (1 - beta) * Matrix.ColumnMean(g * g);
        float spread = Reduce.Std(row) + Reduce.Max(column) + Reduce.Mean(row);
        float u = g / (MathF.Sqrt(row * column / Reduce.Mean(row)) + 1e-8f);
        if (momentum)
        {
            rowMomentum = beta * rowMomentum + Matrix.RowNorm(u);
            u = u * (1f + 0.01f * rowMomentum);
        }
        p -= lr * (u + 0.001f * spread + 0.001f * Matrix.ColumnSum(u) / Matrix.Rows());
    }
}

/// <summary>
/// Work per row only, which the CUDA backend runs row by row as well: state per row (one switched by a flag),
/// reductions per row of the gradient and of state, reductions over the tensor of a value per row and of elements,
/// and a reduction per row under a host condition.
/// </summary>
[Optimizer]
public partial class RowState
{
    [Hyper("[0, inf)")] float lr = 0.01f;
    [Hyper("[0, 1)")] float beta = 0.9f;
    [Hyper] bool momentum = true;

    [State] float m;
    [State(Shape = StateShape.Rows)] float row;
    [State(Shape = StateShape.Rows, OnlyIf = nameof(momentum))] float rowMomentum;

    [Update]
    void Update(ref float p, float g)
    {
        m = beta * m + (1 - beta) * g;
        row = beta * row + (1 - beta) * Matrix.RowMean(g * g);
        float centred = m - Matrix.RowMean(m);
        float u = centred / (MathF.Sqrt(row) + 1e-8f) + 0.001f * Reduce.Std(row);
        if (momentum)
        {
            rowMomentum = beta * rowMomentum + Matrix.RowNorm(u) / MathF.Sqrt(Matrix.Columns());
            u = u * (1f + 0.01f * rowMomentum);
        }
        p -= lr * u / MathF.Max(1f, Reduce.Rms(u));
    }
}

/// <summary>The rules with work per row or column the tests and GpuCheck run, by name: the catalog's and the declarations above.</summary>
public static class RowDeclarations
{
    public static DeclaredOptimizer Create(string name, IEnumerable<Parameter> ps) => name switch
    {
        "RowColumnState" => new RowColumnState(ps),
        "RowColumnStateWithoutMomentum" => new RowColumnState(ps, momentum: false),
        "RowColumnProbe" => new RowColumnProbe(ps),
        "RowState" => new RowState(ps),
        "RowStateWithoutMomentum" => new RowState(ps, momentum: false),
        _ => CatalogIndex.Create[name](ps),
    };
}
