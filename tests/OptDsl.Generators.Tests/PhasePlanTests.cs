using System.Linq;
using Xunit;

namespace OptDsl.Generators.Tests;

/// <summary>
/// How the generator phases rules whose scalar state takes values from reductions, the variance's two reductions, and
/// work per row or column: what the generated code says, and why a rule it cannot phase runs on the portable path.
/// </summary>
public class PhasePlanTests
{
    static string Declaration(string body, string members = "[State] float m;\n    [ScalarState] double s = 0;") => $$"""
        using System;
        using OptDsl;
        namespace Probe;
        [Optimizer]
        public partial class Rule
        {
            [Hyper] float lr = 0.1f;
            {{members}}
            [Update]
            void Update(ref float p, float g, int t)
            {
                {{body}}
            }
        }
        """;

    static string Generated(string body, string? members = null)
    {
        var run = GeneratorHarness.Generate(members is null ? Declaration(body) : Declaration(body, members));
        Assert.Empty(run.CompilerDiagnostics().Where(d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error));
        return run.Generated("Probe.Rule.g.cs");
    }

    [Fact]
    public void A_variance_is_a_mean_and_then_its_squared_deviations()
    {
        var code = Generated("p -= lr * g / (Reduce.Std(g) + 1e-3f);");
        Assert.Contains("new global::OptDsl.Runtime.Backends.ReductionSpec(1, global::OptDsl.Runtime.Backends.ReductionOp.Mean)", code);
        Assert.Contains("new global::OptDsl.Runtime.Backends.ReductionSpec(2, global::OptDsl.Runtime.Backends.ReductionOp.Std)", code);
        Assert.DoesNotContain("HostReadsResults", code);
    }

    [Fact]
    public void Scalar_state_from_reductions_has_the_host_half_read_their_results()
    {
        var code = Generated("float norm = Reduce.Norm(g); float total = Reduce.GlobalSum(g); s = 0.9 * s + norm / (total + 1); if (s > 1) m += Reduce.Sum(g) * g; p -= lr * m * (float)s;");
        Assert.Contains("global::System.ReadOnlySpan<float> results)", code);
        Assert.Contains("HostReadsResults = true", code);
        Assert.Contains("global::OptDsl.Runtime.Backends.ReductionScope.Step", code);
        // The sum under the condition on s waits for s: a third phase.
        Assert.Contains("new global::OptDsl.Runtime.Backends.ReductionSpec(2, global::OptDsl.Runtime.Backends.ReductionOp.Sum)", code);
        Assert.Contains("double norm = default; // norm on the host", code);
    }

    // (Scalar state assigned under a condition on a reduction is refused before this: OPT0021 or OPT0026.)
    [Theory]
    [InlineData("float x = Reduce.Norm(g); s = x; x = p; p -= lr * x;",
        "local 'x' holds a value from reductions that scalar state reads, and elsewhere a per-element one")]
    public void A_rule_the_phases_cannot_run_says_why(string body, string why)
    {
        var code = Generated(body);
        Assert.Contains($"and {why}; the portable path runs it", code);
    }

    [Fact]
    public void A_reduction_under_host_conditions_names_them_so_that_its_phase_can_be_skipped()
    {
        var code = Generated("if (t == 1) s = Reduce.Norm(g); else if (lr > 0.5f) s = Reduce.Max(g); p -= lr * g * (float)s;");
        // Slot 0 holds t == 1: the norm wants it true; slot 1 (lr > 0.5, in its else arm) true and slot 0 false.
        Assert.Contains("ReductionOp.Norm) { When = new[] { 1 } }", code);
        Assert.Contains("ReductionOp.Max) { When = new[] { -1, 2 } }", code);
    }

    const string RowState = "[State] float m;\n    [State(Shape = StateShape.Rows)] float v;";
    const string ColumnState = "[State] float m;\n    [State(Shape = StateShape.Columns)] float c;";

    [Fact]
    public void Work_per_row_runs_row_by_row_on_the_cpu_and_on_cuda()
    {
        var code = Generated("v = 0.9f * v + 0.1f * Matrix.RowMean(g * g); p -= lr * g / (MathF.Sqrt(v) + 1e-8f) / Reduce.Mean(v);", RowState);
        Assert.Contains("new global::OptDsl.Runtime.Backends.ReductionSpec(1, global::OptDsl.Runtime.Backends.ReductionOp.Mean, global::OptDsl.Runtime.Backends.ReductionScope.Row)", code);
        // The mean of the values per row counts them per element, as the portable path: a reduction over the tensor.
        Assert.Contains("new global::OptDsl.Runtime.Backends.ReductionSpec(2, global::OptDsl.Runtime.Backends.ReductionOp.Mean)", code);
        Assert.Contains("StateShapes = new global::OptDsl.Runtime.Core.StateShape[] { global::OptDsl.Runtime.Core.StateShape.Elements, global::OptDsl.Runtime.Core.StateShape.Rows }", code);
        Assert.Contains("optdsl_phase1", code);                 // a CUDA body
        Assert.Contains("for (int row = 0, rows = chunk.Rows; row < rows; row++)", code);
        // What is the same along a row, once a row: v's new value and its square root.
        Assert.Contains("st_v = new global::System.Numerics.Vector<float>(rowValue", code);
    }

    [Fact]
    public void Work_per_column_runs_on_the_cpu_and_says_why_not_on_cuda()
    {
        var code = Generated("c = 0.9f * c + 0.1f * Matrix.ColumnMean(g * g); p -= lr * g / (MathF.Sqrt(c) + 1e-8f);", ColumnState);
        Assert.Contains("ReductionScope.Column", code);
        Assert.Contains("No CUDA code: column work (state per column, Matrix.Column*) is fused on the CPU only so far.", code);
        Assert.DoesNotContain("optdsl_phase1", code);
        Assert.Contains("chunk.ColumnPartials(0)", code);
        Assert.Contains("if (at == 0) stColumnVectors1[i] = st_c;", code);
    }

    // (State per row given a value that differs along the row is refused before this: OPT0027.)
    [Theory]
    [InlineData("v = 0.5f * v; p -= lr * v * g;", "state kept per row or column with no reduction has no fused form yet")]
    public void State_per_row_that_the_row_loop_cannot_run_says_why(string body, string why)
    {
        Assert.Contains($"and {why}; the portable path runs it", Generated(body, RowState));
    }
}
