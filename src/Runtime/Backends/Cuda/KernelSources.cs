using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Text.RegularExpressions;

namespace OptDsl.Runtime.Backends.Cuda;

/// <summary>
/// The CUDA C of the fused backend, kept as files in <c>Kernels/</c> and embedded in the assembly. A kernel file is a
/// template: each <c>#include "file"</c> of another kernel file is replaced by that file (so NVRTC compiles one
/// self-contained source, and the kernel cache keys on all of it), then each placeholder <c>@NAME@</c> by its value.
/// For trying a kernel change without rebuilding, <c>OPTDSL_KERNEL_SOURCES</c> names a folder whose files replace the
/// embedded ones of the same name (the others stay embedded).
/// </summary>
internal static class KernelSources
{
    static readonly ConcurrentDictionary<string, string> Files = new();
    static readonly Regex Include = new("^#include \"([A-Za-z0-9_.]+)\"$", RegexOptions.Multiline | RegexOptions.CultureInvariant);
    static readonly Regex Placeholder = new("@([A-Z0-9_]+)@", RegexOptions.CultureInvariant);

    /// <summary>
    /// Kernel file <paramref name="file"/> with its includes inlined and every placeholder filled from
    /// <paramref name="values"/> in one pass (a value is never searched for placeholders itself); throws when a
    /// placeholder has no value or a value no placeholder.
    /// </summary>
    public static string Fill(string file, IReadOnlyDictionary<string, string> values)
    {
        var used = new HashSet<string>();
        var source = Placeholder.Replace(Inlined(file), m =>
        {
            var name = m.Groups[1].Value;
            if (!values.TryGetValue(name, out var value)) throw new InvalidOperationException($"Kernels/{file}: no value for @{name}@.");
            used.Add(name);
            return value;
        });
        foreach (var name in values.Keys)
            if (!used.Contains(name)) throw new InvalidOperationException($"Kernels/{file} has no placeholder @{name}@.");
        return source;
    }

    static string Inlined(string file) => Include.Replace(Read(file), m => Inlined(m.Groups[1].Value));

    /// <summary>The file's text with <c>\n</c> line ends and without its final line end.</summary>
    static string Read(string file) => Files.GetOrAdd(file, name =>
    {
        var text = Override(name) ?? Embedded(name);
        text = text.Replace("\r\n", "\n");
        return text.EndsWith('\n') ? text[..^1] : text;
    });

    static string Embedded(string name)
    {
        var resource = $"{typeof(KernelSources).Namespace}.Kernels.{name}";
        using var stream = typeof(KernelSources).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The runtime assembly holds no kernel file {resource}.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>The file of that name in the folder <c>OPTDSL_KERNEL_SOURCES</c> names, where set and present.</summary>
    static string? Override(string name) =>
        Environment.GetEnvironmentVariable("OPTDSL_KERNEL_SOURCES") is { Length: > 0 } folder && File.Exists(Path.Combine(folder, name))
            ? File.ReadAllText(Path.Combine(folder, name))
            : null;
}
