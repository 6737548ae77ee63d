using System.Globalization;

namespace OptDsl.Runtime.Core;

/// <summary>A set of valid hyperparameter values, written as in mathematics: <c>[0, 1)</c>, <c>(0, inf)</c>.</summary>
public readonly record struct Interval(double Min, bool MinInclusive, double Max, bool MaxInclusive)
{
    /// <summary>Whether <paramref name="value"/> lies in the interval (NaN never does).</summary>
    public bool Contains(double value) =>
        (MinInclusive ? value >= Min : value > Min) && (MaxInclusive ? value <= Max : value < Max);

    /// <inheritdoc/>
    public override string ToString() =>
        $"{(MinInclusive ? '[' : '(')}{Format(Min)}, {Format(Max)}{(MaxInclusive ? ']' : ')')}";

    static string Format(double v) =>
        double.IsPositiveInfinity(v) ? "inf" : double.IsNegativeInfinity(v) ? "-inf" : v.ToString("R", CultureInfo.InvariantCulture);
}
