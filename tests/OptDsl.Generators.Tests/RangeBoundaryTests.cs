using System.Linq;
using Xunit;

namespace OptDsl.Generators.Tests;

/// <summary>
/// Every range form a hyperparameter may declare — closed, half-open either way, open, one side infinite — with a
/// default on each bound, just inside it and just outside: OPT0014 at the default exactly where the value lies outside
/// the range (an excluded bound included), and where float32 makes a default invalid (overflow, a value rounded onto an
/// excluded bound, zero or subnormal where zero is excluded, a non-finite default with no range).
/// </summary>
public class RangeBoundaryTests
{
    [Theory]
    // [a, b]: both bounds in.
    [InlineData("\"[0, 1]\"", "float", "0f", false)]
    [InlineData("\"[0, 1]\"", "float", "1f", false)]
    [InlineData("\"[0, 1]\"", "float", "-0.001f", true)]
    [InlineData("\"[0, 1]\"", "float", "1.001f", true)]
    // [a, b): the upper bound out.
    [InlineData("\"[0, 1)\"", "float", "0f", false)]
    [InlineData("\"[0, 1)\"", "float", "1f", true)]
    [InlineData("\"[0, 1)\"", "float", "0.999f", false)]
    [InlineData("\"[0, 1)\"", "double", "0.99999999999", true)]
    // (a, b]: the lower bound out.
    [InlineData("\"(0, 1]\"", "float", "0f", true)]
    [InlineData("\"(0, 1]\"", "float", "1f", false)]
    [InlineData("\"(0, 1]\"", "float", "1e-30f", false)]
    // (a, b): both out.
    [InlineData("\"(0, 1)\"", "float", "0f", true)]
    [InlineData("\"(0, 1)\"", "float", "1f", true)]
    [InlineData("\"(0, 1)\"", "float", "0.5f", false)]
    [InlineData("\"(-1, 1)\"", "float", "-1f", true)]
    // Infinite bounds, always open.
    [InlineData("\"(0, inf)\"", "float", "0f", true)]
    [InlineData("\"(0, inf)\"", "float", "1e-8f", false)]
    [InlineData("\"(0, inf)\"", "float", "float.PositiveInfinity", true)]
    [InlineData("\"(0, inf)\"", "double", "1e-50", true)]
    [InlineData("\"(0, inf)\"", "double", "1e-40", true)]
    [InlineData("\"[0, inf)\"", "float", "0f", false)]
    [InlineData("\"[0, inf)\"", "float", "-1e-30f", true)]
    [InlineData("\"[0, inf)\"", "double", "1e39", true)]
    [InlineData("\"(-inf, 0]\"", "float", "0f", false)]
    [InlineData("\"(-inf, 0]\"", "float", "1e-30f", true)]
    [InlineData("\"(-inf, 0)\"", "float", "0f", true)]
    [InlineData("\"(-inf, inf)\"", "float", "float.NaN", true)]
    [InlineData("\"(-inf, inf)\"", "float", "-3e38f", false)]
    // Integers.
    [InlineData("\"[1, 5]\"", "int", "1", false)]
    [InlineData("\"[1, 5]\"", "int", "5", false)]
    [InlineData("\"[1, 5)\"", "int", "5", true)]
    [InlineData("\"(1, 5]\"", "int", "1", true)]
    [InlineData("\"[1, 5]\"", "int", "0", true)]
    public void A_default_gets_OPT0014_exactly_where_its_range_or_float32_refuses_it(string range, string type, string value, bool refused) =>
        Check($"[Hyper({range})] {type} x = {value};", value, refused);

    [Theory]
    [InlineData("float", "1f", false)]
    [InlineData("float", "-3.4e38f", false)]
    [InlineData("float", "float.PositiveInfinity", true)]
    [InlineData("float", "float.NegativeInfinity", true)]
    [InlineData("float", "float.NaN", true)]
    [InlineData("double", "1e39", true)]
    [InlineData("double", "3e38", false)]
    [InlineData("double", "double.NaN", true)]
    public void A_hyperparameter_without_a_range_must_be_finite_in_float32(string type, string value, bool refused) =>
        Check($"[Hyper] {type} x = {value};", value, refused);

    static void Check(string hyper, string value, bool refused)
    {
        var source = "using System;\nusing OptDsl;\n[Optimizer]\npublic partial class Ranged\n{\n[Hyper] float lr = 0.1f;\n" + hyper
                     + "\n[Update] void Update(ref float p, float g) { p -= lr * (float)x * g; }\n}\n";
        var run = GeneratorHarness.Generate(source);
        var ours = run.GeneratorDiagnostics.Where(d => d.Id.StartsWith("OPT")).ToList();
        if (!refused)
        {
            Assert.True(ours.Count == 0, string.Join("\n", ours));
            return;
        }
        var d = Assert.Single(ours);
        Assert.Equal("OPT0014", d.Id);
        Assert.Equal(value, source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length));
    }
}
