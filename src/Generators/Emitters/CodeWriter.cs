using System.Collections.Generic;
using System.Text;

namespace OptDsl.Generators.Emitters;

/// <summary>
/// Collects lines of C# with indentation. A writer can be filled on its own and appended into another at the
/// current depth, which the portable emitter uses to emit a branch before it knows what the branches join.
/// </summary>
sealed class CodeWriter
{
    readonly List<(int Depth, string Text)> _lines = new();
    int _depth;

    public void Line(string text = "") => _lines.Add((text.Length == 0 ? 0 : _depth, text));

    public void Open(string header)
    {
        Line(header);
        Line("{");
        _depth++;
    }

    public void Close(string suffix = "")
    {
        _depth--;
        Line("}" + suffix);
    }

    public void Append(CodeWriter other)
    {
        foreach (var (depth, text) in other._lines) _lines.Add((text.Length == 0 ? 0 : depth + _depth, text));
    }

    /// <summary>Writes <c>/// text</c> lines, one per line of <paramref name="text"/>.</summary>
    public void Doc(string text)
    {
        foreach (var line in text.Split('\n')) Line("/// " + line.TrimEnd('\r'));
    }

    public override string ToString()
    {
        var sb = new StringBuilder();
        foreach (var (depth, text) in _lines)
        {
            sb.Append(' ', depth * 4);
            sb.Append(text);
            sb.Append('\n');
        }
        return sb.ToString();
    }
}
