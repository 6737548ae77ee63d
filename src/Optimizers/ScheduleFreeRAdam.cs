using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// Schedule-free RAdam (Defazio et al., 2024, "The Road Less Scheduled"; the authors' <c>RAdamScheduleFree</c> in
/// facebookresearch/schedule_free): <see cref="ScheduleFreeAdamW"/> with RAdam's rectification (Liu et al., 2020) in
/// place of a warmup. The step's learning rate is <c>lr·ρ-rectification</c>, with
/// <c>ρ_∞ = 2/(1 − β₂) − 1</c>, <c>ρ_t = ρ_∞ − 2tβ₂ᵗ/(1 − β₂ᵗ)</c> and rectification
/// <c>√((ρ_t − 4)(ρ_t − 2)ρ_∞ / ((ρ_∞ − 4)(ρ_∞ − 2)ρ_t))</c> once ρ_t &gt; 4, when the direction is Adam's
/// <c>g/(√(v/(1 − β₂ᵗ)) + ε)</c>. Before that (steps 1 to 4 at β₂ = 0.999) the authors' code either leaves the
/// parameters where they are and only accumulates v (<c>silentSgdPhase</c>, their default) or takes SGD steps on the
/// raw gradient at the full rate. As theirs: no warmup hyperparameter, the averaging weights
/// <c>t^r·maxLr^weightLrPower</c> with maxLr the largest rectified rate so far (so a silent step has weight 0 and the
/// average starts where the first moving step lands), weight decay added to the direction at y. The parameters hold y;
/// evaluate at x inside <see cref="SwapInAverage"/>, the authors' <c>eval()</c>.
/// </summary>
[Optimizer]
public partial class ScheduleFreeRAdam
{
    /// <summary>The learning rate, reached as the rectification tends to 1.</summary>
    [Hyper("[0, inf)")] float lr = 2.5e-3f;
    /// <summary>Interpolation between the iterate and the average (the momentum's role); above 0, since the average is recovered from y and z through it.</summary>
    [Hyper("(0, 1)")] float beta1 = 0.9f;
    /// <summary>Decay of the second-moment average; it also sets how many steps the rectification waits.</summary>
    [Hyper("[0, 1)")] float beta2 = 0.999f;
    /// <summary>Added to the denominator for numerical stability.</summary>
    [Hyper("(0, inf)")] float eps = 1e-8f;
    /// <summary>Weight decay, added to the direction at y.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;
    /// <summary>Power of the step in the averaging weights (0: weights follow the learning rate alone).</summary>
    [Hyper("[0, inf)")] float r = 0f;
    /// <summary>Power of the largest learning rate so far in the averaging weights.</summary>
    [Hyper("[0, inf)")] float weightLrPower = 2f;
    /// <summary>Leave the parameters still until the rectification starts (the authors' default); off, take SGD steps meanwhile.</summary>
    [Hyper] bool silentSgdPhase = true;

    /// <summary>The RAdam iterate z; starts at the parameter.</summary>
    [State(Init = StateInit.Parameter)] float z;
    /// <summary>Second-moment average.</summary>
    [State] float v;
    /// <summary>The largest rectified learning rate so far.</summary>
    [ScalarState] double lrMax = 0;
    /// <summary>The sum of the averaging weights so far.</summary>
    [ScalarState] double weightSum = 0;

    [Update]
    void Update(ref float p, float g, int t)
    {
        float beta2T = MathF.Pow(beta2, t);
        float rhoInf = 2 / (1 - beta2) - 1;
        float rhoT = rhoInf - 2 * t * beta2T / (1 - beta2T);
        float rectification = rhoT > 4
            ? MathF.Sqrt((rhoT - 4) * (rhoT - 2) * rhoInf / ((rhoInf - 4) * (rhoInf - 2) * rhoT))
            : silentSgdPhase ? 0f : 1f;
        float lrT = lr * rectification;
        lrMax = Math.Max(lrMax, lrT);
        double weight = Math.Pow(t, r) * Math.Pow(lrMax, weightLrPower);
        weightSum += weight;
        // The weight of z in the new average; 0 while every weight so far is 0 (the silent steps, a zero learning rate).
        float c = weightSum > 0 ? (float)(weight / weightSum) : 0f;
        v = beta2 * v + (1 - beta2) * g * g;
        float direction = rhoT > 4 ? g / (MathF.Sqrt(v / (1 - beta2T)) + eps) : g;
        float u = direction + weightDecay * p;
        p += c * (z - p) + lrT * (beta1 * (1 - c) - 1) * u;
        z -= lrT * u;
    }
}
