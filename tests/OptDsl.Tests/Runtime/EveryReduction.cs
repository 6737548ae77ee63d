using System;
using OptDsl;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// Every per-tensor reduction at once (a variance and a standard deviation, each a mean and then the squared deviations
/// from it), reductions of reduced values (four phases), one in a uniform branch and one in a per-element condition:
/// the shapes of rule the phased fused code must get right.
/// </summary>
[Optimizer]
public partial class EveryReduction
{
    [Hyper] float lr = 0.01f;
    [Hyper] bool centre = true;

    [State] float m;

    [Update]
    void Update(ref float p, float g)
    {
        m = 0.9f * m + 0.1f * g;
        // A deviation of one element is NaN (as torch's): 0 then, so that the other reductions stay comparable.
        float deviation = Reduce.Std(g) + Reduce.Var(m) * 10f;
        float spread = Reduce.Max(m) - Reduce.Min(m) + Reduce.MaxAbs(g) + Reduce.Sum(g) / 100f + (deviation >= 0f ? deviation : 0f);
        float centred = g;
        if (centre) centred = g - Reduce.Mean(g);
        float scaled = centred / (Reduce.Rms(centred) + 1e-3f);
        // scaled waits for Rms(centred), which waits for Mean(g): this norm is the third level, so four phases.
        float level2 = Reduce.Norm(scaled * Reduce.Norm(p)) + 1f;
        if (Reduce.Sum(m) > 0) p -= lr * scaled / level2;
        else p -= lr * 0.5f * scaled / level2 + 1e-4f * spread;
    }
}
