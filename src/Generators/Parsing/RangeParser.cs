using System.Globalization;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Parsing;

/// <summary>Parses a hyperparameter range written as an interval: <c>[0, 1)</c>, <c>(0, inf)</c>, <c>[-inf, 0]</c>.</summary>
public static class RangeParser
{
    /// <summary>Returns the range, or null with <paramref name="error"/> saying what is wrong.</summary>
    public static RangeModel? Parse(string text, out string? error)
    {
        error = null;
        var s = text.Trim();
        if (s.Length < 5) return Fail("too short", out error);
        char open = s[0], close = s[s.Length - 1];
        if (open != '[' && open != '(') return Fail("it must start with '[' or '('", out error);
        if (close != ']' && close != ')') return Fail("it must end with ']' or ')'", out error);
        var parts = s.Substring(1, s.Length - 2).Split(',');
        if (parts.Length != 2) return Fail("it must hold two bounds separated by a comma", out error);
        if (!TryBound(parts[0], out var min)) return Fail($"'{parts[0].Trim()}' is not a number", out error);
        if (!TryBound(parts[1], out var max)) return Fail($"'{parts[1].Trim()}' is not a number", out error);
        if (min > max || (min == max && (open == '(' || close == ')')))
            return Fail("it contains no value", out error);
        if ((open == '[' && double.IsInfinity(min)) || (close == ']' && double.IsInfinity(max)))
            return Fail("an infinite bound must be open", out error);
        return new RangeModel(min, open == '[', max, close == ']', s);
    }

    static bool TryBound(string text, out double value)
    {
        var t = text.Trim().ToLowerInvariant();
        switch (t)
        {
            case "inf": case "+inf": case "infinity": case "+infinity": case "∞": case "+∞":
                value = double.PositiveInfinity; return true;
            case "-inf": case "-infinity": case "-∞":
                value = double.NegativeInfinity; return true;
        }
        return double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && !double.IsNaN(value);
    }

    static RangeModel? Fail(string why, out string? error)
    {
        error = why;
        return null;
    }

    /// <summary>Whether <paramref name="value"/> lies in <paramref name="range"/>.</summary>
    public static bool Contains(RangeModel range, double value) =>
        (range.MinInclusive ? value >= range.Min : value > range.Min) &&
        (range.MaxInclusive ? value <= range.Max : value < range.Max);
}
