using System;
using System.Linq;
using OptDsl.Runtime.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Tests.Catalog;

/// <summary>Runs one fixture case with a catalog optimizer and measures how far it lands from the reference.</summary>
public static class TrajectoryCheck
{
    /// <summary>The worst difference over all checkpoints, beyond <paramref name="relative"/> times the reference.</summary>
    public sealed record Outcome(double WorstExcess, int Step, int Tensor, int Index, double Ours, double Reference, double MaxDifferenceAtLastStep);

    public static Outcome Run(ReferenceFixture fixture, ReferenceFixture.Case c, ScalarType dtype, Device device, double relative,
        UpdateBackend backend = UpdateBackend.Auto)
    {
        var parameters = TestData.Parameters(dtype, device);
        using var opt = CatalogIndex.Create[c.Optimizer](parameters);
        opt.Backend = backend;
        foreach (var (hyper, value) in c.Hypers) opt.OptionsOf(0)[hyper] = value;

        var worst = new Outcome(0, 0, 0, 0, 0, 0, 0);
        double last = 0;
        for (int step = 1; step <= fixture.Steps; step++)
        {
            TestData.SetGradients(parameters, step);
            opt.step();
            if (!c.Expected.TryGetValue(step, out var expected)) continue;
            for (int k = 0; k < parameters.Length; k++)
            {
                var ours = parameters[k].detach().to(ScalarType.Float64).cpu().flatten().data<double>().ToArray();
                for (int i = 0; i < ours.Length; i++)
                {
                    double reference = expected[k][i];
                    double excess = double.IsNaN(ours[i]) ? double.PositiveInfinity : Math.Abs(ours[i] - reference) - relative * Math.Abs(reference);
                    if (excess > worst.WorstExcess) worst = new Outcome(excess, step, k, i, ours[i], reference, 0);
                    if (step == fixture.Steps) last = Math.Max(last, Math.Abs(ours[i] - reference));
                }
            }
        }
        return worst with { MaxDifferenceAtLastStep = last };
    }
}
