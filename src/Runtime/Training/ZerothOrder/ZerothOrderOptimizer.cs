using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Core;
using OptDsl.Runtime.Services.Checkpoints;
using OptDsl.Runtime.Services.Random;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Training.ZerothOrder;

/// <summary>
/// Zeroth-order training from forward passes only — MeZO (Malladi et al., 2023, "Fine-Tuning Language Models with Just
/// Forward Passes") and its family. Each step draws <c>z ~ N(0, I)</c> from the counter-based generator (regenerated,
/// never stored), evaluates the loss at <c>θ + εz</c> and <c>θ − εz</c> with the parameters moved in place and put back
/// exactly, and estimates the gradient as <c>g = mean_j pg_j z_j</c> over <see cref="Perturbations"/> draws (q-SPSA).
/// Without an inner optimizer the update is MeZO's ZO-SGD, applied in place tensor by tensor
/// (<c>θ ← θ − lr·wd·θ − lr·g</c>): no gradient and no state is kept. With one (any optimizer declared with OptDsl:
/// momentum, Adam, a sign step...), <c>g</c> is handed to it as the gradient.
/// </summary>
/// <remarks>
/// Every step is logged (<see cref="Log"/>): the seed and these few numbers per step redo the whole trajectory from the
/// initial weights, bit for bit on the same device (<see cref="Replay"/>), and make a checkpoint of a few bytes per step
/// (<see cref="SaveLog"/>).
/// </remarks>
public sealed class ZerothOrderOptimizer : IDisposable, IStateMemory
{
    readonly Parameter[] _parameters;
    readonly long[] _offsets;
    readonly DeclaredOptimizer? _inner;

    /// <inheritdoc/>
    /// <remarks>MeZO keeps nothing between steps; with an inner optimizer, that optimizer's state.</remarks>
    public long StateBytes => _inner?.StateBytes ?? 0;
    readonly List<ZerothOrderStep> _log = new();

    /// <param name="parameters">The parameters to train.</param>
    /// <param name="lr">The learning rate (of the ZO-SGD update; with an inner optimizer, its own applies).</param>
    /// <param name="eps">The perturbation's size ε (MeZO: 1e-3).</param>
    /// <param name="perturbations">Draws per step, each two forward passes.</param>
    /// <param name="weightDecay">Decoupled weight decay of the ZO-SGD update.</param>
    /// <param name="seed">The generator's seed: with the log, it determines the run.</param>
    /// <param name="inner">An optimizer declared with OptDsl over the same parameters, to take the estimate as its gradient.</param>
    /// <param name="sparsity">
    /// Sparse MeZO (Liu et al., 2024): the fraction of each tensor, largest magnitudes first, that is neither perturbed nor
    /// updated; the rest, the small weights, are. 0 (the default) perturbs everything.
    /// </param>
    public ZerothOrderOptimizer(IEnumerable<Parameter> parameters, double lr = 1e-6, double eps = 1e-3, int perturbations = 1,
        double weightDecay = 0, ulong seed = 0, DeclaredOptimizer? inner = null, double sparsity = 0)
    {
        if (!(sparsity >= 0 && sparsity < 1)) throw new ArgumentOutOfRangeException(nameof(sparsity), sparsity, "The sparsity is a fraction in [0, 1).");
        Sparsity = sparsity;
        _parameters = parameters.ToArray();
        if (_parameters.Length == 0) throw new ArgumentException("A zeroth-order optimizer needs at least one parameter.", nameof(parameters));
        if (_parameters.Distinct().Count() != _parameters.Length) throw new ArgumentException("A parameter is listed twice.", nameof(parameters));
        foreach (var p in _parameters)
            if (!p.is_contiguous() || !p.is_floating_point())
                throw new ArgumentException($"Zeroth-order steps move parameters in place: a parameter of shape [{string.Join(", ", p.shape)}] is {(p.is_floating_point() ? "not contiguous" : $"{p.dtype}, not floating point")}.", nameof(parameters));
        Check(lr, eps, perturbations, weightDecay);
        if (inner is not null && !inner.AllParameters.ToHashSet().SetEquals(_parameters))
            throw new ArgumentException("The inner optimizer must optimize exactly these parameters.", nameof(inner));
        (LearningRate, Eps, Perturbations, WeightDecay, Seed, _inner) = (lr, eps, perturbations, weightDecay, seed, inner);
        _offsets = new long[_parameters.Length];
        for (int k = 1; k < _parameters.Length; k++) _offsets[k] = _offsets[k - 1] + _parameters[k - 1].NumberOfElements;
    }

    static void Check(double lr, double eps, int perturbations, double weightDecay)
    {
        if (!(lr >= 0) || double.IsInfinity(lr)) throw new ArgumentOutOfRangeException(nameof(lr), lr, "The learning rate must be finite and not negative.");
        if (!(eps > 0) || double.IsInfinity(eps)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "ε must be positive and finite.");
        if (perturbations < 1) throw new ArgumentOutOfRangeException(nameof(perturbations), perturbations, "At least one perturbation per step.");
        if (!(weightDecay >= 0) || double.IsInfinity(weightDecay)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "Weight decay must be finite and not negative.");
    }

    /// <summary>The learning rate of the next step (settable, e.g. by a schedule).</summary>
    public double LearningRate { get; set; }

    /// <summary>ε.</summary>
    public double Eps { get; }

    /// <summary>Perturbations per step (q).</summary>
    public int Perturbations { get; }

    /// <summary>Decoupled weight decay of the ZO-SGD update.</summary>
    public double WeightDecay { get; }

    /// <summary>The generator's seed.</summary>
    public ulong Seed { get; }

    /// <summary>The fraction of each tensor (its largest magnitudes) left out of perturbations and updates.</summary>
    public double Sparsity { get; }

    /// <summary>
    /// Each tensor's mask of the weights a Sparse MeZO step moves — magnitude at most the tensor's
    /// (1 − sparsity)-quantile of magnitudes, from the weights at the step's start — or null without sparsity.
    /// </summary>
    Tensor?[]? Masks()
    {
        if (Sparsity == 0) return null;
        var masks = new Tensor?[_parameters.Length];
        using var _ = no_grad();
        for (int k = 0; k < _parameters.Length; k++)
        {
            var p = _parameters[k];
            long n = p.NumberOfElements;
            if (n == 0) continue;
            using var scope = NewDisposeScope();
            var magnitude = p.abs().flatten();
            long kept = Math.Max(1, (long)Math.Ceiling((1 - Sparsity) * n));
            var threshold = magnitude.kthvalue(kept, 0).values;
            masks[k] = p.abs().le(threshold).MoveToOuterDisposeScope();
        }
        return masks;
    }

    /// <summary>The noise of a parameter (in its type), zero outside its mask.</summary>
    internal static Tensor Noise(ulong seed, ulong stream, Tensor p, long offset, Tensor? mask)
    {
        var z = CounterRandomTensors.Normal(seed, stream, p.shape, p.device, offset).to(p.dtype);
        return mask is null ? z : z.mul(mask);
    }

    /// <summary>Steps taken.</summary>
    public long StepCount => _log.Count;

    /// <summary>Every step taken, in order.</summary>
    public IReadOnlyList<ZerothOrderStep> Log => _log;

    /// <summary>Elements whose bits were kept to put them back exactly at the last step, most over its perturbations.</summary>
    public long LastKeptElements { get; private set; }

    /// <summary>
    /// One step: for each perturbation, the loss at θ + εz and at θ − εz (<paramref name="loss"/> runs the forward pass
    /// only; it is called under <c>no_grad</c>), the parameters put back exactly; then the update. Returns the mean of
    /// the losses evaluated. A loss that is not finite throws before the update, with the parameters as they were.
    /// </summary>
    public double Step(Func<Tensor> loss)
    {
        var (record, mean) = Estimate(loss);
        Commit(record);
        return mean;
    }

    /// <summary>
    /// The step's evaluations without its update: the projected gradients at the current weights (left as they were)
    /// and the mean loss evaluated. <see cref="Commit"/> applies it.
    /// </summary>
    internal (ZerothOrderStep Record, double MeanLoss) Estimate(Func<Tensor> loss)
    {
        if (!(LearningRate >= 0) || double.IsInfinity(LearningRate))
            throw new InvalidOperationException($"The learning rate is {LearningRate}; it must be finite and not negative.");
        long step = _log.Count;
        var projected = new double[Perturbations];
        double total = 0;
        long kept = 0;
        var masks = Masks();
        try
        {
            using (no_grad())
            {
                for (int j = 0; j < Perturbations; j++)
                {
                    ulong stream = (ulong)(step * Perturbations + j);
                    double plus = Evaluate(loss, stream, Eps, masks, ref kept), minus = Evaluate(loss, stream, -Eps, masks, ref kept);
                    if (!double.IsFinite(plus) || !double.IsFinite(minus))
                        throw new InvalidOperationException($"Zeroth-order step {step}: the loss is {plus} at θ + εz and {minus} at θ − εz; nothing was changed.");
                    projected[j] = (plus - minus) / (2 * Eps);
                    total += plus + minus;
                }
            }
            LastKeptElements = kept;
            return (new ZerothOrderStep(step, projected, LearningRate, WeightDecay), total / (2 * Perturbations));
        }
        finally
        {
            if (masks is not null) foreach (var m in masks) m?.Dispose();
        }
    }

    /// <summary>Applies an estimated step (the weights unchanged since <see cref="Estimate"/>) and logs it.</summary>
    internal void Commit(ZerothOrderStep record)
    {
        if (record.Step != _log.Count) throw new InvalidOperationException($"Step {record.Step} is not the next step ({_log.Count}).");
        var masks = Masks();
        try
        {
            Apply(record, masks);
        }
        finally
        {
            if (masks is not null) foreach (var m in masks) m?.Dispose();
        }
        _log.Add(record);
    }

    /// <summary>The parameters trained zeroth-order.</summary>
    internal IReadOnlyList<Parameter> Parameters => _parameters;

    double Evaluate(Func<Tensor> loss, ulong stream, double scale, Tensor?[]? masks, ref long kept)
    {
        using var moved = new Perturbation(_parameters, _offsets, Seed, stream, scale, masks);
        kept = Math.Max(kept, moved.KeptElements);
        try
        {
            using var value = loss();
            return value.to(ScalarType.Float64).item<double>();
        }
        finally
        {
            moved.Restore();
        }
    }

    /// <summary>The update of one logged step: ZO-SGD in place, or the estimate handed to the inner optimizer.</summary>
    void Apply(ZerothOrderStep record, Tensor?[]? masks)
    {
        using var kept = KeptScalars.Rent();
        int q = record.ProjectedGradients.Length;
        using var _ = no_grad();
        for (int k = 0; k < _parameters.Length; k++)
        {
            using var scope = NewDisposeScope();
            var p = _parameters[k];
            Tensor? estimate = null;
            for (int j = 0; j < q; j++)
            {
                var z = Noise(Seed, (ulong)(record.Step * q + j), p, _offsets[k], masks?[k]);
                double weight = record.ProjectedGradients[j] / q;
                if (_inner is null)
                {
                    // A zero factor is skipped, not applied: adding 0 * z would turn -0 weights into +0.
                    double decay = record.LearningRate * record.WeightDecay, alpha = -record.LearningRate * weight;
                    if (j == 0 && decay != 0) p.mul_(kept[1 - decay]);
                    if (alpha != 0) p.add_(z, alpha: kept[alpha]);
                }
                else estimate = estimate is null ? z.mul(kept[weight]) : estimate.add_(z, alpha: kept[weight]);
            }
            if (estimate is not null) p.grad = estimate.MoveToOuterDisposeScope();
        }
        if (_inner is null) return;
        _inner.step();
        foreach (var p in _parameters) p.grad = null;
    }

    /// <summary>The run so far: the settings and every step, what <see cref="SaveLog"/> writes and <see cref="Replay"/> redoes.</summary>
    public ZerothOrderLog Record => new(Seed, Eps, Perturbations, Sparsity, LearningRate, WeightDecay, _log.ToArray());

    /// <summary>
    /// Redoes <paramref name="log"/> on <paramref name="parameters"/> (at the weights training started from) — for a run
    /// with an inner optimizer, with a fresh one like it — and returns the optimizer positioned after the log, so that
    /// training goes on exactly as it would have without the interruption (the next step draws the next stream). The
    /// parameters end as training left them, bit for bit on the same device.
    /// </summary>
    public static ZerothOrderOptimizer Replay(IEnumerable<Parameter> parameters, ZerothOrderLog log, DeclaredOptimizer? inner = null)
    {
        ArgumentNullException.ThrowIfNull(log);
        var replay = new ZerothOrderOptimizer(parameters, log.LearningRate, log.Eps, log.Perturbations, log.WeightDecay, log.Seed, inner, log.Sparsity);
        for (int i = 0; i < log.Steps.Count; i++)
        {
            var step = log.Steps[i];
            if (step.Step != i || step.ProjectedGradients.Length != replay.Perturbations)
                throw new InvalidDataException($"The log's step {i} is numbered {step.Step} with {step.ProjectedGradients.Length} perturbations: it is not one run's log.");
            replay.Commit(step);
        }
        return replay;
    }

    const string Tag = "OptDsl.ZerothOrderLog";

    /// <summary>Saves <see cref="Record"/> (the settings and a few bytes per step) as a checksummed file, written atomically.</summary>
    public void SaveLog(string path)
    {
        var record = Record;
        CheckpointFile.Write(path, writer =>
        {
            writer.Write(Tag);
            writer.Write(record.Seed);
            writer.Write(record.Eps);
            writer.Write(record.Perturbations);
            writer.Write(record.Sparsity);
            writer.Write(record.LearningRate);
            writer.Write(record.WeightDecay);
            writer.Write(record.Steps.Count);
            foreach (var s in record.Steps)
            {
                writer.Write(s.LearningRate);
                writer.Write(s.WeightDecay);
                foreach (var pg in s.ProjectedGradients) writer.Write(pg);
            }
        });
    }

    /// <summary>Reads a log saved by <see cref="SaveLog"/>, checked whole before anything is returned.</summary>
    public static ZerothOrderLog LoadLog(string path)
    {
        ZerothOrderLog? log = null;
        CheckpointFile.Load(path, reader =>
        {
            CheckpointFile.ExpectTag(reader.ReadString(), Tag, path);
            ulong seed = reader.ReadUInt64();
            double eps = reader.ReadDouble();
            int q = reader.ReadInt32();
            double sparsity = reader.ReadDouble(), lr = reader.ReadDouble(), wd = reader.ReadDouble();
            int count = reader.ReadInt32();
            if (q < 1 || count < 0 || !(sparsity >= 0 && sparsity < 1) || !(eps > 0))
                throw new InvalidDataException($"{path} holds {count} steps of {q} perturbations at sparsity {sparsity} and ε {eps}: it is damaged.");
            var steps = new ZerothOrderStep[count];
            for (int i = 0; i < count; i++)
            {
                double stepLr = reader.ReadDouble(), stepWd = reader.ReadDouble();
                var pgs = new double[q];
                for (int j = 0; j < q; j++) pgs[j] = reader.ReadDouble();
                steps[i] = new ZerothOrderStep(i, pgs, stepLr, stepWd);
            }
            log = new ZerothOrderLog(seed, eps, q, sparsity, lr, wd, steps);
            return static () => { };
        });
        return log!;
    }

    /// <summary>Nothing to free beyond the log; the inner optimizer belongs to the caller.</summary>
    public void Dispose() { }
}
