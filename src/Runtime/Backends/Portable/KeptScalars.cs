using System;
using System.Collections.Generic;
using TorchSharp;

namespace OptDsl.Runtime.Backends.Portable;

/// <summary>
/// The <see cref="Scalar"/>s one portable update passes to TorchSharp, kept alive until the update ends and then freed.
/// A number converted to a <c>Scalar</c> on the fly is left to the finalizer, which can free it while libtorch still
/// reads it (TorchSharp 0.107 reads the handle and lets the object go): a random "toDouble" failure. The generated
/// portable code therefore takes every <c>Scalar</c> it passes from here: <c>using var scalars = KeptScalars.Rent();</c>
/// then <c>m.mul_(scalars[beta1])</c>.
/// </summary>
public sealed class KeptScalars : IDisposable
{
    // One free instance a thread: an update rents it and gives it back, so a step allocates no list.
    [ThreadStatic] static KeptScalars? _free;
    readonly List<Scalar> _held = new();

    KeptScalars() { }

    /// <summary>An empty set, for one update; dispose it when the update ends.</summary>
    public static KeptScalars Rent()
    {
        var kept = _free ?? new KeptScalars();
        _free = null;
        return kept;
    }

    /// <summary>A scalar of <paramref name="value"/> that stays alive until this set is disposed.</summary>
    public Scalar this[double value] => Keep(value.ToScalar());

    /// <inheritdoc cref="this[double]"/>
    public Scalar this[long value] => Keep(value.ToScalar());

    /// <inheritdoc cref="this[double]"/>
    public Scalar this[bool value] => Keep(value.ToScalar());

    Scalar Keep(Scalar scalar)
    {
        _held.Add(scalar);
        return scalar;
    }

    /// <summary>Frees the scalars (the update's native calls have all returned) and makes the set free for the next update.</summary>
    public void Dispose()
    {
        foreach (var s in _held) s.Dispose();
        _held.Clear();
        _free = this;
    }
}
