using TorchSharp;

namespace OptDsl.Runtime.Composition;

/// <summary>Builds composed optimizers.</summary>
public static class Composition
{
    /// <summary>
    /// Surrounds <paramref name="inner"/>'s update with <paramref name="stages"/>, e.g.
    /// <c>new AdamW(model.parameters()).Compose(new AccumulateGradients(4), new ClipGradNorm(1.0), WeightAverage.Ema(0.999))</c>.
    /// Gradient stages run in the order given before the update, weight stages in the order given after it. The
    /// result owns <paramref name="inner"/> and the stages.
    /// </summary>
    public static ComposedOptimizer Compose(this torch.optim.Optimizer inner, params OptimizerStage[] stages) => new(inner, stages);
}
