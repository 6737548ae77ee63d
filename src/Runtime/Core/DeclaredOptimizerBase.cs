using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using OptDsl.Runtime.Services.Checkpoints;
using OptDsl.Runtime.Services.Native;
using OptDsl.Runtime.Services.Schedules;
using TorchSharp.Modules;

namespace OptDsl.Runtime.Core;

/// <summary>
/// What every generated optimizer offers without its generated types: the declaration's table and each parameter
/// group's hyperparameters by name (for schedules, tools and tests that handle optimizers generically).
/// </summary>
public abstract class DeclaredOptimizer : OptimizerHelper, Composition.IAtomicOptimizer, IStateMemory, ICheckpointed
{
    static DeclaredOptimizer() => TorchSharpNative.EnsureLoadable();

    /// <summary>The declaration's table of hyperparameters and state.</summary>
    public abstract OptimizerSpec Spec { get; }

    /// <summary>The number of parameter groups.</summary>
    public int GroupCount => _parameter_groups.Count;

    /// <summary>The hyperparameters of parameter group <paramref name="group"/>; changes apply from the next step.</summary>
    public abstract DeclaredOptions OptionsOf(int group);

    /// <summary>Which generated code updates the parameters; <see cref="UpdateBackend.Auto"/> by default.</summary>
    public UpdateBackend Backend { get; set; } = UpdateBackend.Auto;

    /// <summary>
    /// How bfloat16 parameters take their float32 update: <see cref="HalfPrecisionRounding.Nearest"/> by default, or
    /// <see cref="HalfPrecisionRounding.Stochastic"/> (which float16 parameters refuse: their steps are not a truncation
    /// of float32's bits), or <see cref="HalfPrecisionRounding.Kahan"/> (bfloat16 and float16). Applies from the next step;
    /// leaving Kahan frees the compensation buffers (what they held, under half a step a weight, is dropped).
    /// </summary>
    public HalfPrecisionRounding Rounding { get; set; } = HalfPrecisionRounding.Nearest;

    /// <summary>The seed of stochastic rounding's draws; with the step and the parameter's place it fixes every bit.</summary>
    public ulong RoundingSeed { get; set; }

    /// <summary>Where this optimizer's parameters start in stochastic rounding's count (a route's first parameter among all routes').</summary>
    internal int RoundingOrdinalOffset { get; set; }

    /// <summary>What the fused CUDA path did: how its kernel was built, or why it is not used.</summary>
    public abstract string FusedStatus { get; }

    /// <summary>
    /// Steps taken (<c>step()</c> calls that updated parameters): the clock of the hyperparameter schedules, kept in
    /// checkpoints. A step that throws, is skipped, or finds no gradient at all is not counted.
    /// </summary>
    public long StepCount { get; protected set; }

    readonly List<(int Hyper, Schedule Schedule, int? Group)> _schedules = new();

    /// <summary>
    /// Drives hyperparameter <paramref name="hyperparameter"/> (any declared one but a flag: the learning rate, a beta,
    /// the weight decay...) by <paramref name="schedule"/>, in every group or only in <paramref name="group"/>. Before each
    /// step the schedule's value at <see cref="StepCount"/> is checked against the declared range and set; a step that
    /// does not update (it throws, is skipped, or has no gradient) puts the values back. Replaces an earlier schedule
    /// of the same hyperparameter and group.
    /// </summary>
    public DeclaredOptimizer Schedule(string hyperparameter, Schedule schedule, int? group = null)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        int index = Spec.HyperIndex(hyperparameter);
        if (Spec.Hypers[index].Kind == HyperKind.Flag)
            throw new ArgumentException($"{Spec.Name}: '{hyperparameter}' is a flag; only numeric hyperparameters can follow a schedule.", nameof(hyperparameter));
        if (group is { } g && (g < 0 || g >= GroupCount))
            throw new ArgumentOutOfRangeException(nameof(group), $"{Spec.Name} has {GroupCount} parameter groups; there is no group {g}.");
        _schedules.RemoveAll(s => s.Hyper == index && s.Group == group);
        _schedules.Add((index, schedule, group));
        return this;
    }

    /// <summary>
    /// Saves the whole optimizer — every group's hyperparameters, every parameter's state, <see cref="StepCount"/> (so
    /// schedules resume where they were) — to <paramref name="path"/>: a versioned file with a checksum, written to a
    /// temporary file and renamed into place. Parameters themselves are the model's to save.
    /// </summary>
    public void SaveCheckpoint(string path) => CheckpointFile.Write(path, WriteCheckpoint);

    /// <summary>Writes this optimizer's part of a checkpoint (composed optimizers add theirs after it).</summary>
    internal void WriteCheckpoint(BinaryWriter writer)
    {
        writer.Write(Spec.Name);
        writer.Write(Fingerprint());
        writer.Write(StepCount);
        WriteLayout(writer);
        WriteCheckpointBody(writer);
    }

    /// <summary>
    /// Loads a checkpoint written by <see cref="SaveCheckpoint"/>. The file is read and checked completely — format,
    /// checksum, optimizer, declaration, parameter groups and shapes, every value — before anything is replaced; a
    /// mismatch or a corrupt file throws <see cref="InvalidDataException"/> and leaves the optimizer as it was.
    /// Continuing from a checkpoint repeats the uninterrupted run bit for bit on the CPU.
    /// </summary>
    public void LoadCheckpoint(string path)
    {
        CheckpointFile.Load(path, reader => StageCheckpoint(reader, path));
    }

    /// <summary>Reads and checks this optimizer's part of a checkpoint; returns what puts it in place.</summary>
    internal Action StageCheckpoint(BinaryReader reader, string path)
    {
        ThrowIfLocked();
        var name = reader.ReadString();
        if (name is CheckpointFile.ComposedTag or CheckpointFile.RoutedTag) CheckpointFile.ExpectTag(name, Spec.Name, path);
        if (name != Spec.Name)
            throw new InvalidDataException($"{path} is a checkpoint of {name}; this optimizer is {Spec.Name}.");
        if (reader.ReadString() != Fingerprint())
            throw new InvalidDataException($"{path} was written by a {name} declared with other hyperparameters or state.");
        long stepCount = reader.ReadInt64();
        CheckLayout(reader, path);
        var commit = StageCheckpointBody(reader);
        return () =>
        {
            commit();
            StepCount = stepCount;
        };
    }

    /// <summary>
    /// One step under <c>no_grad</c>: schedules, then every check (the gradients' finiteness too, unless
    /// <see cref="NonFiniteGradients"/> is <see cref="Core.NonFiniteGradients.Update"/>), then
    /// <paramref name="beforeUpdate"/> (a composed optimizer's gradient stages, or the next routed optimizer's step),
    /// then the update. Anything that throws before the update, a skip, <paramref name="beforeUpdate"/> returning
    /// false, or no parameter having a gradient (then <paramref name="beforeUpdate"/> is not called) leaves
    /// parameters, state, options and <see cref="StepCount"/> as they were.
    /// </summary>
    internal abstract StepOutcome RunStep(Func<bool>? beforeUpdate);

    /// <summary>What a step does when a gradient holds NaN or ±infinity; <see cref="Core.NonFiniteGradients.Update"/> by default.</summary>
    public NonFiniteGradients NonFiniteGradients { get; set; } = NonFiniteGradients.Update;

    /// <summary>Steps skipped for non-finite gradients under <see cref="Core.NonFiniteGradients.Skip"/> (not kept in checkpoints).</summary>
    public long SkippedSteps { get; protected set; }

    /// <summary>
    /// Why steps and checkpoint loads are refused right now (say, while evaluation weights are swapped in), or null.
    /// </summary>
    protected virtual string? Locked => null;

    /// <summary>Throws when <see cref="Locked"/> says steps and loads are refused now.</summary>
    protected void ThrowIfLocked()
    {
        if (Locked is { } why) throw new InvalidOperationException($"{Spec.Name}: {why}");
    }

    /// <inheritdoc/>
    public abstract long StateBytes { get; }

    /// <summary>
    /// Whether the rule reduces over every tensor of a step (<c>Reduce.GlobalSum</c> and kin), so that a step over a
    /// subset of the parameters — one shard of them — is not the same rule.
    /// </summary>
    public abstract bool ReducesAcrossTensors { get; }

    /// <summary>Whether the declaration has a <c>[Refresh]</c> rule that <see cref="Refresh"/> runs.</summary>
    public abstract bool CanRefresh { get; }

    /// <summary>
    /// Runs the declaration's <c>[Refresh]</c> rule on every parameter: with <paramref name="estimates"/> (one per
    /// parameter, in the order of the groups) or, when null, with each parameter's gradient (parameters without one
    /// are skipped). Estimates are checked first (shape, device, finiteness); an error leaves all state as it was.
    /// Sophia calls it every k steps with a curvature estimate (see <c>Curvature</c>).
    /// </summary>
    /// <exception cref="NotSupportedException">The declaration has no refresh rule.</exception>
    public abstract void Refresh(IReadOnlyList<TorchSharp.torch.Tensor>? estimates = null);

    /// <summary>How many times <see cref="Refresh"/> has run (not kept in checkpoints).</summary>
    public long RefreshCount { get; protected set; }

    /// <summary>The parameters of every group, in order.</summary>
    internal IEnumerable<Parameter> AllParameters => _parameter_groups.SelectMany(g => g.Parameters);

    /// <summary>
    /// Multiplies every gradient of the update under way by <paramref name="coefficient"/> (a 0-d tensor) as the update
    /// reads it, without writing the gradients: the fused CUDA kernel reads the factor on the device, other paths
    /// scale the gradient in place first. Only from inside <see cref="RunStep"/>'s <c>beforeUpdate</c>.
    /// </summary>
    internal abstract void ScaleGradientsInUpdate(TorchSharp.torch.Tensor coefficient);

    StepOutcome Composition.IAtomicOptimizer.RunStep(Func<bool>? beforeUpdate) => RunStep(beforeUpdate);
    bool Composition.IAtomicOptimizer.ScaleGradientsInUpdate(TorchSharp.torch.Tensor coefficient)
    {
        ScaleGradientsInUpdate(coefficient);
        return true;
    }
    void Composition.IAtomicOptimizer.WriteCheckpoint(BinaryWriter writer) => WriteCheckpoint(writer);
    Action Composition.IAtomicOptimizer.StageCheckpoint(BinaryReader reader, string path) => StageCheckpoint(reader, path);
    IEnumerable<Parameter> Composition.IAtomicOptimizer.AllParameters => AllParameters;

    /// <summary>Writes every group's options, then every parameter's state, in group order.</summary>
    protected abstract void WriteCheckpointBody(BinaryWriter writer);

    /// <summary>Reads and checks the options and states into new objects; returns what puts them in place.</summary>
    protected abstract Action StageCheckpointBody(BinaryReader reader);

    /// <summary>What the declaration looks like to a checkpoint: hyperparameters, state and scalar state, by name.</summary>
    string Fingerprint() =>
        string.Join(",", Spec.Hypers.Select(h => $"{h.Name}:{h.Kind}")) + "|" + string.Join(",", Spec.States.Select(s => s.Name))
        + "|" + string.Join(",", Spec.ScalarStates.Select(s => s.Name));

    void WriteLayout(BinaryWriter writer)
    {
        writer.Write(GroupCount);
        foreach (var group in _parameter_groups)
        {
            var parameters = group.Parameters.ToList();
            writer.Write(parameters.Count);
            foreach (var p in parameters)
            {
                writer.Write(p.shape.Length);
                foreach (var d in p.shape) writer.Write(d);
            }
        }
    }

    void CheckLayout(BinaryReader reader, string path)
    {
        int groups = reader.ReadInt32();
        if (groups != GroupCount)
            throw new InvalidDataException($"{path} has {groups} parameter groups; this optimizer has {GroupCount}.");
        for (int g = 0; g < groups; g++)
        {
            var parameters = _parameter_groups[g].Parameters.ToList();
            int count = reader.ReadInt32();
            if (count != parameters.Count)
                throw new InvalidDataException($"{path} has {count} parameters in group {g}; this optimizer has {parameters.Count}.");
            for (int k = 0; k < count; k++)
            {
                int rank = reader.ReadInt32();
                if (rank < 0 || rank > 64) throw new InvalidDataException($"{path} is corrupt (a parameter of rank {rank}).");
                var shape = new long[rank];
                for (int d = 0; d < rank; d++) shape[d] = reader.ReadInt64();
                if (!shape.AsSpan().SequenceEqual(parameters[k].shape))
                    throw new InvalidDataException(
                        $"{path}: parameter {k} of group {g} has shape [{string.Join(", ", shape)}] there and [{string.Join(", ", parameters[k].shape)}] here.");
            }
        }
    }

    // What the schedules replaced at the step under way, in the order they set it, for RestoreScheduled. Grown when
    // schedules or groups are added, so that a step allocates nothing.
    (DeclaredOptions Options, int Hyper, double? Value)[] _replaced = Array.Empty<(DeclaredOptions, int, double?)>();
    int _replacedCount;

    /// <summary>
    /// Sets every scheduled hyperparameter to its value at <see cref="StepCount"/>, after checking them all, and
    /// remembers what it replaced for <see cref="RestoreScheduled"/>.
    /// </summary>
    protected void ApplySchedules()
    {
        _replacedCount = 0;
        if (_schedules.Count == 0) return;
        Span<double> values = stackalloc double[_schedules.Count];
        int replacing = 0;
        for (int i = 0; i < _schedules.Count; i++)
        {
            var (hyper, schedule, group) = _schedules[i];
            values[i] = schedule.At(StepCount);
            DeclaredOptions.Check(Spec, hyper, values[i], $"{(group is { } g ? $"parameter group {g}" : "every group")} at step {StepCount} of its schedule");
            replacing += group is null ? GroupCount : 1;
        }
        if (_replaced.Length < replacing) _replaced = new (DeclaredOptions, int, double?)[replacing];
        for (int i = 0; i < _schedules.Count; i++)
        {
            var (hyper, _, group) = _schedules[i];
            if (group is { } g) Replace(OptionsOf(g), hyper, values[i]);
            else for (int k = 0; k < GroupCount; k++) Replace(OptionsOf(k), hyper, values[i]);
        }
    }

    void Replace(DeclaredOptions options, int hyper, double value)
    {
        _replaced[_replacedCount++] = (options, hyper, options.Get(hyper));
        options.Set(hyper, value);
    }

    /// <summary>
    /// Puts back the values <see cref="ApplySchedules"/> replaced at this step, for a step that does not update: so a
    /// step that throws or is skipped leaves the options — and so checkpoints — exactly as they were. (Not protected:
    /// generated code has no use for it, and a protected member would be one more name declarations could not use.)
    /// </summary>
    private protected void RestoreScheduled()
    {
        // Backwards, so that a value set twice (by a schedule of every group, then by one of that group) ends as it was.
        while (_replacedCount > 0)
        {
            var (options, hyper, value) = _replaced[--_replacedCount];
            options.Set(hyper, value);
        }
    }
}
