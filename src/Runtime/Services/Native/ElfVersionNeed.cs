using System.Collections.Generic;

namespace OptDsl.Runtime.Services.Native;

/// <summary>
/// One symbol-version requirement of a shared library (an <c>Elf64_Vernaux</c> entry of its
/// <c>.gnu.version_r</c> section), with what the file says about its use.
/// </summary>
/// <param name="Library">The library that must define the version, e.g. <c>libstdc++.so.6</c>.</param>
/// <param name="Version">The version name, e.g. <c>GLIBCXX_3.4.32</c>.</param>
/// <param name="IsWeak">Whether <c>VER_FLG_WEAK</c> is already set.</param>
/// <param name="FlagsOffset">File offset of the entry's 16-bit <c>vna_flags</c> field.</param>
/// <param name="Symbols">Dynamic symbols bound to this version.</param>
/// <param name="RelocatedSymbols">Those of <paramref name="Symbols"/> that a relocation refers to.</param>
public sealed record ElfVersionNeed(
    string Library,
    string Version,
    bool IsWeak,
    long FlagsOffset,
    IReadOnlyList<string> Symbols,
    IReadOnlyList<string> RelocatedSymbols);
