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
/// Several optimizers as one, each over the parameters routed to it (Muon for hidden matrices, AdamW for the rest):
/// one <c>step()</c>, one <c>zero_grad()</c>, one checkpoint. Build it with <see cref="Routing.Route"/>. When every
/// routed optimizer is declared with OptDsl, a step checks all of them before any parameter changes; an optimizer of
/// another kind steps after those checks, with its own guarantees. It owns the routed optimizers.
/// </summary>
public sealed class RoutedOptimizer : optim.Optimizer, IAtomicOptimizer, IStateMemory, ICheckpointed
{
    static RoutedOptimizer() => TorchSharpNative.EnsureLoadable();

    readonly Route[] _routes;

    internal RoutedOptimizer(Route[] routes) : base(IntPtr.Zero)
    {
        _routes = routes;
        // Stochastic rounding counts parameters from each optimizer's first: the routes count on from the last one's,
        // so that two routes under one seed do not draw the same bits for their k-th parameters.
        int first = 0;
        foreach (var route in routes)
        {
            if (Declared(route.Optimizer) is { } declared) declared.RoundingOrdinalOffset = first;
            first += route.ParameterNames.Count;
        }
    }

    /// <summary>The declared optimizer that <paramref name="o"/> is or wraps, if any.</summary>
    static DeclaredOptimizer? Declared(optim.Optimizer? o) => o switch
    {
        DeclaredOptimizer d => d,
        ComposedOptimizer c => Declared(c.Inner),
        ClosureOptimizer c => Declared(c.Inner),
        _ => null,
    };

    /// <summary>The routes, in the order they were given.</summary>
    public IReadOnlyList<Route> Routes => _routes;

    /// <summary>The optimizer of route <paramref name="name"/> (null when no parameter was routed there).</summary>
    public optim.Optimizer? this[string name] =>
        _routes.FirstOrDefault(r => r.Name == name)?.Optimizer
        ?? (_routes.Any(r => r.Name == name) ? null : throw new ArgumentException($"There is no route named '{name}'; the routes are {Names()}.", nameof(name)));

    readonly WrapperCheckpoint _checkpoint = new(CheckpointFile.RoutedTag);

    /// <summary>Steps that updated parameters (a step in which no route has a gradient is not counted); kept in checkpoints.</summary>
    public long StepCount => _checkpoint.StepCount;

    /// <inheritdoc/>
    public long StateBytes => Optimizers.Sum(o => o.StateBytes());

    IEnumerable<optim.Optimizer> Optimizers => _routes.Select(r => r.Optimizer).OfType<optim.Optimizer>();

    /// <summary>Every routed optimizer's parameter groups, so TorchSharp's LR schedulers drive all of them.</summary>
    public override IEnumerable<optim.ILearningRateController> ParamGroups => Optimizers.SelectMany(o => o.ParamGroups);

    /// <inheritdoc/>
    public override IEnumerable<Parameter> parameters() => Optimizers.SelectMany(o => o.parameters());

    /// <summary>Not supported: parameters are routed when the optimizer is built.</summary>
    public override void add_param_group(ParamGroup param_group) =>
        throw new NotSupportedException("A routed optimizer's parameters are routed when it is built; add the group to one route's optimizer (routed[\"name\"]).");

    /// <inheritdoc/>
    public override void zero_grad()
    {
        foreach (var o in Optimizers) o.zero_grad();
    }

    /// <summary>Evaluates <paramref name="closure"/> (if any) once, then steps every routed optimizer.</summary>
    public override Tensor step(Func<Tensor>? closure = null) => Closures.StepWith(closure, () => RunStep(null));

    /// <summary>
    /// Nests the declared optimizers' steps: each checks, then runs the next, and only the innermost runs
    /// <paramref name="beforeUpdate"/> and the other optimizers' steps; the updates then unwind. So a check that fails
    /// anywhere leaves every parameter as it was. A route without gradients updates nothing and passes on to the next;
    /// when no route has one (and every route is declared with OptDsl), nothing runs and the step is not counted.
    /// </summary>
    StepOutcome RunStep(Func<bool>? beforeUpdate)
    {
        var atomic = Optimizers.OfType<IAtomicOptimizer>().ToList();
        var others = Optimizers.Where(o => o is not IAtomicOptimizer).ToList();
        // Whether anything updates: an optimizer of another kind (it steps by its own rules), or a route with a
        // gradient — known when that route calls its hook, the next link of the chain. A route without one returns
        // NothingToUpdate without calling it, and the link is then called here instead: "passed on".
        bool updating = others.Count > 0, passedOn = true;
        // A skip anywhere (a route's non-finite gradients) unwinds as false, so no route updates.
        Func<bool> chain = () =>
        {
            updating |= !passedOn;
            if (!updating) return true;
            if (beforeUpdate is not null && !beforeUpdate()) return false;
            foreach (var o in others) o.step();
            return true;
        };
        for (int i = atomic.Count - 1; i >= 0; i--)
        {
            var (optimizer, next) = (atomic[i], chain);
            chain = () =>
            {
                updating |= !passedOn;
                passedOn = false;
                switch (optimizer.RunStep(next))
                {
                    case StepOutcome.Skipped:
                        return false;
                    case StepOutcome.NothingToUpdate:
                        passedOn = true;
                        return next();
                    default:
                        return true;
                }
            };
        }
        if (!chain()) return StepOutcome.Skipped;
        if (!updating) return StepOutcome.NothingToUpdate;
        _checkpoint.StepCount++;
        return StepOutcome.Updated;
    }

    StepOutcome IAtomicOptimizer.RunStep(Func<bool>? beforeUpdate) => RunStep(beforeUpdate);

    bool IAtomicOptimizer.ScaleGradientsInUpdate(TorchSharp.torch.Tensor coefficient)
    {
        if (Optimizers.Any(o => o is not IAtomicOptimizer)) return false;
        foreach (var o in Atomic()) o.ScaleGradientsInUpdate(coefficient);
        return true;
    }

    IEnumerable<Parameter> IAtomicOptimizer.AllParameters => Atomic().SelectMany(o => o.AllParameters);

    /// <summary>Moves every routed optimizer's state to <paramref name="device"/>.</summary>
    public void to(Device device)
    {
        foreach (var o in Optimizers.OfType<OptimizerHelper>()) o.to(device);
    }

    /// <summary>
    /// Saves every routed optimizer (all must be declared with OptDsl) and the step counter as one versioned,
    /// checksummed file, written atomically.
    /// </summary>
    public void SaveCheckpoint(string path)
    {
        var atomic = Atomic();
        _checkpoint.Save(path, WriteLayout, writer => WriteRoutes(writer, atomic));
    }

    void IAtomicOptimizer.WriteCheckpoint(BinaryWriter writer)
    {
        var atomic = Atomic();
        _checkpoint.Write(writer, WriteLayout, w => WriteRoutes(w, atomic));
    }

    void WriteLayout(BinaryWriter writer) => writer.Write(Layout());

    static void WriteRoutes(BinaryWriter writer, List<IAtomicOptimizer> atomic)
    {
        foreach (var o in atomic) o.WriteCheckpoint(writer);
    }

    /// <summary>
    /// Loads a checkpoint written by <see cref="SaveCheckpoint"/> into an optimizer routed the same way (same routes,
    /// same number of parameters on each). The whole file is checked before anything is replaced.
    /// </summary>
    public void LoadCheckpoint(string path)
    {
        var atomic = Atomic();
        _checkpoint.Load(path, reader => CheckLayout(reader, path), (reader, stepCount) => StageRoutes(reader, path, stepCount, atomic));
    }

    Action IAtomicOptimizer.StageCheckpoint(BinaryReader reader, string path)
    {
        var atomic = Atomic();
        return _checkpoint.Stage(reader, path, r => CheckLayout(r, path), (r, stepCount) => StageRoutes(r, path, stepCount, atomic));
    }

    void CheckLayout(BinaryReader reader, string path)
    {
        var layout = reader.ReadString();
        if (layout != Layout())
            throw new InvalidDataException($"{path} is a checkpoint of routes [{layout}]; this optimizer has [{Layout()}].");
    }

    static Action StageRoutes(BinaryReader reader, string path, long stepCount, List<IAtomicOptimizer> atomic)
    {
        if (stepCount < 0) throw new InvalidDataException($"{path} is corrupt (step {stepCount}).");
        var commits = atomic.Select(o => o.StageCheckpoint(reader, path)).ToList();
        return () => commits.ForEach(c => c());
    }

    List<IAtomicOptimizer> Atomic()
    {
        var other = Optimizers.FirstOrDefault(o => o is not IAtomicOptimizer);
        if (other is not null)
            throw new NotSupportedException(
                $"Checkpoints of a routed optimizer need every route's optimizer declared with OptDsl; {other.GetType().Name} saves with its own save_state_dict.");
        return Optimizers.Cast<IAtomicOptimizer>().ToList();
    }

    /// <summary>Each route's name and parameter count, as checkpoints record them.</summary>
    string Layout() => string.Join(",", _routes.Select(r => $"{r.Name}:{r.ParameterNames.Count}"));

    string Names() => string.Join(", ", _routes.Select(r => $"'{r.Name}'"));

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
            foreach (var o in Optimizers) o.Dispose();
        base.Dispose(disposing);
    }
}
