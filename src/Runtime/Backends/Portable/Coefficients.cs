using System;

namespace OptDsl.Runtime.Backends.Portable;

/// <summary>
/// The polynomial of each Newton–Schulz iteration, X ← aX + (bA + cA²)X: the same (a, b, c) every time
/// (<see cref="Constant"/>, Muon's quintic by default), or a table of one per iteration (<see cref="PolarExpress"/>).
/// </summary>
public static class Coefficients
{
    /// <summary>The given (a, b, c) at every iteration.</summary>
    public const int Constant = 0;

    /// <summary>
    /// Polar Express (Amsel, Persson, Musco and Gower, 2025, "The Polar Express: Optimal Matrix Sign Methods and Their
    /// Application to the Muon Algorithm", Algorithm 1): the composition of quintics that approximates the sign of every
    /// singular value in [10⁻³, 1] best in the worst case, one polynomial per iteration and the last one repeated
    /// after the eighth. For bf16, every polynomial but the last is evaluated at x / 1.01 (a / 1.01, b / 1.01³,
    /// c / 1.01⁵), and the matrix starts at X / (1.01‖X‖), so rounding cannot push a singular value above the interval.
    /// </summary>
    public const int PolarExpress = 1;

    /// <summary>The paper's polynomials before the safety factor: the optimal composition for five to eight iterations.</summary>
    static readonly (double A, double B, double C)[] PolarExpressTable =
    {
        (8.28721201814563, -23.595886519098837, 17.300387312530933),
        (4.107059111542203, -2.9478499167379106, 0.5448431082926601),
        (3.9486908534822946, -2.908902115962949, 0.5518191394370137),
        (3.3184196573706015, -2.488488024314874, 0.51004894012372),
        (2.300652019954817, -1.6689039845747493, 0.4188073119525673),
        (1.891301407787398, -1.2679958271945868, 0.37680408948524835),
        (1.8750014808534479, -1.2500016453999487, 0.3750001645474248),
        (1.875, -1.25, 0.375),
    };

    const double Safety = 1.01;

    /// <summary>Checks a schedule read from a rule's scalars (a host value the generator passes as a number).</summary>
    public static int Schedule(double schedule) => schedule switch
    {
        Constant => Constant,
        PolarExpress => PolarExpress,
        _ => throw new ArgumentOutOfRangeException(nameof(schedule), schedule, "Newton–Schulz's coefficients are constant (0) or Polar Express's (1)."),
    };

    /// <summary>The coefficients of iteration <paramref name="iteration"/> (0 for the first).</summary>
    public static (double A, double B, double C) At(int schedule, int iteration, double a, double b, double c)
    {
        if (schedule == Constant) return (a, b, c);
        if (iteration >= PolarExpressTable.Length - 1) return PolarExpressTable[^1];
        var (pa, pb, pc) = PolarExpressTable[iteration];
        return (pa / Safety, pb / (Safety * Safety * Safety), pc / Math.Pow(Safety, 5));
    }

    /// <summary>What the matrix's Frobenius norm is multiplied by before it divides the matrix (1.01 for Polar Express).</summary>
    public static double NormScale(int schedule) => schedule == PolarExpress ? Safety : 1;

    /// <summary>Whether any iteration's polynomial has an A² term (a cubic iteration has none).</summary>
    public static bool Quintic(int schedule, double c) => schedule != Constant || c != 0;
}
