using System.Collections.Generic;

namespace OptDsl.Generators.Model;

/// <summary>Source text split into lines as C# splits it: at CR, LF, CRLF, NEL (U+0085), LS (U+2028) and PS (U+2029).</summary>
public static class LineBreaks
{
    public static IEnumerable<string> Split(string text)
    {
        int start = 0;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c is not ('\r' or '\n' or '\u0085' or '\u2028' or '\u2029')) continue;
            yield return text.Substring(start, i - start);
            if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n') i++;
            start = i + 1;
        }
        yield return text.Substring(start);
    }
}
