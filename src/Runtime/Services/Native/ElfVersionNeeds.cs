using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace OptDsl.Runtime.Services.Native;

/// <summary>
/// Reads the symbol-version requirements of a little-endian ELF64 shared library.
/// Only what the loading fix needs: section headers, <c>.dynsym</c>, <c>.gnu.version</c>,
/// <c>.gnu.version_r</c> and the relocation sections.
/// </summary>
public static class ElfVersionNeeds
{
    const uint ShtRela = 4, ShtDynsym = 11, ShtGnuVerneed = 0x6ffffffe, ShtGnuVersym = 0x6fffffff;
    const ushort VerFlgWeak = 0x2;

    /// <summary>
    /// Parses <paramref name="elf"/>; throws <see cref="FormatException"/> when it is not an ELF64 LE file or a table
    /// points outside it.
    /// </summary>
    public static IReadOnlyList<ElfVersionNeed> Read(ReadOnlySpan<byte> elf)
    {
        try
        {
            return ReadChecked(elf);
        }
        catch (ArgumentOutOfRangeException)
        {
            throw new FormatException("malformed ELF file: a table runs past the end of the file");
        }
    }

    static IReadOnlyList<ElfVersionNeed> ReadChecked(ReadOnlySpan<byte> elf)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new FormatException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1)
            throw new FormatException("not a little-endian 64-bit ELF file");

        var sections = ReadSections(elf);
        var verneed = sections.Find(s => s.Type == ShtGnuVerneed);
        if (verneed is null) return Array.Empty<ElfVersionNeed>();
        var strings = Slice(elf, sections[Index(verneed.Link, sections)]);

        var dynsym = sections.Find(s => s.Type == ShtDynsym);
        var versym = sections.Find(s => s.Type == ShtGnuVersym);
        var symbolNames = new List<string>();
        var symbolVersions = new List<int>();
        var relocated = new HashSet<int>();
        if (dynsym is not null)
        {
            var symStrings = Slice(elf, sections[Index(dynsym.Link, sections)]);
            var symbols = Slice(elf, dynsym);
            var versions = versym is null ? ReadOnlySpan<byte>.Empty : Slice(elf, versym);
            for (int i = 0; i + 24 <= symbols.Length; i += 24)
            {
                int k = i / 24;
                symbolNames.Add(CString(symStrings, U32(symbols, i)));
                symbolVersions.Add(2 * k + 2 <= versions.Length ? U16(versions, 2 * k) & 0x7fff : 0);
            }
            int dynsymIndex = sections.IndexOf(dynsym);
            foreach (var rela in sections)
            {
                if (rela.Type != ShtRela || rela.Link != dynsymIndex) continue;
                var entries = Slice(elf, rela);
                for (int i = 0; i + 24 <= entries.Length; i += 24)
                    relocated.Add((int)(BinaryPrimitives.ReadUInt64LittleEndian(entries.Slice(i + 8)) >> 32));
            }
        }

        var result = new List<ElfVersionNeed>();
        var data = Slice(elf, verneed);
        long need = 0;
        for (uint n = 0; n < verneed.Info; n++)
        {
            Check(need + 16 <= data.Length);
            var file = CString(strings, U32(data, (int)need + 4));
            uint auxCount = U16(data, (int)need + 2);
            long aux = need + U32(data, (int)need + 8);
            for (uint a = 0; a < auxCount; a++)
            {
                Check(aux >= 0 && aux + 16 <= data.Length);
                ushort flags = U16(data, (int)aux + 4);
                ushort index = U16(data, (int)aux + 6);
                var bound = new List<string>();
                var boundAndRelocated = new List<string>();
                for (int s = 0; s < symbolNames.Count; s++)
                {
                    if (symbolVersions[s] != index) continue;
                    bound.Add(symbolNames[s]);
                    if (relocated.Contains(s)) boundAndRelocated.Add(symbolNames[s]);
                }
                result.Add(new ElfVersionNeed(file, CString(strings, U32(data, (int)aux + 8)),
                    (flags & VerFlgWeak) != 0, verneed.Offset + aux + 4, bound, boundAndRelocated));
                uint next = U32(data, (int)aux + 12);
                if (next == 0) break;
                aux += next;
            }
            uint nextNeed = U32(data, (int)need + 12);
            if (nextNeed == 0) break;
            need += nextNeed;
        }
        return result;
    }

    /// <summary>
    /// Returns a copy of <paramref name="elf"/> in which the requirement <paramref name="version"/> is
    /// marked weak, and nothing else differs. Refuses (with the reason) when a relocation refers to a symbol
    /// of that version: then the library really calls into it, and a weak requirement would only move the
    /// failure from load time to the first call.
    /// </summary>
    public static byte[] MarkWeak(ReadOnlySpan<byte> elf, string version)
    {
        var needs = Read(elf).Where(v => v.Version == version).ToList();
        if (needs.Count == 0) throw new InvalidOperationException($"the library does not require {version}");
        var copy = elf.ToArray();
        foreach (var need in needs)
        {
            if (need.RelocatedSymbols.Count > 0)
                throw new InvalidOperationException(
                    $"{version} cannot be made weak: relocations use {string.Join(", ", need.RelocatedSymbols)}");
            ushort flags = U16(copy, (int)need.FlagsOffset);
            BinaryPrimitives.WriteUInt16LittleEndian(copy.AsSpan((int)need.FlagsOffset), (ushort)(flags | VerFlgWeak));
        }
        return copy;
    }

    sealed record Section(uint Type, long Offset, long Size, int Link, uint Info);

    static List<Section> ReadSections(ReadOnlySpan<byte> elf)
    {
        long shoff = (long)BinaryPrimitives.ReadUInt64LittleEndian(elf.Slice(0x28));
        int entsize = U16(elf, 0x3a), count = U16(elf, 0x3c);
        Check(entsize >= 64 && shoff > 0 && shoff + (long)entsize * count <= elf.Length);
        var list = new List<Section>(count);
        for (int i = 0; i < count; i++)
        {
            var h = elf.Slice((int)(shoff + (long)i * entsize), 64);
            var s = new Section(U32(h, 4), (long)BinaryPrimitives.ReadUInt64LittleEndian(h.Slice(24)),
                (long)BinaryPrimitives.ReadUInt64LittleEndian(h.Slice(32)), (int)U32(h, 40), U32(h, 44));
            list.Add(s);
        }
        return list;
    }

    static int Index(int link, List<Section> sections)
    {
        Check(link > 0 && link < sections.Count);
        return link;
    }

    static ReadOnlySpan<byte> Slice(ReadOnlySpan<byte> elf, Section s)
    {
        Check(s.Offset >= 0 && s.Size >= 0 && s.Offset + s.Size <= elf.Length);
        return elf.Slice((int)s.Offset, (int)s.Size);
    }

    static string CString(ReadOnlySpan<byte> table, uint offset)
    {
        Check(offset < table.Length);
        var rest = table.Slice((int)offset);
        int end = rest.IndexOf((byte)0);
        return Encoding.ASCII.GetString(end < 0 ? rest : rest.Slice(0, end));
    }

    static ushort U16(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b.Slice(at));
    static uint U32(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b.Slice(at));

    static void Check(bool ok)
    {
        if (!ok) throw new FormatException("malformed ELF file: a table points outside the file");
    }
}
