using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// Schedule-free SGD (Defazio et al., 2024, "The Road Less Scheduled"): SGD whose iterate <c>z</c> is averaged into
/// <c>x</c>, with gradients taken at <c>y = (1 - momentum) z + momentum x</c>, which the parameters hold; evaluate at
/// <c>x</c> inside <see cref="SwapInAverage"/>. No learning-rate decay is needed. As the authors' reference
/// implementation: linear warmup, averaging weights <c>t^r * maxLr^weightLrPower</c>, weight decay at y. The same
/// recurrences as <see cref="ScheduleFreeAdamW"/> with the gradient itself as the direction.
/// </summary>
[Optimizer]
public partial class ScheduleFreeSgd
{
    /// <summary>The learning rate, reached after <c>warmupSteps</c> (the authors' default is 1).</summary>
    [Hyper("[0, inf)")] float lr = 1f;
    /// <summary>Interpolation between the iterate and the average (the momentum's role); above 0, since the average is recovered from y and z through it.</summary>
    [Hyper("(0, 1)")] float momentum = 0.9f;
    /// <summary>Weight decay, applied at y.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;
    /// <summary>Steps of linear learning-rate warmup; 0 for none.</summary>
    [Hyper("[0, inf)")] int warmupSteps = 0;
    /// <summary>Power of the step in the averaging weights (0: weights follow the learning rate alone).</summary>
    [Hyper("[0, inf)")] float r = 0f;
    /// <summary>Power of the largest learning rate so far in the averaging weights.</summary>
    [Hyper("[0, inf)")] float weightLrPower = 2f;

    /// <summary>The SGD iterate z; starts at the parameter.</summary>
    [State(Init = StateInit.Parameter)] float z;
    /// <summary>The largest learning rate so far.</summary>
    [ScalarState] double lrMax = 0;
    /// <summary>The sum of the averaging weights so far.</summary>
    [ScalarState] double weightSum = 0;

    [Update]
    void Update(ref float p, float g, int t)
    {
        float lrT = warmupSteps > 0 ? lr * MathF.Min(1f, (float)t / warmupSteps) : lr;
        lrMax = Math.Max(lrMax, lrT);
        double weight = Math.Pow(t, r) * Math.Pow(lrMax, weightLrPower);
        weightSum += weight;
        // The weight of z in the new average; 0 while every weight so far is 0 (a zero learning rate).
        float c = weightSum > 0 ? (float)(weight / weightSum) : 0f;
        float u = g + weightDecay * p;
        p += c * (z - p) + lrT * (momentum * (1 - c) - 1) * u;
        z -= lrT * u;
    }
}
