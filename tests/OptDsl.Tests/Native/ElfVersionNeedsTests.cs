using System;
using System.IO;
using System.Linq;
using OptDsl.Runtime.Services.Native;
using Xunit;

namespace OptDsl.Tests.Native;

/// <summary>The ELF reader and the one-flag patch, on TorchSharp's own native library.</summary>
public class ElfVersionNeedsTests
{
    static readonly Lazy<byte[]> Stock = new(() => File.ReadAllBytes(
        Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so")));

    [Fact]
    public void The_stock_library_requires_GLIBCXX_3_4_32_only_for_an_unrelocated_marker_symbol()
    {
        var need = ElfVersionNeeds.Read(Stock.Value).Single(n => n.Version == "GLIBCXX_3.4.32");
        Assert.Equal("libstdc++.so.6", need.Library);
        Assert.False(need.IsWeak);
        Assert.Equal(new[] { "_ZSt21ios_base_library_initv" }, need.Symbols);
        Assert.Empty(need.RelocatedSymbols);
    }

    [Fact]
    public void Marking_weak_changes_exactly_the_flags_of_that_requirement()
    {
        var original = Stock.Value;
        var patched = ElfVersionNeeds.MarkWeak(original, "GLIBCXX_3.4.32");
        var differing = Enumerable.Range(0, original.Length).Where(i => original[i] != patched[i]).ToArray();
        var need = ElfVersionNeeds.Read(original).Single(n => n.Version == "GLIBCXX_3.4.32");

        Assert.Equal(original.Length, patched.Length);
        Assert.Equal(new[] { (int)need.FlagsOffset }, differing);
        Assert.True(ElfVersionNeeds.Read(patched).Single(n => n.Version == "GLIBCXX_3.4.32").IsWeak);
        Assert.All(ElfVersionNeeds.Read(patched).Where(n => n.Version != "GLIBCXX_3.4.32"), n => Assert.False(n.IsWeak));
    }

    [Fact]
    public void A_requirement_whose_symbols_are_called_is_never_weakened()
    {
        var e = Assert.Throws<InvalidOperationException>(() => ElfVersionNeeds.MarkWeak(Stock.Value, "GLIBC_2.2.5"));
        Assert.Contains("relocations use", e.Message);
    }

    [Fact]
    public void Truncated_or_foreign_files_are_a_format_error_not_a_crash()
    {
        Assert.Throws<FormatException>(() => ElfVersionNeeds.Read(new byte[100]));
        Assert.Throws<FormatException>(() => ElfVersionNeeds.Read("not an ELF file at all, just text"u8.ToArray()));
        foreach (var length in new[] { 64, 4096, Stock.Value.Length / 2, Stock.Value.Length - 1 })
        {
            var prefix = Stock.Value.AsSpan(0, length).ToArray();
            var thrown = Record.Exception(() => ElfVersionNeeds.Read(prefix));
            Assert.True(thrown is null or FormatException, $"length {length}: {thrown?.GetType().Name}: {thrown?.Message}");
        }
    }
}
