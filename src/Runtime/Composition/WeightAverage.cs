using System;
using System.Collections.Generic;
using System.IO;
using OptDsl.Runtime.Services.Schedules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Composition;

/// <summary>
/// An average of the weights kept beside training: an exponential moving average (<see cref="Ema(double)"/>) or the
/// plain mean of SWA (<see cref="Swa"/>). <see cref="SwapIn"/> puts the average into the model for evaluation or saving
/// and puts the trained weights back when disposed.
/// </summary>
public sealed class WeightAverage : OptimizerStage
{
    readonly ParameterCopies _average;
    readonly Schedule? _decay;
    readonly long _start, _every;
    readonly List<long> _counts = new();
    List<Tensor>? _swapped;

    WeightAverage(string name, Schedule? decay, long start, long every)
    {
        Name = name;
        _average = new ParameterCopies(name);
        (_decay, _start, _every) = (decay, start, every);
    }

    /// <inheritdoc/>
    public override long StateBytes => _average.Bytes;

    /// <summary>
    /// An exponential moving average: it starts at the weights before the first update, and after each update
    /// <c>avg ← decay·avg + (1 − decay)·θ</c>.
    /// </summary>
    public static WeightAverage Ema(double decay) => Ema(Schedules.Constant(CheckDecay(decay, 0)));

    /// <summary>
    /// An exponential moving average whose decay follows <paramref name="decay"/> (evaluated at each update's step, from
    /// 0), e.g. a warmup <c>Schedules.Of(t =&gt; Math.Min(0.9999, (1 + t) / (10.0 + t)))</c>.
    /// </summary>
    public static WeightAverage Ema(Schedule decay)
    {
        ArgumentNullException.ThrowIfNull(decay);
        return new WeightAverage("Ema", decay, 0, 1);
    }

    /// <summary>
    /// Stochastic weight averaging (Izmailov et al., 2018): the mean of the weights after update <paramref name="start"/>
    /// (counted from 1) and every <paramref name="every"/> updates after it, as <c>torch.optim.swa_utils.AveragedModel</c>
    /// keeps it. Batch-norm statistics of the averaged weights are the model's to recompute.
    /// </summary>
    public static WeightAverage Swa(long start, long every = 1)
    {
        if (start < 1) throw new ArgumentOutOfRangeException(nameof(start), start, "SWA starts after update 1 at the earliest.");
        if (every < 1) throw new ArgumentOutOfRangeException(nameof(every), every, "SWA averages every 1 or more updates.");
        return new WeightAverage("Swa", null, start, every);
    }

    /// <inheritdoc/>
    public override string Name { get; }

    /// <summary>The averages, in parameter order (empty until averaging starts).</summary>
    public IReadOnlyList<Tensor> Averages => _average.All;

    /// <summary>How many weights the average of the first parameter holds (for an EMA: updates seen plus the start).</summary>
    public long Count => _counts.Count > 0 ? _counts[0] : 0;

    /// <summary>Whether the average is in the model now (training steps are refused until it is swapped out).</summary>
    public bool IsSwappedIn => _swapped is not null;

    /// <summary>
    /// Copies the average into the parameters; disposing the result copies the trained weights back. Use it to evaluate
    /// or save the averaged model: <c>using (ema.SwapIn()) Evaluate();</c>.
    /// </summary>
    public IDisposable SwapIn()
    {
        if (IsSwappedIn) throw new InvalidOperationException($"{Name}: the average is already swapped in.");
        var parameters = Parameters();
        if (_average.Count == 0) throw new InvalidOperationException($"{Name}: there is no average yet; it starts with the first averaged update.");
        if (_average.Count != parameters.Count)
            throw new InvalidOperationException($"{Name}: {parameters.Count - _average.Count} parameters have no average yet (they joined after averaging started).");
        _average.Check(parameters);
        var trained = new List<Tensor>(parameters.Count);
        using (torch.no_grad())
        {
            for (int i = 0; i < parameters.Count; i++)
            {
                trained.Add(parameters[i].detach().clone().DetachFromDisposeScope());
                parameters[i].copy_(_average[i]);
            }
        }
        _swapped = trained;
        return new SwapScope(this);
    }

    /// <summary>Puts the trained weights back if the average is swapped in; otherwise does nothing.</summary>
    internal void SwapOut()
    {
        if (_swapped is not { } trained) return;
        var parameters = Parameters();
        using (torch.no_grad())
            for (int i = 0; i < trained.Count; i++)
            {
                parameters[i].copy_(trained[i]);
                trained[i].Dispose();
            }
        _swapped = null;
    }

    IReadOnlyList<Parameter> Parameters() =>
        new List<Parameter>((Owner ?? throw new InvalidOperationException($"{Name} is not part of a composed optimizer.")).parameters());

    sealed class SwapScope(WeightAverage owner) : IDisposable
    {
        public void Dispose() => owner.SwapOut();
    }

    /// <inheritdoc/>
    protected internal override void Check(StageContext context)
    {
        _average.Check(context.Parameters);
        if (_decay is not null) CheckDecay(_decay.At(context.Step), context.Step);
    }

    /// <inheritdoc/>
    protected internal override void BeforeUpdate(StageContext context)
    {
        if (_decay is null) return;
        for (int i = _average.Count; i < context.Parameters.Count; i++)
        {
            _average.CopyAt(i, context.Parameters[i]);
            _counts.Add(1);
        }
    }

    /// <inheritdoc/>
    protected internal override void AfterUpdate(StageContext context)
    {
        long done = context.Step + 1;
        if (_decay is null && (done < _start || (done - _start) % _every != 0)) return;
        using var scope = torch.NewDisposeScope();
        for (int i = 0; i < context.Parameters.Count; i++)
        {
            var p = context.Parameters[i];
            if (i == _average.Count)
            {
                _average.CopyAt(i, p);
                _counts.Add(1);
                continue;
            }
            // EMA: avg + (1 - decay)(θ - avg); SWA: the running mean avg + (θ - avg) / (n + 1).
            double weight = _decay is not null ? 1 - _decay.At(context.Step) : 1.0 / (_counts[i] + 1);
            using var weightTensor = OptDsl.Runtime.Backends.Portable.TensorMath.Scalar(weight, _average[i]);
            _average[i].lerp_(ParameterCopies.AsCopyType(p), weightTensor);
            _counts[i]++;
        }
    }

    static double CheckDecay(double decay, long step) =>
        decay is >= 0 and <= 1 ? decay
            : throw new ArgumentOutOfRangeException(nameof(decay), decay, $"Ema: the decay at step {step} must be in [0, 1].");

    /// <inheritdoc/>
    protected internal override void MoveTo(Device device) => _average.MoveTo(device);

    /// <inheritdoc/>
    protected internal override void WriteState(BinaryWriter writer)
    {
        _average.Write(writer);
        foreach (var n in _counts) writer.Write(n);
    }

    /// <inheritdoc/>
    protected internal override Action ReadState(BinaryReader reader, IReadOnlyList<Parameter> parameters)
    {
        if (IsSwappedIn) throw new InvalidOperationException($"{Name}: swap the average out before loading a checkpoint.");
        var loaded = _average.Read(reader, parameters);
        var counts = new List<long>(loaded.Count);
        for (int i = 0; i < loaded.Count; i++)
        {
            long n = reader.ReadInt64();
            if (n < 1) throw new InvalidDataException($"{Name} is corrupt (an average of {n} weights).");
            counts.Add(n);
        }
        return () =>
        {
            _average.Replace(loaded, parameters);
            _counts.Clear();
            _counts.AddRange(counts);
        };
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (!disposing) return;
        if (_swapped is { } trained) foreach (var t in trained) t.Dispose();
        _swapped = null;
        _average.Dispose();
    }
}
