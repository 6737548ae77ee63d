using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using OptDsl.Runtime.Core;
using OptDsl.Runtime.Services.Checkpoints;
using OptDsl.Runtime.Services.Native;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Composition;

/// <summary>
/// An optimizer made of an inner optimizer and stages around its update, as in optax's <c>chain</c>: at each
/// update every stage is checked, then the stages' gradient work runs in order, then the inner update, then the
/// stages' weight work in order. It is a TorchSharp optimizer: <c>step()</c>, <c>zero_grad()</c> and TorchSharp's LR
/// schedulers (through <see cref="ParamGroups"/>) work as usual. It owns the inner optimizer and the stages.
/// </summary>
public sealed class ComposedOptimizer : optim.Optimizer, IStateMemory, ICheckpointed
{
    static ComposedOptimizer() => TorchSharpNative.EnsureLoadable();

    readonly OptimizerStage[] _stages;
    readonly AccumulateGradients? _accumulate;
    // The last stage that overrides BeforeUpdate: the one that may hand its gradient factor to the update.
    readonly int _lastGradientStage;

    /// <summary>Composes <paramref name="stages"/> around <paramref name="inner"/>; see <see cref="Composition.Compose"/>.</summary>
    public ComposedOptimizer(optim.Optimizer inner, params OptimizerStage[] stages) : base(IntPtr.Zero)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(stages);
        if (inner is ComposedOptimizer)
            throw new ArgumentException("The inner optimizer is already composed; give all the stages to one Compose call.", nameof(inner));
        for (int i = 0; i < stages.Length; i++)
        {
            var stage = stages[i] ?? throw new ArgumentException($"Stage {i} is null.", nameof(stages));
            if (stage.Owner is not null || Array.IndexOf(stages, stage) != i)
                throw new ArgumentException($"Stage {i} ({stage.Name}) already belongs to a composed optimizer; create one stage per optimizer.", nameof(stages));
            if (stage is AccumulateGradients accumulate)
            {
                if (i != 0)
                    throw new ArgumentException(
                        $"AccumulateGradients is stage {i}; it must be the first stage, because backward() sums the micro-steps' gradients before any stage sees them.",
                        nameof(stages));
                _accumulate = accumulate;
            }
        }
        foreach (var stage in stages) stage.Owner = this;
        Inner = inner;
        _stages = stages;
        _lastGradientStage = Array.FindLastIndex(stages, ActsOnGradients);
    }

    /// <summary>The optimizer whose update the stages surround.</summary>
    public optim.Optimizer Inner { get; }

    /// <summary>The stages, in the order they run.</summary>
    public IReadOnlyList<OptimizerStage> Stages => _stages;

    /// <summary>The first stage of type <typeparamref name="T"/>; throws if there is none.</summary>
    public T Stage<T>() where T : OptimizerStage =>
        _stages.OfType<T>().FirstOrDefault() ?? throw new InvalidOperationException($"This optimizer has no {typeof(T).Name} stage.");

    readonly WrapperCheckpoint _checkpoint = new(CheckpointFile.ComposedTag);

    /// <summary>
    /// Updates made (micro-steps that only accumulated gradients do not count, nor do skipped updates or ones in which no
    /// parameter has a gradient); kept in checkpoints.
    /// </summary>
    public long StepCount => _checkpoint.StepCount;

    /// <inheritdoc/>
    /// <remarks>The inner optimizer's state and what the stages keep (slow weights, averages).</remarks>
    public long StateBytes => Inner.StateBytes() + _stages.Sum(s => s.StateBytes);

    /// <summary>The inner optimizer's parameter groups, so TorchSharp's LR schedulers drive its learning rates.</summary>
    public override IEnumerable<optim.ILearningRateController> ParamGroups => Inner.ParamGroups;

    /// <inheritdoc/>
    public override IEnumerable<Parameter> parameters() => Inner.parameters();

    /// <inheritdoc/>
    public override void add_param_group(ParamGroup param_group) => Inner.add_param_group(param_group);

    /// <summary>Zeroes the gradients, except within an accumulation window, where they keep summing.</summary>
    public override void zero_grad()
    {
        if (_accumulate is { IsMidWindow: true }) return;
        Inner.zero_grad();
    }

    /// <summary>
    /// Evaluates <paramref name="closure"/> (if any), then makes one update — or, within an accumulation window, only
    /// counts the micro-step. Every stage and the inner optimizer check everything before anything changes.
    /// </summary>
    public override Tensor step(Func<Tensor>? closure = null)
    {
        foreach (var stage in _stages)
            if (stage is WeightAverage { IsSwappedIn: true } average)
                throw new InvalidOperationException(
                    $"{average.Name}'s averaged weights are swapped into the model; dispose the scope SwapIn() returned before training on.");
        return Closures.StepWith(closure, Update);
    }

    /// <summary>One micro-step: only counted within an accumulation window, else checks, gradient stages, update, weight stages.</summary>
    void Update()
    {
        if (_accumulate is not null && !_accumulate.CompletesWindow()) return;
        var context = new StageContext(Inner.parameters().ToList(), StepCount);
        foreach (var stage in _stages) stage.Check(context);
        bool updated = true;
        if (Inner is IAtomicOptimizer atomic)
        {
            updated = atomic.RunStep(() =>
            {
                BeforeUpdate(context, atomic.ScaleGradientsInUpdate);
                return true;
            }) == StepOutcome.Updated;
        }
        else
        {
            BeforeUpdate(context, null);
            Inner.step();
        }
        // A skipped update (non-finite gradients), or none (no gradient at all: then the gradient stages did not run
        // either), is no update for the weight stages; the window still ends.
        if (updated)
        {
            foreach (var stage in _stages) stage.AfterUpdate(context);
            _checkpoint.StepCount++;
        }
        _accumulate?.EndWindow();
    }

    /// <summary>
    /// The gradient stages, in order; the last one that acts on gradients may hand a factor to the update
    /// (<paramref name="scaleInUpdate"/>) instead of writing the gradients, since no later stage reads them.
    /// </summary>
    void BeforeUpdate(StageContext context, Func<Tensor, bool>? scaleInUpdate)
    {
        for (int i = 0; i < _stages.Length; i++)
            _stages[i].BeforeUpdate(i == _lastGradientStage && scaleInUpdate is not null ? context with { ScaleInUpdate = scaleInUpdate } : context);
    }

    static bool ActsOnGradients(OptimizerStage stage) =>
        stage.GetType().GetMethod(nameof(OptimizerStage.BeforeUpdate), System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic)!
            .DeclaringType != typeof(OptimizerStage);

    /// <summary>Moves the inner optimizer's state and every stage's tensors to <paramref name="device"/>.</summary>
    public void to(Device device)
    {
        if (Inner is OptimizerHelper helper) helper.to(device);
        foreach (var stage in _stages) stage.MoveTo(device);
    }

    /// <summary>
    /// Saves the whole recipe — the inner optimizer (hyperparameters, state, schedule positions), every stage's state
    /// and the step and micro-step counters — as one versioned, checksummed file, written atomically. Needs an inner
    /// optimizer declared with OptDsl.
    /// </summary>
    public void SaveCheckpoint(string path)
    {
        var declared = DeclaredInner();
        if (_accumulate is { IsMidWindow: true } a)
            throw new InvalidOperationException(
                $"{a.Pending} of {a.MicroSteps} micro-steps of an accumulation window are taken, and their gradients live in the parameters, not in the optimizer; save after the update.");
        _checkpoint.Save(path, writer => writer.Write(Fingerprint()), writer =>
        {
            writer.Write(_accumulate?.MicroSteps ?? 1);
            declared.WriteCheckpoint(writer);
            foreach (var stage in _stages) stage.WriteState(writer);
        });
    }

    /// <summary>
    /// Loads a checkpoint written by <see cref="SaveCheckpoint"/> into an optimizer composed the same way. The whole
    /// file is read and checked before anything is replaced; a mismatch or a corrupt file throws
    /// <see cref="InvalidDataException"/> and leaves the optimizer and its stages as they were.
    /// </summary>
    public void LoadCheckpoint(string path)
    {
        var declared = DeclaredInner();
        _checkpoint.Load(path, reader =>
        {
            var fingerprint = reader.ReadString();
            if (fingerprint != Fingerprint())
                throw new InvalidDataException($"{path} is a checkpoint of a recipe with stages [{fingerprint}]; this one has [{Fingerprint()}].");
        }, (reader, stepCount) =>
        {
            int microSteps = reader.ReadInt32();
            if (stepCount < 0 || microSteps < 1)
                throw new InvalidDataException($"{path} is corrupt (step {stepCount}, {microSteps} micro-steps per update).");
            if (microSteps != (_accumulate?.MicroSteps ?? 1))
                throw new InvalidDataException($"{path} accumulates gradients over {microSteps} micro-steps; this optimizer over {_accumulate?.MicroSteps ?? 1}.");
            var commits = new List<Action> { declared.StageCheckpoint(reader, path) };
            var parameters = declared.AllParameters.ToList();
            foreach (var stage in _stages)
            {
                try
                {
                    commits.Add(stage.ReadState(reader, parameters));
                }
                catch (InvalidDataException e)
                {
                    throw new InvalidDataException($"{path}: {e.Message}", e);
                }
            }
            return () =>
            {
                foreach (var c in commits) c();
                _accumulate?.EndWindow();
            };
        });
    }

    IAtomicOptimizer DeclaredInner() =>
        Inner as IAtomicOptimizer ?? throw new NotSupportedException(
            $"Checkpoints of a composed optimizer need an inner optimizer declared with OptDsl (or routed among such); {Inner.GetType().Name} saves with its own save_state_dict.");


    string Fingerprint() => string.Join(",", _stages.Select(s => s.Name));

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            // An average still swapped in goes back out first: the model keeps its trained weights.
            foreach (var stage in _stages) (stage as WeightAverage)?.SwapOut();
            foreach (var stage in _stages) stage.Dispose();
            Inner.Dispose();
        }
        base.Dispose(disposing);
    }
}
