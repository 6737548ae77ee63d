using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Core;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace OptDsl.Tests.Catalog;

/// <summary>
/// Every catalog optimizer against an independent reference over 30 steps on four tensors (91, 33, 1 and 60
/// elements): torch.optim where PyTorch has the optimizer, the paper's equations written out in
/// make_fixtures.py where it does not. The references ran in float64.
/// </summary>
public class ReferenceTrajectoryTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Cases() =>
        ReferenceFixture.Instance.Value.Cases.Select(c => new object[] { c.Optimizer, c.Name });

    /// <summary>
    /// In float64 both sides compute the same equations and differ only in the order of operations, so they agree
    /// to a few float64 ulps per step (measured: at most 2.2e-15 after 30 steps, on parameters of order 1). 1e-12
    /// relative leaves a margin of several hundred times; a wrong equation is off by 1e-4 or more.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_the_reference_in_float64(string optimizer, string name) =>
        Check(optimizer, name, ScalarType.Float64, relative: 1e-12, absolute: 1e-13);

    /// <summary>
    /// In float32 against the float64 reference, each operation rounds by up to 6e-8 relative; the parameters are
    /// of order 1 and each step adds a handful of rounded terms, so after 30 steps the difference stays within a
    /// few 1e-6 (measured: at most 2.2e-6, SGD with momentum). 2e-5 absolute bounds that with a margin of about
    /// nine times, while a wrong equation (a missed bias correction, eps in the wrong place) moves parameters by
    /// 1e-4 or more.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_the_reference_in_float32_with_the_fused_CPU_update(string optimizer, string name) =>
        Check(optimizer, name, ScalarType.Float32, relative: 0, absolute: 2e-5, UpdateBackend.Fused);

    /// <summary>The same tolerance and reasoning as the fused update's.</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_the_reference_in_float32_on_the_portable_path(string optimizer, string name) =>
        Check(optimizer, name, ScalarType.Float32, relative: 0, absolute: 2e-5, UpdateBackend.Portable);

    void Check(string optimizer, string name, ScalarType dtype, double relative, double absolute, UpdateBackend backend = UpdateBackend.Auto)
    {
        var fixture = ReferenceFixture.Instance.Value;
        var c = fixture.Find(optimizer, name);
        var outcome = TrajectoryCheck.Run(fixture, c, dtype, CPU, relative, backend);
        output.WriteLine($"{optimizer}/{name} {dtype} {backend}: max |ours - reference| after step {fixture.Steps} = {outcome.MaxDifferenceAtLastStep:E2} ({c.Reference})");
        Assert.True(outcome.WorstExcess <= absolute,
            $"{optimizer}/{name} in {dtype}: step {outcome.Step}, tensor {outcome.Tensor}, element {outcome.Index}: ours {outcome.Ours:R}, reference {outcome.Reference:R} ({c.Reference})");
    }
}
