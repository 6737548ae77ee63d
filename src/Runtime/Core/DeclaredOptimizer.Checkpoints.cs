using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp.Modules;

namespace OptDsl.Runtime.Core;

public abstract partial class DeclaredOptimizer<TOptions, TState>
{
    /// <inheritdoc/>
    /// <remarks>Checks every group's options and every parameter's state before replacing anything.</remarks>
    public override void load_state_dict(StateDictionary state_dict)
    {
        ThrowIfLocked();
        var current = this.state_dict();
        if (state_dict.Options.Count != current.Options.Count)
            throw new ArgumentException($"{Spec.Name}: the state has {state_dict.Options.Count} parameter groups, this optimizer has {current.Options.Count}.");
        if (state_dict.State.Count != current.State.Count)
            throw new ArgumentException($"{Spec.Name}: the state covers {state_dict.State.Count} parameters, this optimizer has {current.State.Count}.");
        foreach (var o in state_dict.Options)
            if (o is not DeclaredOptions d || d.Spec.Name != Spec.Name)
                throw new ArgumentException($"{Spec.Name}: the state holds options of {o?.GetType().Name ?? "null"}.");
        foreach (var s in state_dict.State)
            if (s is not DeclaredState d || d.Spec.Name != Spec.Name)
                throw new ArgumentException($"{Spec.Name}: the state holds parameter state of {s?.GetType().Name ?? "null"}.");
        base.load_state_dict(state_dict);
    }

    /// <summary>
    /// Loads TorchSharp's stream format (written by <c>save_state_dict</c>). TorchSharp reads it into the optimizer
    /// parameter by parameter; should the stream fail part-way (truncated, another layout), every group's options and
    /// every parameter's state are put back as they were before the error is rethrown. (The snapshot costs a copy of
    /// the state during the load; <see cref="DeclaredOptimizer.LoadCheckpoint"/> checks a whole file before touching
    /// anything and needs none.)
    /// </summary>
    public new void load_state_dict(System.IO.BinaryReader reader)
    {
        ThrowIfLocked();
        var savedOptions = _parameter_groups.Select(g =>
        {
            var copy = new TOptions();
            copy.LoadStateDict(g.Options);
            return copy;
        }).ToList();
        var savedStates = AllParameters.Select(p =>
        {
            var copy = CreateState(p);
            copy.LoadStateDict(_state[p.Handle]);
            return (P: p, State: copy);
        }).ToList();
        try
        {
            base.load_state_dict(reader);
        }
        catch
        {
            for (int g = 0; g < savedOptions.Count; g++) _parameter_groups[g].Options.LoadStateDict(savedOptions[g]);
            foreach (var (p, s) in savedStates) _state[p.Handle].LoadStateDict(s);
            throw;
        }
        finally
        {
            foreach (var (_, s) in savedStates) s.Dispose();
        }
    }

    /// <summary>Loads TorchSharp's format from a file; see <see cref="load_state_dict(System.IO.BinaryReader)"/>.</summary>
    public new void load_state_dict(string location)
    {
        using var stream = System.IO.File.OpenRead(location);
        using var reader = new System.IO.BinaryReader(stream);
        load_state_dict(reader);
    }

    /// <inheritdoc/>
    protected override void WriteCheckpointBody(System.IO.BinaryWriter writer)
    {
        foreach (var group in _parameter_groups) group.Options.SaveStateDict(writer);
        foreach (var group in _parameter_groups)
            foreach (var p in group.Parameters) _state[p.Handle].SaveStateDict(writer);
    }

    /// <inheritdoc/>
    protected override Action StageCheckpointBody(System.IO.BinaryReader reader)
    {
        var options = new List<TOptions>();
        var states = new List<(Parameter P, TState State)>();
        try
        {
            for (int g = 0; g < _parameter_groups.Count; g++)
            {
                var staged = new TOptions();
                staged.LoadStateDict(reader);
                staged.Validate($"parameter group {g} of the checkpoint");
                options.Add(staged);
            }
            foreach (var group in _parameter_groups)
                foreach (var p in group.Parameters)
                {
                    var staged = CreateState(p);
                    QuantizeNew(staged);
                    states.Add((p, staged));
                    staged.LoadStateDict(reader);
                }
        }
        catch
        {
            foreach (var (_, s) in states) s.Dispose();
            throw;
        }
        return () =>
        {
            for (int g = 0; g < options.Count; g++) _parameter_groups[g].Options.LoadStateDict(options[g]);
            foreach (var (p, s) in states)
            {
                (_state[p.Handle] as IDisposable)?.Dispose();
                _state[p.Handle] = s;
            }
        };
    }
}
