using System.Collections.Generic;
using System.Runtime.CompilerServices;

namespace OptDsl.Generators.Analysis;

/// <summary>
/// Compares by identity, not by value: model records are equal when they read alike, but two equal calls at two places
/// of a rule are two reductions. (netstandard2.0 has no ReferenceEqualityComparer.)
/// </summary>
public sealed class ByReference<T> : IEqualityComparer<T> where T : class
{
    public static readonly ByReference<T> Instance = new();

    public bool Equals(T? x, T? y) => ReferenceEquals(x, y);

    public int GetHashCode(T obj) => RuntimeHelpers.GetHashCode(obj);
}
