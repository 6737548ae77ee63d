using System;
using System.Linq;
using OptDsl.Runtime.Schedules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace QuickStart;

/// <summary>What a training run reports at the end.</summary>
public sealed record TrainingResult(double LossBefore, double LossAfter, double AccuracyBefore, double AccuracyAfter, int Steps);

/// <summary>
/// Trains a small MLP to separate the two spirals with the <see cref="LaProp"/> optimizer declared in this example,
/// under a warmup-stable-decay learning-rate schedule driven by TorchSharp's own <c>LambdaLR</c>.
/// </summary>
public static class Training
{
    public static TrainingResult Run(int steps, int batchSize = 128, Action<int, double, double>? progress = null, int seed = 7)
    {
        torch.manual_seed(seed);
        var (points, labels) = SpiralData.Generate(2048, seed);
        var model = nn.Sequential(
            ("hidden1", nn.Linear(2, 64)), ("act1", nn.Tanh()),
            ("hidden2", nn.Linear(64, 64)), ("act2", nn.Tanh()),
            ("output", nn.Linear(64, 2)));
        var lossFunction = nn.CrossEntropyLoss();

        var optimizer = new LaProp(model.parameters(), lr: 1e-2, weightDecay: 1e-4);
        var wsd = WsdSchedule.WithDecayFraction(totalSteps: steps, warmupSteps: Math.Max(1, steps / 10), decayFraction: 0.2, shape: DecayShape.OneMinusSqrt);
        var scheduler = optim.lr_scheduler.LambdaLR(optimizer, wsd.AsFunction());

        var (lossBefore, accuracyBefore) = Evaluate(model, lossFunction, points, labels);
        var generator = new Random(seed);
        for (int step = 0; step < steps; step++)
        {
            using var scope = torch.NewDisposeScope();
            var batch = torch.tensor(Enumerable.Range(0, batchSize).Select(_ => (long)generator.Next((int)labels.NumberOfElements)).ToArray());
            optimizer.zero_grad();
            var loss = lossFunction.forward(model.forward(points[batch]), labels[batch]);
            loss.backward();
            optimizer.step();
            scheduler.step();
            progress?.Invoke(step + 1, loss.item<float>(), optimizer.ParamGroups.First().LearningRate);
        }
        var (lossAfter, accuracyAfter) = Evaluate(model, lossFunction, points, labels);
        return new TrainingResult(lossBefore, lossAfter, accuracyBefore, accuracyAfter, steps);
    }

    static (double Loss, double Accuracy) Evaluate(Sequential model, CrossEntropyLoss lossFunction, Tensor points, Tensor labels)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var logits = model.forward(points);
        double loss = lossFunction.forward(logits, labels).item<float>();
        double accuracy = logits.argmax(1).eq(labels).to(ScalarType.Float32).mean().item<float>();
        return (loss, accuracy);
    }
}
