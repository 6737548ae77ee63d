using System;

namespace OptDsl;

/// <summary>
/// The parameter as a matrix, for use inside an <see cref="UpdateAttribute">update rule</see>: a parameter of two or
/// more dimensions is seen as <c>shape[0]</c> rows of <c>numel / shape[0]</c> columns (a convolution's filters as
/// rows). An optimizer whose rule calls these takes only such parameters; route the others elsewhere
/// (<c>Routing.Route</c>). These methods only mark the work; they cannot run outside a rule.
/// </summary>
public static class Matrix
{
    /// <summary>
    /// The orthogonalisation of <paramref name="value"/> by <paramref name="steps"/> Newton–Schulz iterations with
    /// Muon's quintic coefficients (3.4445, -4.7750, 2.0315): the matrix scaled to unit Frobenius norm, then
    /// <c>X ← aX + (bA + cA²)X</c> with <c>A = XXᵀ</c> (on the shorter side), which drives its singular values towards 1.
    /// On CUDA it runs in bfloat16 on tensor cores, as the reference does; elsewhere in the parameter's precision.
    /// </summary>
    public static float NewtonSchulz(float value, int steps) => throw OutsideRule();

    /// <summary><see cref="NewtonSchulz(float, int)"/> with coefficients of your own.</summary>
    public static float NewtonSchulz(float value, int steps, float a, float b, float c) => throw OutsideRule();

    /// <summary>
    /// <see cref="NewtonSchulz(float, int, float, float, float)"/> whose <paramref name="coefficients"/> pick the
    /// polynomials: <see cref="ConstantCoefficients"/> (a, b, c at every iteration) or
    /// <see cref="PolarExpressCoefficients"/> (those of <see cref="PolarExpress"/>; a, b, c unused). A hyperparameter
    /// can choose, as in <c>useTable ? Matrix.PolarExpressCoefficients : Matrix.ConstantCoefficients</c>: one call, one
    /// orthogonalisation, whichever it is.
    /// </summary>
    public static float NewtonSchulz(float value, int steps, float a, float b, float c, int coefficients) => throw OutsideRule();

    /// <summary>The same (a, b, c) at every iteration (for <see cref="NewtonSchulz(float, int, float, float, float, int)"/>).</summary>
    public const int ConstantCoefficients = 0;

    /// <summary>Polar Express's polynomial for each iteration (for <see cref="NewtonSchulz(float, int, float, float, float, int)"/>).</summary>
    public const int PolarExpressCoefficients = 1;

    /// <summary>
    /// The orthogonalisation of <paramref name="value"/> by <paramref name="steps"/> iterations of Polar Express (Amsel
    /// et al., 2025, Algorithm 1): a different quintic at each iteration, each the best worst-case approximation of the
    /// sign of singular values in [0.001, 1] given the ones before (the eighth repeated after it), with the paper's
    /// safety factor of 1.01 for bfloat16. It reaches a given accuracy in fewer iterations than Muon's fixed quintic,
    /// and, unlike it, converges. Runs where <see cref="NewtonSchulz(float, int)"/> runs, the same way.
    /// </summary>
    public static float PolarExpress(float value, int steps) => throw OutsideRule();

    /// <summary>The number of rows, <c>shape[0]</c>.</summary>
    public static float Rows() => throw OutsideRule();

    /// <summary>The number of columns, <c>numel / shape[0]</c>.</summary>
    public static float Columns() => throw OutsideRule();

    /// <summary>The sum of <paramref name="value"/> over each row, read by every element of that row.</summary>
    public static float RowSum(float value) => throw OutsideRule();

    /// <summary>The mean of <paramref name="value"/> over each row, read by every element of that row.</summary>
    public static float RowMean(float value) => throw OutsideRule();

    /// <summary>The L2 norm of <paramref name="value"/> over each row, read by every element of that row.</summary>
    public static float RowNorm(float value) => throw OutsideRule();

    /// <summary>The sum of <paramref name="value"/> over each column, read by every element of that column.</summary>
    public static float ColumnSum(float value) => throw OutsideRule();

    /// <summary>The mean of <paramref name="value"/> over each column, read by every element of that column.</summary>
    public static float ColumnMean(float value) => throw OutsideRule();

    /// <summary>The L2 norm of <paramref name="value"/> over each column, read by every element of that column.</summary>
    public static float ColumnNorm(float value) => throw OutsideRule();

    static InvalidOperationException OutsideRule() =>
        new("OptDsl.Matrix marks matrix work inside an [Update] rule; the generator translates it, and it cannot run on its own.");
}
