using System;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace OptDsl.Generators.Tests;

/// <summary>
/// What a user's project compiles against: the platform's System assemblies, the DSL, the runtime and TorchSharp (also
/// linked into the generator benchmark, which compiles the catalog the same way).
/// </summary>
public static class CompilationReferences
{
    static readonly Lazy<ImmutableArray<MetadataReference>> Lazy = new(() =>
    {
        var platform = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(p => Path.GetFileName(p) is var f && (f.StartsWith("System.") || f is "netstandard.dll" or "mscorlib.dll"));
        var ours = new[]
        {
            typeof(OptDsl.OptimizerAttribute).Assembly.Location,
            typeof(OptDsl.Runtime.Core.DeclaredOptimizer).Assembly.Location,
            typeof(TorchSharp.torch).Assembly.Location,
        };
        return platform.Concat(ours).Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToImmutableArray();
    });

    public static ImmutableArray<MetadataReference> All => Lazy.Value;
}
