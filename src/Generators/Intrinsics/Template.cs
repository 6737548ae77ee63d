using System.Collections.Generic;
using System.Text;

namespace OptDsl.Generators.Intrinsics;

/// <summary>Fills a spelling of <see cref="Intrinsic"/>: <c>{0}</c>..<c>{9}</c> become arguments, <c>{p}</c> the parameter.</summary>
public static class Template
{
    public static string Apply(string template, IReadOnlyList<string> arguments, string? parameter = null)
    {
        var text = new StringBuilder(template.Length + 32);
        for (int i = 0; i < template.Length; i++)
        {
            if (template[i] == '{' && i + 2 < template.Length && template[i + 2] == '}')
            {
                char c = template[i + 1];
                if (c is >= '0' and <= '9' && c - '0' < arguments.Count) { text.Append(arguments[c - '0']); i += 2; continue; }
                if (c == 'p' && parameter is not null) { text.Append(parameter); i += 2; continue; }
            }
            text.Append(template[i]);
        }
        return text.ToString();
    }
}
