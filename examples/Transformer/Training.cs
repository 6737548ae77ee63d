using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using OptDsl.Runtime.Composition;
using OptDsl.Runtime.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace Transformer;

/// <summary>What a run measured: every step's loss, the validation losses, and the step's timing.</summary>
public sealed record RunLog(string Framework, string Device, string Model, long Parameters, long MuonParameters, int TokensPerStep,
    List<double> Losses, List<double[]> Validation, double StepMs, double OptimizerMs, double TokensPerSecond, long StateBytes)
{
    /// <summary>The optimizer's share of a step (the clip, the update and zeroing the gradients).</summary>
    public double OptimizerShare => OptimizerMs / StepMs;
}

/// <summary>
/// Trains a <see cref="Gpt"/> on a <see cref="Corpus"/> with the <see cref="Recipe"/>: next-byte cross-entropy on
/// windows drawn by <see cref="Corpus.Offsets"/>, the validation loss every <c>evalEvery</c> steps on fixed held-out
/// windows. Each step is timed to its end (the loss is read back), the optimizer's part between synchronisations.
/// </summary>
public sealed class Training(GptConfig config, Corpus corpus, Recipe recipe, Device device, long seed = 1, int evalEvery = 50, int evalBatches = 4)
{
    public GptConfig Config => config;
    public Recipe Recipe => recipe;
    public long Seed => seed;
    public int EvalEvery => evalEvery;
    public int EvalBatches => evalBatches;

    /// <summary>The model at its initial weights, on the CPU.</summary>
    public Gpt NewModel()
    {
        var model = new Gpt(config);
        model.Initialize(seed);
        return model;
    }

    public long[] TrainOffsets(int step) => corpus.Offsets((ulong)seed, step, config.Batch, config.Context);
    public long[] ValidationOffsets(int batch) => corpus.Offsets((ulong)seed, batch, config.Batch, config.Context, validation: true);

    public RunLog Run(Action<int, double, double>? progress = null)
    {
        using var model = NewModel();
        model.to(device);
        using var optimizer = recipe.Build(model);
        using var data = tensor(corpus.Bytes, device: device);
        using var kept = OptDsl.Runtime.Backends.Portable.KeptScalars.Rent();
        using var window = arange(kept[0], kept[config.Context + 1], kept[1], ScalarType.Int64, device);
        var losses = new List<double>();
        var validation = new List<double[]> { new[] { 0, Validate(model, data, window) } };
        var stepTimes = new List<double>();
        var optimizerTimes = new List<double>();
        var clock = new Stopwatch();
        for (int step = 0; step < recipe.Steps; step++)
        {
            using var scope = NewDisposeScope();
            var (inputs, targets) = Batch(data, window, TrainOffsets(step));
            Synchronize();
            clock.Restart();
            var loss = nn.functional.cross_entropy(model.forward(inputs).view(-1, GptConfig.Vocabulary), targets.reshape(-1));
            loss.backward();
            Synchronize();
            double backwardEnd = clock.Elapsed.TotalMilliseconds;
            optimizer.step();
            optimizer.zero_grad();
            Synchronize();
            double optimizerEnd = clock.Elapsed.TotalMilliseconds;
            losses.Add(loss.item<float>());
            stepTimes.Add(clock.Elapsed.TotalMilliseconds);
            optimizerTimes.Add(optimizerEnd - backwardEnd);
            if ((step + 1) % evalEvery == 0 || step + 1 == recipe.Steps)
                validation.Add(new[] { step + 1, Validate(model, data, window) });
            progress?.Invoke(step + 1, losses[^1], recipe.MuonLr * recipe.Factor(step));
        }
        // The first steps pay for kernel compilation and the allocator's growth.
        double stepMs = Median(stepTimes.Skip(Math.Min(10, stepTimes.Count / 2)));
        long muon = model.named_parameters().Where(np => Routing.Matrices("embed", "head")(np.name, np.parameter)).Sum(np => np.parameter.NumberOfElements);
        return new RunLog("OptDsl", device.ToString(), config.Name, model.parameters().Sum(p => p.NumberOfElements), muon, config.TokensPerStep,
            losses, validation, stepMs, Median(optimizerTimes.Skip(Math.Min(10, optimizerTimes.Count / 2))), config.TokensPerStep / stepMs * 1000,
            optimizer.StateBytes);
    }

    /// <summary>Inputs and next-byte targets (batch × context, int64) for windows starting at <paramref name="offsets"/>.</summary>
    (Tensor Inputs, Tensor Targets) Batch(Tensor data, Tensor window, long[] offsets)
    {
        var starts = tensor(offsets, device: data.device).unsqueeze(1);
        var bytes = data.index_select(0, starts.add(window, OptDsl.Runtime.Backends.Portable.ScalarCalls.One).view(-1))
            .view(offsets.Length, config.Context + 1).to(ScalarType.Int64);
        return (bytes.narrow(1, 0, config.Context), bytes.narrow(1, 1, config.Context));
    }

    double Validate(Gpt model, Tensor data, Tensor window)
    {
        using var noGrad = no_grad();
        model.eval();
        double total = 0;
        for (int b = 0; b < evalBatches; b++)
        {
            using var scope = NewDisposeScope();
            var (inputs, targets) = Batch(data, window, ValidationOffsets(b));
            total += nn.functional.cross_entropy(model.forward(inputs).view(-1, GptConfig.Vocabulary), targets.reshape(-1)).item<float>();
        }
        model.train();
        return total / evalBatches;
    }

    void Synchronize()
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
    }

    static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
