using System;
using System.Linq;
using TorchSharp;

namespace OptDsl.Runtime.Core;

public abstract partial class DeclaredOptimizer<TOptions, TState>
{
    /// <inheritdoc/>
    public override long StateBytes
    {
        get
        {
            long bytes = 0;
            foreach (var group in _parameter_groups)
                foreach (var p in group.Parameters) bytes += ((TState)_state[p.Handle]).StateBytes(group.Options as DeclaredOptions ?? Defaults);
            return bytes;
        }
    }

    /// <summary>
    /// Keeps state <paramref name="name"/> in 8 bits between steps (blockwise absmax with a dynamic-exponent map, see
    /// <see cref="Backends.Quantized.BlockQuantizer"/>; a block without negative values — all of a second moment — takes the
    /// finer unsigned map): about a quarter of float32 state's memory at rest. The update itself runs in float32 on the dequantized
    /// state, on the portable path (the fused kernels do not read 8-bit state yet). Existing state is quantized now;
    /// <c>StateOf(p).Read(name)</c> gives its value. Checkpoints hold it at full precision and restore the same codes.
    /// </summary>
    public void QuantizeState(string name)
    {
        ThrowIfLocked();
        int index = -1;
        for (int i = 0; i < Spec.States.Count; i++)
            if (Spec.States[i].Name == name) index = i;
        if (index < 0)
            throw new ArgumentException($"{Spec.Name} declares no state '{name}'; it has {string.Join(", ", Spec.States.Select(s => "'" + s.Name + "'"))}.", nameof(name));
        if (Spec.States[index].Shape != StateShape.Elements)
            throw new ArgumentException($"{Spec.Name}: state '{name}' holds one value per {(Spec.States[index].Shape == StateShape.Rows ? "row" : "column")}; only per-element state is quantized.", nameof(name));
        using var noGrad = torch.no_grad();
        _quantizedStates.Add(index);
        foreach (var group in _parameter_groups)
            foreach (var p in group.Parameters) ((TState)_state[p.Handle]).Quantize(index);
    }

    // The 8-bit states asked for, so that parameter groups added later keep them in 8 bits too.
    readonly System.Collections.Generic.HashSet<int> _quantizedStates = new();

    /// <summary>Applies the 8-bit states asked for so far to a parameter's new state.</summary>
    void QuantizeNew(TState state)
    {
        foreach (var index in _quantizedStates) state.Quantize(index);
    }

    /// <summary>Whether state <paramref name="name"/> is kept in 8 bits.</summary>
    public bool IsStateQuantized(string name)
    {
        for (int i = 0; i < Spec.States.Count; i++)
            if (Spec.States[i].Name == name) return AllParameters.Select(p => (TState)_state[p.Handle]).Any(s => s.IsQuantized(i));
        throw new ArgumentException($"{Spec.Name} declares no state '{name}'.", nameof(name));
    }
}
