using System;
using System.IO;

namespace OptDsl.Examples;

/// <summary>Where the examples write their files when the command line names no path.</summary>
public static class ExampleOutput
{
    /// <summary>
    /// <paramref name="fileName"/> in the example's output folder (<c>bin/Debug/net10.0/</c> under the example with
    /// <c>dotnet run</c>), not the current directory: a run from the repository root leaves no untracked file there.
    /// </summary>
    public static string PathFor(string fileName) => Path.Combine(AppContext.BaseDirectory, fileName);

    /// <summary>The path the command line gives at <paramref name="index"/>, else <see cref="PathFor"/> of <paramref name="fileName"/>.</summary>
    public static string FromArguments(string[] args, int index, string fileName) =>
        args.Length > index ? Path.GetFullPath(args[index]) : PathFor(fileName);
}
