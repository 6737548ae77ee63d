using System.Globalization;
using Microsoft.CodeAnalysis;

namespace OptDsl.Generators.Parsing;

static class Constants
{
    /// <summary>
    /// Whether <paramref name="value"/> is a number, a bool or a char (what a declaration's constants must be; C# turns a
    /// char into its code where a number is wanted: <c>float lr = 'a'</c> is 97).
    /// </summary>
    public static bool IsNumeric(object? value) => value is bool or char or sbyte or byte or short or ushort or int or uint or long or ulong or float or double or decimal;

    /// <summary>
    /// A numeric constant as a double. A <c>float</c> goes through its shortest round-trip text, so that
    /// <c>0.9f</c> becomes 0.9 and not 0.89999997615814209: hyperparameters are held in double on the host, and the
    /// declaration meant the decimal number.
    /// </summary>
    public static double ToDouble(object? value, ITypeSymbol? type)
    {
        // Half-typed code can hold a constant of another kind where a number belongs; the compiler reports it.
        if (!IsNumeric(value)) return double.NaN;
        if (value is bool b) return b ? 1 : 0;
        if (value is char c) return c;
        if (value is float || type?.SpecialType == SpecialType.System_Single)
        {
            var single = System.Convert.ToSingle(value, CultureInfo.InvariantCulture);
            if (float.IsNaN(single) || float.IsInfinity(single)) return single;
            return double.Parse(single.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        }
        return System.Convert.ToDouble(value, CultureInfo.InvariantCulture);
    }
}
