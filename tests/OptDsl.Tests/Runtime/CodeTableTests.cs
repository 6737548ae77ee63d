using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Backends.Quantized;
using Xunit;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// The fused kernel's code look-up (bucket table, one comparison) against counting the midpoints below each value — what
/// the codec's bucketize does — on every midpoint and its float neighbours, every map value, zeros, values just above
/// 1 and 40,000 values spread over ten decades of both signs.
/// </summary>
public class CodeTableTests
{
    static IEnumerable<float> Probes(bool signed)
    {
        var mid = CodeTable.Midpoints(signed);
        foreach (var m in mid) { yield return m; yield return MathF.BitDecrement(m); yield return MathF.BitIncrement(m); }
        foreach (var v in BlockQuantizer.Map(signed)) yield return v;
        foreach (var v in new[] { 0f, -0f, 1f, -1f, 1.0000001f, -1.0000001f, 2f, 5f, float.Epsilon, -float.Epsilon, 1e-20f, float.PositiveInfinity, float.NegativeInfinity })
            yield return v;
        var random = new Random(3);
        for (int i = 0; i < 20_000; i++)
        {
            float magnitude = (float)Math.Pow(10, -10 * random.NextDouble());
            yield return magnitude;
            yield return -magnitude;
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Gives_the_number_of_midpoints_below_every_value(bool signed)
    {
        var mid = CodeTable.Midpoints(signed);
        foreach (var x in Probes(signed))
        {
            int expected = mid.Count(m => m < x);
            Assert.True(CodeTable.Nearest(x, signed) == expected, $"{(signed ? "signed" : "unsigned")} map, x = {x:R}: table {CodeTable.Nearest(x, signed)}, count {expected}");
        }
    }
}
