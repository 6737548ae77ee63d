using System;
using System.IO;

namespace OptDsl.Runtime.Services;

/// <summary>Where OptDsl keeps files it derives and may reuse across processes (patched libraries, kernel binaries).</summary>
internal static class CacheFolders
{
    /// <summary><c>$variable</c> if set, else <c>$XDG_CACHE_HOME/optdsl/name</c>, else <c>~/.cache/optdsl/name</c>, else the temp folder.</summary>
    public static string Root(string name, string variable)
    {
        var explicitRoot = Environment.GetEnvironmentVariable(variable);
        if (!string.IsNullOrEmpty(explicitRoot)) return explicitRoot;
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (!string.IsNullOrEmpty(xdg)) return Path.Combine(xdg, "optdsl", name);
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (!string.IsNullOrEmpty(home)) return Path.Combine(home, ".cache", "optdsl", name);
        return Path.Combine(Path.GetTempPath(), "optdsl", name);
    }
}
