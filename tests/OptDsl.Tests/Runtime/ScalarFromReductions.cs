using System;
using OptDsl;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// Scalar state from reductions of every scope: a local holding a tensor's norm, a group's norm, a variance taken in a
/// host branch (a local a reduction sets in one arm only), a running maximum over the step, and a sum taken under a
/// host condition on that maximum (so it waits a phase for the condition). Three phases fused on the CPU.
/// </summary>
[Optimizer]
public partial class ScalarFromReductions
{
    [Hyper] float lr = 0.01f;

    [State] float m;
    [ScalarState] double scale = 1;
    [ScalarState] double peak = 0;
    [ScalarState] double total = 0;

    [Update]
    void Update(ref float p, float g, int t)
    {
        float norm = Reduce.Norm(g);
        float group = Reduce.GroupNorm(g);
        float spread = 0;
        if (t % 2 == 0) spread = Reduce.Std(g);
        peak = Math.Max(peak, Reduce.GlobalMaxAbs(g));
        scale = 0.5 * scale + 0.5 * norm / (group + 1e-6) + spread;
        if (peak > 1) total += Reduce.Sum(m);
        m = 0.9f * m + 0.1f * g * (float)scale;
        p -= lr * m / (float)(1 + peak) + 1e-4f * (float)total;
    }
}
