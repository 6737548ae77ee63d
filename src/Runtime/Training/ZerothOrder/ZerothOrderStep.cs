namespace OptDsl.Runtime.Training.ZerothOrder;

/// <summary>What one zeroth-order step did: enough, with the seed, to redo it exactly.</summary>
/// <param name="Step">The step's number (0 first); perturbation j of it draws stream <c>Step * q + j</c>.</param>
/// <param name="ProjectedGradients">Each perturbation's <c>(L(θ + εz) − L(θ − εz)) / 2ε</c>.</param>
/// <param name="LearningRate">The learning rate it used.</param>
/// <param name="WeightDecay">The weight decay it used.</param>
public sealed record ZerothOrderStep(long Step, double[] ProjectedGradients, double LearningRate, double WeightDecay);
