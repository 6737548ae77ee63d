using System;
using System.IO;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Services.Native;
using TorchSharp;
using Xunit;

namespace OptDsl.Tests.Native;

/// <summary>The loading fix ran before TorchSharp started here, and did only what it says.</summary>
public class TorchSharpNativeTests
{
    [Fact]
    public void TorchSharp_runs_and_the_fix_says_what_it_did()
    {
        using var kept = KeptScalars.Rent();
        Assert.Equal(6f, torch.ones(3).mul(kept[2]).sum().item<float>());
        var outcome = TorchSharpNative.Outcome;
        Assert.NotNull(outcome);
        Assert.True(outcome!.Contains("nothing to do") || outcome.Contains("marked weak") || outcome.Contains("not needed"), outcome);
    }

    [Fact]
    public void The_fix_patches_exactly_when_the_system_lacks_the_version_and_changes_only_flags()
    {
        var systemLibrary = new[] { "/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6" }
            .FirstOrDefault(File.Exists);
        Assert.NotNull(systemLibrary);
        bool systemHasVersion = File.ReadAllBytes(systemLibrary!).AsSpan().IndexOf("GLIBCXX_3.4.32"u8) >= 0;
        if (systemHasVersion)
        {
            Assert.Null(TorchSharpNative.PatchedLibraryPath);
            return;
        }

        var patchedPath = TorchSharpNative.PatchedLibraryPath;
        Assert.NotNull(patchedPath);
        var stock = File.ReadAllBytes(Path.Combine(System.AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so"));
        var patched = File.ReadAllBytes(patchedPath!);
        var flags = ElfVersionNeeds.Read(stock).Select(n => n.FlagsOffset).ToHashSet();
        Assert.Equal(stock.Length, patched.Length);
        Assert.All(Enumerable.Range(0, stock.Length).Where(i => stock[i] != patched[i]), i => Assert.Contains((long)i, flags));
    }
}
