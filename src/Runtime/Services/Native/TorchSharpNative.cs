using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace OptDsl.Runtime.Services.Native;

/// <summary>
/// Makes TorchSharp's native library load on Linux systems whose libstdc++ is older than the one it was
/// built against (Debian 12, Ubuntu 22.04: TorchSharp 0.107's <c>libLibTorchSharp.so</c> asks for
/// <c>GLIBCXX_3.4.32</c>, which only GCC 13's libstdc++ defines).
/// </summary>
/// <remarks>
/// <para>
/// The requirement comes from symbols that GCC 13's headers only <em>reference</em> (no relocation uses
/// them) so that binaries refuse older runtimes. When the stock library fails to load for that reason,
/// this writes a copy in which exactly those version requirements are marked weak (<c>VER_FLG_WEAK</c>),
/// checks that nothing else differs, and loads it by path after libtorch from the folder TorchSharp itself
/// uses. The copy's soname is <c>libLibTorchSharp.so</c>, so TorchSharp's own loads by name then find it.
/// A requirement that a relocation does use is never weakened.
/// </para>
/// <para>
/// Runs once per process, before TorchSharp loads its native code: every assembly compiled with the OptDsl generator
/// registers it from a module initializer to run at that moment (<see cref="EnsureLoadableWhenNeeded"/>), and OptDsl's
/// optimizers call it too. Systems where the stock
/// library loads are left alone. The NuGet cache is never modified: the copy goes to
/// <c>$OPTDSL_NATIVE_CACHE</c>, else <c>$XDG_CACHE_HOME/optdsl/native</c>, else <c>~/.cache/optdsl/native</c>.
/// Set <c>OPTDSL_NATIVE_FIX=0</c> to turn it off, and <c>OPTDSL_LIBTORCH</c> to load libtorch from another folder
/// (a PyTorch install's <c>torch/lib</c>, for CUDA without the TorchSharp-cuda packages).
/// </para>
/// </remarks>
public static class TorchSharpNative
{
    const string LibraryFile = "libLibTorchSharp.so";
    /// <summary>The libtorch libraries, in dependency order; the CUDA ones are loaded where the folder has them.</summary>
    static readonly string[] LibtorchInLoadOrder = { "libc10.so", "libc10_cuda.so", "libtorch_cpu.so", "libtorch_cuda.so", "libtorch.so" };

    /// <summary>
    /// Names a libtorch folder to use instead of the one beside TorchSharp, e.g. a PyTorch install's <c>torch/lib</c>
    /// (with CUDA): the way to run TorchSharp on a GPU machine that has PyTorch but no TorchSharp-cuda package.
    /// </summary>
    public const string LibTorchVariable = "OPTDSL_LIBTORCH";
    static readonly Regex MissingVersion = new(@"version `(?<v>(GLIBCXX|CXXABI)_[0-9.]+)' not found", RegexOptions.Compiled);
    static readonly object Gate = new();
    static string? _outcome;

    /// <summary>What the last call did, in one sentence; null before the first call.</summary>
    public static string? Outcome => _outcome;

    /// <summary>The patched copy in use, if one was needed.</summary>
    public static string? PatchedLibraryPath { get; private set; }

    static int _deferred;

    /// <summary>
    /// Applies <see cref="EnsureLoadable"/> when the TorchSharp assembly loads, before any of its code runs, not now: a
    /// program that never touches TorchSharp pays nothing (loading libtorch takes most of a second). The assembly's load
    /// is the moment to use: TorchSharp loads its native code by name with <c>NativeLibrary.TryLoad(name, assembly, ...)</c>,
    /// which never consults a DllImport resolver, from its static constructor. Where TorchSharp is already loaded, the
    /// fix is applied at once. This method names no TorchSharp type, so calling it does not load TorchSharp. Idempotent;
    /// never throws.
    /// </summary>
    public static void EnsureLoadableWhenNeeded()
    {
        if (_outcome is not null || System.Threading.Interlocked.Exchange(ref _deferred, 1) == 1) return;
        AppDomain.CurrentDomain.AssemblyLoad += ApplyWhenTorchSharpLoads;
        if (AppDomain.CurrentDomain.GetAssemblies().Any(IsTorchSharp)) EnsureLoadable();
    }

    static bool IsTorchSharp(Assembly assembly) => assembly.GetName().Name == "TorchSharp";

    static void ApplyWhenTorchSharpLoads(object? sender, AssemblyLoadEventArgs e)
    {
        if (!IsTorchSharp(e.LoadedAssembly)) return;
        AppDomain.CurrentDomain.AssemblyLoad -= ApplyWhenTorchSharpLoads;
        EnsureLoadable();
    }

    /// <summary>
    /// Ensures TorchSharp's native library can load. Idempotent and cheap after the first call; never throws
    /// (a failure leaves TorchSharp to report its own error, with <see cref="Outcome"/> saying why).
    /// </summary>
    public static void EnsureLoadable()
    {
        if (_outcome is not null) return;
        lock (Gate)
        {
            if (_outcome is not null) return;
            try
            {
                _outcome = Apply();
            }
            catch (Exception e)
            {
                _outcome = $"OptDsl could not apply the libstdc++ loading fix: {e.Message}";
            }
        }
    }

    static string Apply()
    {
        if (Environment.GetEnvironmentVariable("OPTDSL_NATIVE_FIX") == "0")
            return "turned off by OPTDSL_NATIVE_FIX=0";
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux) || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            return "not needed on this platform";

        var folder = FindNativeFolder();
        if (folder is null)
            return $"no {LibraryFile} next to TorchSharp: left to TorchSharp's own loader";

        // Load libtorch by path from one folder only: two copies in one process abort at startup.
        var libtorch = Environment.GetEnvironmentVariable(LibTorchVariable) is { Length: > 0 } chosen ? chosen : folder;
        if (!File.Exists(Path.Combine(libtorch, "libtorch_cpu.so")))
            return $"{LibTorchVariable} names {libtorch}, which holds no libtorch_cpu.so";
        foreach (var lib in LibtorchInLoadOrder)
        {
            var path = Path.Combine(libtorch, lib);
            if (File.Exists(path) && !NativeLibrary.TryLoad(path, out _))
                return $"{path} does not load: left to TorchSharp's own loader";
        }

        var stock = Path.Combine(folder, LibraryFile);
        var error = TryLoad(stock);
        if (error is null) return libtorch == folder ? "stock library loads: nothing to do" : $"stock library loads with libtorch from {libtorch}: nothing to do";

        var original = File.ReadAllBytes(stock);
        var weakened = new List<string>();
        for (int attempt = 0; attempt < 8; attempt++)
        {
            var missing = MissingVersion.Match(error);
            if (!missing.Success)
                return attempt == 0 ? $"{LibraryFile} fails to load for another reason: {error}" : $"patched copy still fails: {error}";
            var version = missing.Groups["v"].Value;
            if (weakened.Contains(version)) return $"patched copy still fails: {error}";
            weakened.Add(version);

            var patched = original.AsSpan().ToArray();
            foreach (var v in weakened) patched = ElfVersionNeeds.MarkWeak(patched, v);
            var copy = WriteCopy(original, patched, weakened);
            error = TryLoad(copy);
            if (error is null)
            {
                PatchedLibraryPath = copy;
                var symbols = ElfVersionNeeds.Read(original).Where(n => weakened.Contains(n.Version)).SelectMany(n => n.Symbols);
                var message =
                    $"OptDsl: {LibraryFile} requires {string.Join(", ", weakened)}, which this system's libstdc++ lacks; " +
                    $"loaded a copy with that requirement marked weak (only the unused marker symbol(s) " +
                    $"{string.Join(", ", symbols.Distinct())} bind to it): {copy}";
                if (Environment.GetEnvironmentVariable("OPTDSL_QUIET") != "1") Console.Error.WriteLine(message);
                return message;
            }
        }
        return $"patched copy still fails: {error}";
    }

    static string? FindNativeFolder()
    {
        var torchSharp = Path.GetDirectoryName(typeof(TorchSharp.torch).Assembly.Location);
        if (string.IsNullOrEmpty(torchSharp)) return null;
        // A RID-less build keeps natives under runtimes/<rid>/native; a RID-specific build or publish beside the app.
        string[] candidates = { Path.Combine(torchSharp, "runtimes", "linux-x64", "native"), torchSharp };
        return candidates.FirstOrDefault(dir => File.Exists(Path.Combine(dir, LibraryFile)));
    }

    static string? TryLoad(string path)
    {
        try
        {
            NativeLibrary.Load(path);
            return null;
        }
        catch (DllNotFoundException e)
        {
            return e.Message;
        }
        catch (BadImageFormatException e)
        {
            return e.Message;
        }
    }

    static string WriteCopy(byte[] original, byte[] patched, List<string> weakened)
    {
        VerifyOnlyFlagsDiffer(original, patched, weakened);
        var key = Convert.ToHexString(SHA256.HashData(original)).Substring(0, 16).ToLowerInvariant();
        var dir = Path.Combine(CacheFolders.Root("native", "OPTDSL_NATIVE_CACHE"), $"{key}-{string.Join("-", weakened)}");
        Directory.CreateDirectory(dir);
        var target = Path.Combine(dir, LibraryFile);
        if (File.Exists(target) && File.ReadAllBytes(target).AsSpan().SequenceEqual(patched)) return target;

        // Write then rename, so a concurrent process never sees half a library.
        var temp = Path.Combine(dir, $".{LibraryFile}.{Environment.ProcessId}.tmp");
        File.WriteAllBytes(temp, patched);
        File.Move(temp, target, overwrite: true);
        return target;
    }

    static void VerifyOnlyFlagsDiffer(byte[] original, byte[] patched, List<string> weakened)
    {
        var allowed = ElfVersionNeeds.Read(original)
            .Where(n => weakened.Contains(n.Version))
            .SelectMany(n => new[] { n.FlagsOffset, n.FlagsOffset + 1 })
            .ToHashSet();
        if (original.Length != patched.Length)
            throw new InvalidOperationException("patched copy changed size");
        for (long i = 0; i < original.Length; i++)
            if (original[i] != patched[i] && !allowed.Contains(i))
                throw new InvalidOperationException($"patched copy differs at byte {i}, outside the version flags");
    }
}
