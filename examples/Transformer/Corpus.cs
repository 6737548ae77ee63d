using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using System.Xml;

namespace Transformer;

/// <summary>
/// Text that is on every machine with the .NET SDK, read as bytes (a byte-level model needs no tokenizer): by default the
/// API documentation of the SDK's reference pack (its XML files' prose, the markup dropped); or any file, or folder of
/// files, named on the command line. The last tenth is held out for validation.
/// </summary>
public sealed class Corpus
{
    public Corpus(byte[] bytes, string source)
    {
        if (bytes.Length < 4096) throw new ArgumentException($"The corpus from {source} has {bytes.Length} bytes; a run needs at least 4096.");
        (Bytes, Source) = (bytes, source);
        TrainBytes = bytes.Length - bytes.Length / 10;
    }

    /// <summary>The whole text, training part first.</summary>
    public byte[] Bytes { get; }
    /// <summary>Where it came from, for the report.</summary>
    public string Source { get; }
    /// <summary>Bytes [0, TrainBytes) are for training, the rest for validation.</summary>
    public int TrainBytes { get; }

    /// <summary>The SDK reference pack's documentation when <paramref name="path"/> is null, else that file or folder.</summary>
    public static Corpus Load(string? path)
    {
        if (path is null) return FromSdkDocumentation();
        if (File.Exists(path)) return new Corpus(Read(path), path);
        if (Directory.Exists(path))
        {
            var files = Directory.GetFiles(path).Order(StringComparer.Ordinal).ToArray();
            return new Corpus(files.SelectMany(Read).ToArray(), $"{path} ({files.Length} files)");
        }
        throw new FileNotFoundException($"No corpus file or folder at {path}.");
    }

    static byte[] Read(string file) =>
        file.EndsWith(".xml", StringComparison.OrdinalIgnoreCase) ? Encoding.UTF8.GetBytes(Prose(file)) : File.ReadAllBytes(file);

    /// <summary>
    /// The prose of the XML documentation files of the newest Microsoft.NETCore.App.Ref pack next to the running .NET
    /// (packs/ beside shared/ in the .NET root), in file-name order.
    /// </summary>
    public static Corpus FromSdkDocumentation()
    {
        // The runtime directory is <root>/shared/Microsoft.NETCore.App/<version>/.
        var root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var packs = Path.Combine(root, "packs", "Microsoft.NETCore.App.Ref");
        var version = Directory.Exists(packs) ? Directory.GetDirectories(packs).Order(StringComparer.Ordinal).LastOrDefault() : null;
        var folder = version is null ? null : Directory.GetDirectories(Path.Combine(version, "ref")).Order(StringComparer.Ordinal).LastOrDefault();
        if (folder is null)
            throw new DirectoryNotFoundException($"No reference pack under {packs} (it comes with the .NET SDK); name a text file or folder with --corpus.");
        var files = Directory.GetFiles(folder, "*.xml").Order(StringComparer.Ordinal).ToArray();
        var text = new StringBuilder();
        foreach (var file in files) text.Append(Prose(file));
        return new Corpus(Encoding.UTF8.GetBytes(text.ToString()), $"the .NET reference pack's API documentation ({Path.GetFileName(version)}, {files.Length} files)");
    }

    /// <summary>
    /// The text of each documented member as one paragraph: whitespace runs folded to one space, a reference
    /// (<c>&lt;see cref="T:System.String"/&gt;</c>) read as the name it points to.
    /// </summary>
    static string Prose(string file)
    {
        var text = new StringBuilder();
        var paragraph = new StringBuilder();
        using var reader = XmlReader.Create(file, new XmlReaderSettings { DtdProcessing = DtdProcessing.Ignore });
        while (reader.Read())
        {
            switch (reader.NodeType)
            {
                case XmlNodeType.Text or XmlNodeType.CDATA or XmlNodeType.Whitespace or XmlNodeType.SignificantWhitespace:
                    paragraph.Append(reader.Value);
                    break;
                case XmlNodeType.Element when reader.IsEmptyElement:
                    var target = reader.GetAttribute("cref") ?? reader.GetAttribute("langword") ?? reader.GetAttribute("name");
                    if (target is not null) paragraph.Append(' ').Append(ShortName(target)).Append(' ');
                    break;
                case XmlNodeType.EndElement when reader.Name == "member":
                    var folded = string.Join(' ', paragraph.ToString().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
                    if (folded.Length > 0) text.Append(folded).Append('\n');
                    paragraph.Clear();
                    break;
            }
        }
        return text.ToString();
    }

    /// <summary>"T:System.Collections.Generic.List`1" reads as "List".</summary>
    static string ShortName(string reference)
    {
        var name = reference.Contains(':') ? reference[(reference.IndexOf(':') + 1)..] : reference;
        int paren = name.IndexOf('(');
        if (paren >= 0) name = name[..paren];
        name = name[(name.LastIndexOf('.') + 1)..];
        int tick = name.IndexOf('`');
        return tick >= 0 ? name[..tick] : name;
    }

    /// <summary>
    /// The first byte of each of <paramref name="rows"/> windows of <paramref name="length"/> + 1 bytes for step
    /// <paramref name="step"/>: drawn from [0, TrainBytes − length − 1) (validation: from the held-out part) by a
    /// SplitMix64 of (seed, stream, step, row), so that any other program can draw the same batches from the exported
    /// offsets.
    /// </summary>
    public long[] Offsets(ulong seed, int step, int rows, int length, bool validation = false)
    {
        long start = validation ? TrainBytes : 0, end = validation ? Bytes.Length : TrainBytes;
        long span = end - start - length - 1;
        if (span <= 0) throw new ArgumentException($"The corpus's {(validation ? "validation" : "training")} part ({end - start} bytes) is shorter than a window of {length + 1}.");
        var offsets = new long[rows];
        for (int r = 0; r < rows; r++)
            offsets[r] = start + (long)(SplitMix64(seed ^ (validation ? 0x5DEECE66DUL : 0), ((ulong)step << 20) + (ulong)r) % (ulong)span);
        return offsets;
    }

    static ulong SplitMix64(ulong seed, ulong index)
    {
        ulong z = seed + (index + 1) * 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
