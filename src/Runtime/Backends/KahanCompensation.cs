using OptDsl.Runtime.Backends.Portable;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Backends;

/// <summary>
/// Kahan-compensated storing of a float32 update into a half-precision parameter: the update <c>u = new − before</c>
/// is added to the compensation <c>c</c> (what earlier roundings took), the parameter becomes <c>round(before + c + u)</c>,
/// and <c>c</c> keeps what that rounding took, <c>(c + u) − (stored − before)</c> (in float32, then in the buffer's type).
/// An update far below the parameter's step accumulates in <c>c</c> until it moves the parameter.
/// </summary>
internal static class KahanCompensation
{
    /// <param name="p">The parameter (bfloat16 or float16).</param>
    /// <param name="before">The parameter's value the update started from, in float32.</param>
    /// <param name="after">The update's result, in float32.</param>
    /// <param name="compensation">The parameter's buffer (its type).</param>
    public static void Store(Tensor p, Tensor before, Tensor after, Tensor compensation)
    {
        using var scope = NewDisposeScope();
        var carried = after.sub(before).Plus_(compensation.to(ScalarType.Float32));
        p.copy_(before.Plus(carried));
        compensation.copy_(carried.sub_(p.to(ScalarType.Float32).sub_(before)));
    }
}
