using System.Globalization;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Emitters;

/// <summary>C# literals for model constants.</summary>
static class Literals
{
    public static string Of(double value, ValueKind type) => type switch
    {
        ValueKind.Boolean => value != 0 ? "true" : "false",
        ValueKind.Integer => ((long)value).ToString(CultureInfo.InvariantCulture),
        _ => Real(value),
    };

    public static string Real(double value)
    {
        if (double.IsNaN(value)) return "double.NaN";
        if (double.IsPositiveInfinity(value)) return "double.PositiveInfinity";
        if (double.IsNegativeInfinity(value)) return "double.NegativeInfinity";
        var text = value.ToString("R", CultureInfo.InvariantCulture);
        return text.Contains(".") || text.Contains("E") ? text : text + ".0";
    }
}
