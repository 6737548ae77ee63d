namespace OptDsl.Generators.Intrinsics;

/// <summary>What a function of the update rule works on, which decides where each backend computes it.</summary>
public enum IntrinsicKind
{
    /// <summary>One value from one element's values (or from host values): <c>Sqrt</c>, <c>Lerp</c>.</summary>
    Elementwise,
    /// <summary>One value per tensor (<c>Reduce.Sum</c>, <c>Reduce.Norm</c>...), computed on the device.</summary>
    Reduction,
    /// <summary>One value per row of the matrix view, broadcast back over the row (<c>Matrix.RowSum</c>...).</summary>
    RowReduction,
    /// <summary>One value per column of the matrix view, broadcast back over the column (<c>Matrix.ColumnNorm</c>...).</summary>
    ColumnReduction,
    /// <summary>One value over every tensor the optimizer steps (<c>Reduce.GlobalNorm</c>...).</summary>
    GlobalReduction,
    /// <summary>One value over the tensors of the parameter's group (<c>Reduce.GroupNorm</c>...).</summary>
    GroupReduction,
    /// <summary>The matrix view's shape (<c>Matrix.Rows</c>, <c>Matrix.Columns</c>): a host value per tensor.</summary>
    Shape,
    /// <summary>The parameter's matrix orthogonalised as a whole (<c>Matrix.NewtonSchulz</c>).</summary>
    Orthogonalization,
}
