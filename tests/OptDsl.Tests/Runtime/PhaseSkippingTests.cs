using OptDsl.Runtime.Backends;
using Xunit;

namespace OptDsl.Tests.Runtime;

/// <summary>A phase whose reductions all stand under host conditions that are false for every tensor is skipped.</summary>
public class PhaseSkippingTests
{
    static readonly ReductionPlan Plan = new(3,
        new ReductionSpec(1, ReductionOp.Norm) { When = new[] { 1 } },          // slot 0 true
        new ReductionSpec(2, ReductionOp.Sum) { When = new[] { -1, 3 } });      // slot 0 false and slot 2 true

    [Theory]
    [InlineData(1f, 0f, true, false)]
    [InlineData(0f, 1f, false, true)]
    [InlineData(0f, 0f, false, false)]
    [InlineData(1f, 1f, true, false)]
    public void Phases_are_needed_where_a_reductions_conditions_hold(float slot0, float slot2, bool first, bool second)
    {
        var scalars = new[] { slot0, 0.25f, slot2 };
        Assert.Equal(first, Plan.Needs(1, scalars));
        Assert.Equal(second, Plan.Needs(2, scalars));
    }

    [Fact]
    public void A_phase_that_stores_a_matrix_is_always_needed()
    {
        var plan = new ReductionPlan(2, new[] { new ReductionSpec(1, ReductionOp.Sum) { When = new[] { 1 } } }, new[] { new MatrixSpec(1, 0, 0, 0, 0, 0) });
        Assert.True(plan.Needs(1, new[] { 0f }));
    }
}
