using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// DoG, distance over gradients (Ivgi, Hinder and Carmon, 2023, "DoG is SGD's Best Friend: A Parameter-Free Dynamic Step
/// Size Schedule"): SGD whose step size is the largest distance travelled from the initial weights over the root of the
/// summed squared gradient norms, <c>η_t = max_i ‖x_i − x_0‖ / sqrt(Σ_i ‖g_i‖²)</c>, starting from
/// <c>r_ε = repsRel · (1 + ‖x_0‖)</c>. Norms are over every parameter the optimizer steps, or per tensor with
/// <c>layerwise</c> (L-DoG). No learning rate to tune (<c>lr</c> multiplies η, 1 by default); <c>eps</c> under the root
/// keeps a zero first gradient from dividing by zero; weight decay is added to the gradient, as in the authors'
/// implementation. The authors advise iterate averaging with it (compose with <c>WeightAverage.Ema</c>).
/// </summary>
[Optimizer]
public partial class DoG
{
    /// <summary>A multiplier of the step size (1: plain DoG).</summary>
    [Hyper("(0, inf)")] float lr = 1f;
    /// <summary>The first step's distance, relative to 1 + ‖x_0‖.</summary>
    [Hyper("(0, inf)")] float repsRel = 1e-6f;
    /// <summary>Added to the summed squared gradient norms under the root.</summary>
    [Hyper("[0, inf)")] float eps = 1e-8f;
    /// <summary>Weight decay, added to the gradient.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0f;
    /// <summary>L-DoG: distances and gradient norms per tensor instead of over all parameters.</summary>
    [Hyper] bool layerwise = false;

    /// <summary>The initial weights.</summary>
    [State(Init = StateInit.Parameter)] float x0;
    /// <summary>The largest distance from the initial weights so far.</summary>
    [ScalarState] double rbar = 0;
    /// <summary>The sum of squared gradient norms so far.</summary>
    [ScalarState] double gsum = 0;

    [Update]
    void Update(ref float p, float g, int t)
    {
        float d = g + weightDecay * p;
        float start = repsRel * (1 + (layerwise ? Reduce.Norm(x0) : Reduce.GlobalNorm(x0)));
        float moved = p - x0;
        float distance = layerwise ? Reduce.Norm(moved) : Reduce.GlobalNorm(moved);
        rbar = Math.Max(t == 1 ? start : rbar, distance);
        float squared = d * d;
        gsum += layerwise ? Reduce.Sum(squared) : Reduce.GlobalSum(squared);
        p -= lr * (float)(rbar / Math.Sqrt(gsum + eps)) * d;
    }
}
