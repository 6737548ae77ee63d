using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Composition;
using OptDsl.Runtime.Core;
using OptDsl.Runtime.Services;
using OptDsl.Runtime.Services.Checkpoints;
using OptDsl.Runtime.Services.Random;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Training.Privacy;

/// <summary>
/// DP-SGD around any optimizer (Abadi et al., 2016): each example's gradient is clipped to norm at most C (the norm over
/// every parameter), the clipped gradients are summed, Gaussian noise of standard deviation σC is added once per step,
/// and the sum divided by the batch size is the inner optimizer's gradient — DP-SGD, DP-Adam, DP-AdamW by the choice of
/// <c>inner</c>. Two ways to the per-example norms: one backward pass per example (micro-batches of one, any module), or
/// ghost clipping (<see cref="GhostClipping"/>: one batched forward, a backward to the layers' outputs for the norms and
/// one for the clipped sum). The noise comes from <see cref="CounterRandomTensors"/> under <c>seed</c>: the same on every
/// device, and a run can be repeated. <see cref="RdpAccountant"/> turns (q, σ, steps) into ε.
/// <para>
/// With <c>errorFeedbackClip</c> C₂ it is DiceSGD (Zhang, Bu, Wu and Hong, 2024): an error state e collects what
/// clipping removed, <c>e ← e + ḡ − v</c> with <c>v = Σ clip(g_i, C)/B + clip(e, C₂)</c>, and v plus the noise is the
/// gradient, so clipping leaves no bias in the long run. Its privacy is not DP-SGD's: the hidden state e depends on
/// unclipped gradients, and the authors' analysis asks for more noise at the same ε. <see cref="RdpAccountant"/> does not
/// compute that bound; take σ from their theorem.
/// </para>
/// </summary>
public sealed class DpSgd : ICheckpointed
{
    readonly WrapperCheckpoint _checkpoint = new("OptDsl.DpSgd");
    readonly optim.Optimizer _inner;
    Tensor[]? _error;

    /// <param name="inner">The optimizer that steps with the privatised gradient.</param>
    /// <param name="maxGradNorm">C, the clipping norm of each example's gradient.</param>
    /// <param name="noiseMultiplier">σ: the noise's standard deviation is σC.</param>
    /// <param name="seed">The noise's seed.</param>
    /// <param name="errorFeedbackClip">C₂ ≥ C, the clipping norm of the error state: DiceSGD; null for DP-SGD.</param>
    public DpSgd(optim.Optimizer inner, double maxGradNorm, double noiseMultiplier, ulong seed, double? errorFeedbackClip = null)
    {
        _inner = inner ?? throw new ArgumentNullException(nameof(inner));
        if (!(maxGradNorm > 0) || double.IsInfinity(maxGradNorm)) throw new ArgumentOutOfRangeException(nameof(maxGradNorm), maxGradNorm, "C must be positive and finite.");
        if (!(noiseMultiplier >= 0) || double.IsInfinity(noiseMultiplier)) throw new ArgumentOutOfRangeException(nameof(noiseMultiplier), noiseMultiplier, "σ must be finite and not negative.");
        if (errorFeedbackClip is { } c2 && (!(c2 >= maxGradNorm) || double.IsInfinity(c2)))
            throw new ArgumentOutOfRangeException(nameof(errorFeedbackClip), c2, $"C₂ must be finite and at least C = {maxGradNorm} (DiceSGD's condition).");
        (MaxGradNorm, NoiseMultiplier, Seed, ErrorFeedbackClip) = (maxGradNorm, noiseMultiplier, seed, errorFeedbackClip);
    }

    /// <summary>C.</summary>
    public double MaxGradNorm { get; }
    /// <summary>σ.</summary>
    public double NoiseMultiplier { get; }
    /// <summary>The noise's seed.</summary>
    public ulong Seed { get; }
    /// <summary>C₂ of the error-feedback variant, or null.</summary>
    public double? ErrorFeedbackClip { get; }
    /// <summary>Steps taken (the noise's stream follows it).</summary>
    public long StepCount
    {
        get => _checkpoint.StepCount;
        set => _checkpoint.StepCount = value;
    }
    /// <summary>Examples of the last step whose gradient was clipped.</summary>
    public int LastClipped { get; private set; }
    /// <summary>The error-feedback state, one tensor per parameter (null before the first step or without error feedback).</summary>
    public IReadOnlyList<Tensor>? ErrorState => _error;

    /// <summary>The noise stream of parameter <paramref name="index"/> at step <paramref name="step"/>.</summary>
    internal static ulong NoiseStream(long step, int index) => ((ulong)step << 20) | (uint)index;

    /// <summary>
    /// One step over <paramref name="batchSize"/> examples by micro-batches of one (Poisson sampling may draw none: then
    /// the step is noise alone): <paramref name="exampleLoss"/>(i) computes example i's loss (a scalar, with its graph);
    /// this backpropagates each, clips, sums, adds the noise and steps the inner optimizer. Returns the mean loss. A
    /// non-finite example gradient throws before anything is changed.
    /// </summary>
    /// <param name="batchSize">Examples in this step's batch.</param>
    /// <param name="exampleLoss">Computes example i's loss.</param>
    /// <param name="normalizer">What the noised sum is divided by: the batch size by default; under Poisson sampling the
    /// expected batch size, so that the divisor reveals nothing about the batch.</param>
    public double Step(int batchSize, Func<int, Tensor> exampleLoss, double? normalizer = null)
    {
        ArgumentNullException.ThrowIfNull(exampleLoss);
        if (batchSize < 0) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "The batch size cannot be negative.");
        double divisor = Divisor(normalizer ?? batchSize);
        var ps = Trainable();
        var sums = Zeros(ps);
        var raw = ErrorFeedbackClip is null ? null : Zeros(ps);
        // Per-example norms and losses stay on the device: one host read per step, after the loop.
        var norms = new List<Tensor>(batchSize);
        var losses = new List<Tensor>(batchSize);
        Prepared prepared;
        try
        {
            for (int i = 0; i < batchSize; i++)
            {
                _inner.zero_grad();
                using var scope = NewDisposeScope();
                Tensor loss;
                using (enable_grad())
                {
                    loss = exampleLoss(i);
                    if (loss.NumberOfElements != 1) throw new ArgumentException($"Example {i}'s loss has {loss.NumberOfElements} elements; it must be a scalar.");
                    loss.backward();
                }
                using var noGrad = no_grad();
                losses.Add(loss.detach().to(ScalarType.Float64).reshape(1).MoveToOuterDisposeScope());
                var grads = Gradients(ps);
                var norm = GradientNorms.Total(grads, 2).reshape(1);
                norms.Add(norm.to(ScalarType.Float64).MoveToOuterDisposeScope());
                var factor = ClipFactor(norm);
                for (int k = 0; k < ps.Length; k++)
                {
                    sums[k].Plus_(grads[k].mul(factor.to(grads[k].dtype)));
                    raw?[k].Plus_(grads[k]);
                }
            }
            using var after = NewDisposeScope();
            using var noGradAfter = no_grad();
            var all = batchSize == 0 ? null : torch.cat(norms.ToArray());
            var lossSum = batchSize == 0 ? null : torch.cat(losses.ToArray()).sum();
            prepared = Privatize(ps, sums, raw, all, lossSum, batchSize, divisor);
        }
        finally
        {
            foreach (var t in sums.Concat(raw ?? Array.Empty<Tensor>()).Concat(norms).Concat(losses)) t.Dispose();
        }
        return Commit(prepared);
    }

    /// <summary>
    /// One step by ghost clipping: <paramref name="exampleLosses"/> runs the model's forward on the whole batch and returns
    /// each example's loss, [B] (not their mean); <paramref name="ghost"/>, built on that model, records its layers, and
    /// the per-example norms come from a backward to their outputs, the clipped sum from a second backward of the losses
    /// weighted by each example's clipping factor. The same step as the micro-batch <see cref="Step(int, Func{int, Tensor}, double?)"/>
    /// up to rounding; every trainable parameter of the optimizer must be one <paramref name="ghost"/> covers, and the
    /// model must have no other trainable ones. Returns the mean loss.
    /// </summary>
    public double Step(GhostClipping ghost, Func<Tensor> exampleLosses, double? normalizer = null)
    {
        ArgumentNullException.ThrowIfNull(ghost);
        ArgumentNullException.ThrowIfNull(exampleLosses);
        var ps = Trainable();
        CheckCoverage(ghost, ps);
        _inner.zero_grad();
        Prepared prepared;
        using (var scope = NewDisposeScope())
        {
            Tensor losses;
            GhostClipping.Recording recording;
            using (enable_grad()) (losses, recording) = ghost.Record(exampleLosses);
            using (recording) prepared = Privatize(ps, losses, recording, normalizer);
        }
        return Commit(prepared);
    }

    /// <summary>The ghost-clipping step up to the inner optimizer's: norms, clipped sum (and raw sum), noise.</summary>
    Prepared Privatize(Parameter[] ps, Tensor losses, GhostClipping.Recording recording, double? normalizer)
    {
        if (losses.dim() != 1)
            throw new ArgumentException($"The losses have shape [{string.Join(", ", losses.shape)}]; ghost clipping needs one per example, [B] (not their mean).");
        long batch = losses.shape[0];
        double divisor = Divisor(normalizer ?? batch);
        bool feedback = ErrorFeedbackClip is not null;
        if (batch == 0)
            using (no_grad())
                return Privatize(ps, Zeros(ps), feedback ? Zeros(ps) : null, null, null, 0, divisor);
        var outputs = recording.Outputs;
        var targets = feedback ? outputs.Concat(ps).ToList() : outputs;
        Tensor norms;
        Tensor[]? raw = null;
        using (enable_grad())
        {
            var grads = targets.Count == 0 ? new List<Tensor>()
                : torch.autograd.grad(new[] { losses.sum() }, targets.ToArray(), retain_graph: true, allow_unused: true).ToList();
            using (no_grad())
            {
                norms = recording.SquaredNorms(grads.Take(outputs.Count).ToList(), batch, losses.device).sqrt();
                if (feedback)
                    raw = ps.Select((p, k) => grads[outputs.Count + k] is { IsInvalid: false } g
                        ? DeclaredState.InStateType(g) : torch.zeros_like(p, dtype: DeclaredState.StateType(p.dtype))).ToArray();
            }
            // The clipped sum Σ c_i ∇L_i, as the gradient of Σ c_i L_i with the factors held constant.
            losses.mul(ClipFactor(norms).to(losses.dtype).detach()).sum().backward();
        }
        using (no_grad())
            return Privatize(ps, Gradients(ps).ToArray(), raw, norms, losses.detach().to(ScalarType.Float64).sum(), (int)batch, divisor);
    }

    /// <summary>What a step hands from its privatised gradients to the inner optimizer's step.</summary>
    readonly record struct Prepared(int Clipped, double Loss, Tensor[]? NextError);

    /// <summary>Steps the inner optimizer on the gradients set, then advances the error state and the step count.</summary>
    double Commit(Prepared prepared)
    {
        try
        {
            _inner.step();
        }
        catch
        {
            foreach (var t in prepared.NextError ?? Array.Empty<Tensor>()) t.Dispose();
            throw;
        }
        if (prepared.NextError is not null)
        {
            if (_error is not null) foreach (var t in _error) t.Dispose();
            _error = prepared.NextError;
        }
        StepCount++;
        LastClipped = prepared.Clipped;
        return prepared.Loss;
    }

    /// <summary>
    /// Checks the norms, adds the noise (and the error feedback) and sets the gradients; the inner step is the caller's.
    /// <paramref name="norms"/> [B] and <paramref name="lossSum"/> are null for an empty batch. Run inside a dispose
    /// scope: only the gradients and the next error state outlive it.
    /// </summary>
    Prepared Privatize(Parameter[] ps, Tensor[] sums, Tensor[]? raw, Tensor? norms, Tensor? lossSum, int batchSize, double divisor)
    {
        using var kept = KeptScalars.Rent();
        int clipped = 0;
        double loss = double.NaN;
        if (norms is not null)
        {
            // One host read for the step: whether every norm is finite, how many were clipped, the loss sum.
            var all = norms.to(ScalarType.Float64);
            var finite = all.isfinite();
            var summary = torch.stack(new[] { finite.all().to(ScalarType.Float64), all.gt(kept[MaxGradNorm - 1e-6]).sum().to(ScalarType.Float64), lossSum!.to(ScalarType.Float64).reshape(new long[0]) }).cpu().data<double>().ToArray();
            if (summary[0] == 0)
            {
                long bad = finite.logical_not().nonzero()[0, 0].item<long>();
                throw new InvalidOperationException($"DP-SGD: example {bad}'s gradient has norm {all[bad].item<double>()}; nothing was changed.");
            }
            clipped = (int)summary[1];
            loss = summary[2] / batchSize;
        }
        var grads = new Tensor[ps.Length];
        for (int k = 0; k < ps.Length; k++)
        {
            var noise = CounterRandomTensors.Normal(Seed, NoiseStream(StepCount, k), ps[k].shape, ps[k].device).to(sums[k].dtype);
            grads[k] = sums[k].add(noise, alpha: kept[NoiseMultiplier * MaxGradNorm]).div(kept[divisor]);
        }
        Tensor[]? nextError = null;
        if (ErrorFeedbackClip is { } c2)
        {
            // v = Σ clip(g_i)/B + clip(e, C₂); the gradient is v plus the noise; e ← e + Σ g_i/B − v.
            var error = _error ?? Zeros(ps);
            var factor = GradientNorms.Total(error.ToList(), 2).add(kept[1e-6], ScalarCalls.One).reciprocal().mul(kept[c2]).clamp_max(kept[1]);
            nextError = new Tensor[ps.Length];
            for (int k = 0; k < ps.Length; k++)
            {
                var feedback = error[k].mul(factor.to(error[k].dtype));
                grads[k] = grads[k].Plus(feedback);
                nextError[k] = error[k].Plus(raw![k].div(kept[divisor])).sub(sums[k].div(kept[divisor])).sub(feedback).DetachFromDisposeScope();
            }
        }
        for (int k = 0; k < ps.Length; k++) ps[k].grad = grads[k].to(ps[k].dtype).DetachFromDisposeScope();
        return new Prepared(clipped, loss, nextError);
    }

    Parameter[] Trainable()
    {
        var ps = _inner.parameters().Where(p => p.requires_grad).ToArray();
        if (ps.Length >= 1 << 20) throw new InvalidOperationException("DP-SGD handles fewer than 2^20 parameter tensors.");
        if (_error is not null && (_error.Length != ps.Length || ps.Where((p, k) => !p.shape.SequenceEqual(_error[k].shape)).Any()))
            throw new InvalidOperationException("DP-SGD: the optimizer's parameters changed since the error state was made.");
        return ps;
    }

    static void CheckCoverage(GhostClipping ghost, Parameter[] ps)
    {
        var covered = ghost.Parameters.Select(TensorAddress.Of).ToHashSet();
        var stepped = ps.Select(TensorAddress.Of).ToHashSet();
        if (ps.FirstOrDefault(p => !covered.Contains(TensorAddress.Of(p))) is { } missing)
            throw new ArgumentException($"The optimizer steps a parameter of shape [{string.Join(", ", missing.shape)}] that the ghost clipping's model does not have.", nameof(ghost));
        if (ghost.Parameters.FirstOrDefault(p => !stepped.Contains(TensorAddress.Of(p))) is { } extra)
            throw new ArgumentException(
                $"The model has a trainable parameter of shape [{string.Join(", ", extra.shape)}] that the optimizer does not step; its gradient would count in the norms. Set requires_grad = false on it.",
                nameof(ghost));
    }

    static double Divisor(double divisor) =>
        divisor > 0 && !double.IsInfinity(divisor) ? divisor : throw new ArgumentOutOfRangeException("normalizer", divisor, "The divisor must be positive and finite.");

    static Tensor[] Zeros(Parameter[] ps) => ps.Select(p => torch.zeros_like(p, dtype: DeclaredState.StateType(p.dtype))).ToArray();

    static List<Tensor> Gradients(Parameter[] ps) =>
        ps.Select(p => p.grad is { } g ? DeclaredState.InStateType(g) : torch.zeros_like(p, dtype: DeclaredState.StateType(p.dtype))).ToList();

    /// <summary>min(1, C / (‖g‖ + 1e-6)), elementwise.</summary>
    Tensor ClipFactor(Tensor norm)
    {
        using var kept = KeptScalars.Rent();
        return norm.add(kept[1e-6], ScalarCalls.One).reciprocal().mul(kept[MaxGradNorm]).clamp_max(kept[1]);
    }

    /// <summary>
    /// Saves the settings, <see cref="StepCount"/> and the error state (the inner optimizer saves its own) to a checksummed
    /// file, written atomically.
    /// </summary>
    public void SaveCheckpoint(string path) => _checkpoint.Save(path, writer =>
    {
        writer.Write(MaxGradNorm);
        writer.Write(NoiseMultiplier);
        writer.Write(Seed);
        writer.Write(ErrorFeedbackClip ?? -1);
    }, writer =>
    {
        writer.Write(_error?.Length ?? -1);
        foreach (var t in _error ?? Array.Empty<Tensor>()) TensorRecord.Write(writer, t);
    });

    /// <summary>
    /// Loads a checkpoint of <see cref="SaveCheckpoint"/>, read and checked whole (settings, parameter shapes, finite
    /// values) before anything changes; a mismatch or a corrupt file throws <see cref="InvalidDataException"/>.
    /// </summary>
    public void LoadCheckpoint(string path) => _checkpoint.Load(path, reader =>
    {
        var settings = (reader.ReadDouble(), reader.ReadDouble(), reader.ReadUInt64(), reader.ReadDouble());
        if (settings != (MaxGradNorm, NoiseMultiplier, Seed, ErrorFeedbackClip ?? -1))
            throw new InvalidDataException($"{path} was written by a DP-SGD with other settings (C, σ, seed, C₂) = {settings}.");
    }, (reader, step) =>
    {
        int count = reader.ReadInt32();
        if (step < 0 || count < -1) throw new InvalidDataException($"{path} is corrupt (step {step}, {count} tensors).");
        var ps = _inner.parameters().Where(p => p.requires_grad).ToArray();
        Tensor[]? loaded = null;
        if (count >= 0)
        {
            if (count != ps.Length) throw new InvalidDataException($"{path} holds error state for {count} parameters; the optimizer has {ps.Length}.");
            loaded = new Tensor[count];
            try
            {
                for (int k = 0; k < count; k++)
                {
                    loaded[k] = TensorRecord.Read(reader).to(ps[k].device).DetachFromDisposeScope();
                    if (!loaded[k].shape.SequenceEqual(ps[k].shape) || loaded[k].dtype != DeclaredState.StateType(ps[k].dtype))
                        throw new InvalidDataException($"{path}: the error state of parameter {k} is {loaded[k].dtype} [{string.Join(", ", loaded[k].shape)}]; expected {DeclaredState.StateType(ps[k].dtype)} [{string.Join(", ", ps[k].shape)}].");
                    if (!loaded[k].isfinite().all().item<bool>()) throw new InvalidDataException($"{path}: the error state of parameter {k} is not finite.");
                }
            }
            catch
            {
                foreach (var t in loaded) t?.Dispose();
                throw;
            }
        }
        return () =>
        {
            if (_error is not null) foreach (var t in _error) t.Dispose();
            _error = loaded;
        };
    });
}
