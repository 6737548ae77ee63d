using System;
using OptDsl.Runtime.Backends.Portable;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Training.ZerothOrder;

/// <summary>
/// Moves parameters in place along counter-based noise and back, exactly. <c>p + d</c> then <c>- d</c> in floating point
/// does not always return <c>p</c> (a rounding tie, a value far smaller than the step); while moving, the elements whose
/// subtraction would not restore them are found (where both values are at hand) and their original bits kept, so the
/// way back is exact. Nothing the size of all parameters is kept: the noise is regenerated from its counter, and the
/// kept elements are typically a small fraction (see <see cref="KeptElements"/>).
/// </summary>
internal sealed class Perturbation : IDisposable
{
    readonly Parameter[] _parameters;
    readonly long[] _offsets;
    readonly (Tensor Index, Tensor Values)?[] _kept;
    readonly Tensor?[]? _masks;
    readonly ulong _seed, _stream;
    readonly double _scale;

    /// <summary>
    /// Moves every parameter by <paramref name="scale"/> times its noise of (<paramref name="seed"/>, <paramref name="stream"/>),
    /// only where its mask (if any) is true.
    /// </summary>
    public Perturbation(Parameter[] parameters, long[] offsets, ulong seed, ulong stream, double scale, Tensor?[]? masks = null)
    {
        (_parameters, _offsets, _seed, _stream, _scale, _masks) = (parameters, offsets, seed, stream, scale, masks);
        _kept = new (Tensor, Tensor)?[parameters.Length];
        using var _ = no_grad();
        for (int k = 0; k < parameters.Length; k++)
        {
            using var scope = NewDisposeScope();
            var p = parameters[k];
            var step = Step(k);
            var moved = p.Plus(step);
            var back = moved.sub(step);
            // Bits that subtraction would not give back: a different value, NaN, or a zero of the other sign.
            var lost = back.ne(p).logical_or(back.reciprocal().ne(p.reciprocal())).flatten();
            // nonzero reads its count on the host: the one wait for the device this tensor costs.
            var index = lost.nonzero().flatten();
            if (index.NumberOfElements > 0)
                _kept[k] = (index.MoveToOuterDisposeScope(), p.flatten().index_select(0, index).MoveToOuterDisposeScope());
            p.copy_(moved);
        }
    }

    /// <summary>The noise of parameter <paramref name="k"/> in the parameter's type, times the scale (in that type).</summary>
    Tensor Step(int k)
    {
        using var kept = KeptScalars.Rent();
        var p = _parameters[k];
        var z = ZerothOrderOptimizer.Noise(_seed, _stream, p, _offsets[k], _masks?[k]);
        return z.mul(kept[_scale]);
    }

    /// <summary>Elements whose original bits are kept for the way back.</summary>
    public long KeptElements
    {
        get
        {
            long n = 0;
            foreach (var kept in _kept) if (kept is { } k) n += k.Index.NumberOfElements;
            return n;
        }
    }

    /// <summary>Puts every parameter back exactly as it was.</summary>
    public void Restore()
    {
        using var _ = no_grad();
        for (int k = 0; k < _parameters.Length; k++)
        {
            using var scope = NewDisposeScope();
            var p = _parameters[k];
            p.sub_(Step(k));
            if (_kept[k] is { } kept)
            {
                using var flat = p.view(-1);
                flat.index_copy_(0, kept.Index, kept.Values);
            }
        }
    }

    public void Dispose()
    {
        foreach (var kept in _kept)
            if (kept is { } k)
            {
                k.Index.Dispose();
                k.Values.Dispose();
            }
    }
}
