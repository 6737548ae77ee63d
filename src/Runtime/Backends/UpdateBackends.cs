using System;
using System.Linq;
using OptDsl.Runtime.Backends.Cpu;
using OptDsl.Runtime.Backends.Cuda;
using OptDsl.Runtime.Backends.Portable;

namespace OptDsl.Runtime.Backends;

/// <summary>
/// Every backend, in the order a parameter is offered to them: the first that accepts it (and can run here) updates it,
/// so the portable backend, which takes anything, comes last. Each entry builds its backend for a declaration's rule, or
/// gives null where the rule has no code for it. A new backend is a folder and an entry here.
/// </summary>
internal static class UpdateBackends
{
    static readonly Func<UpdateRule, IUpdateBackend?>[] Registry =
    [
        FusedCudaBackend.For,
        FusedCpuBackend.For,
        PortableBackend.For,
    ];

    /// <summary>The backends that can run <paramref name="rule"/>, in the registry's order; the last is the portable one.</summary>
    public static IUpdateBackend[] For(UpdateRule rule) => Registry.Select(build => build(rule)).OfType<IUpdateBackend>().ToArray();
}
