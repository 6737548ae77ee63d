using System.Collections.Generic;
using System.Text;

namespace OptDsl.Generators.Emitters;

/// <summary>
/// Collects lines of C# (or CUDA C) with indentation. A writer can be filled on its own and appended into another at the
/// current depth, which the emitters use to write the arms of a branch before they know what the arms join.
/// </summary>
sealed class CodeWriter
{
    readonly List<(int Depth, string Text)> _lines = new();
    int _depth;
    /// <summary>Whether everything written so far is one if statement (with its else-ifs and else), which an else folds.</summary>
    bool _oneIf;

    public bool IsEmpty => _lines.Count == 0;

    public void Line(string text = "")
    {
        _oneIf = false;
        _lines.Add((text.Length == 0 ? 0 : _depth, text));
    }

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
        _oneIf = false;
        foreach (var (depth, text) in other._lines) _lines.Add((text.Length == 0 ? 0 : depth + _depth, text));
    }

    /// <summary>
    /// <c>header { then } else { otherwise }</c>, without an empty else; an else that is itself one if statement is
    /// written as <c>else if</c>, so that a chain of them stays flat rather than nesting one level per link.
    /// </summary>
    public void If(string header, CodeWriter then, CodeWriter otherwise)
    {
        bool alone = IsEmpty;
        Open(header);
        Append(then);
        Close();
        if (otherwise._oneIf)
        {
            var (_, first) = otherwise._lines[0];
            Line("else " + first);
            for (int i = 1; i < otherwise._lines.Count; i++)
            {
                var (depth, text) = otherwise._lines[i];
                _lines.Add((text.Length == 0 ? 0 : depth + _depth, text));
            }
        }
        else if (!otherwise.IsEmpty)
        {
            Open("else");
            Append(otherwise);
            Close();
        }
        _oneIf = alone;
    }

    /// <summary>Writes <c>/// text</c> lines, one per line of <paramref name="text"/> (any line terminator).</summary>
    public void Doc(string text)
    {
        foreach (var line in Model.LineBreaks.Split(text)) Line("/// " + line);
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
