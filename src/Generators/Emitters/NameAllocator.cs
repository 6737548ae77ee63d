using System.Collections.Generic;
using Microsoft.CodeAnalysis.CSharp;

namespace OptDsl.Generators.Emitters;

/// <summary>Hands out C# identifiers that are unique within one generated method, preferring the declared names.</summary>
sealed class NameAllocator
{
    readonly HashSet<string> _taken = new();

    /// <summary>The first of <paramref name="preferred"/>, <paramref name="preferred"/>_2, _3... not yet taken.</summary>
    public string Take(string preferred)
    {
        var name = preferred;
        for (int i = 2; !_taken.Add(name); i++) name = preferred + "_" + i;
        return Escape(name);
    }

    /// <summary><paramref name="name"/> as a C# identifier: keywords and contextual keywords get an <c>@</c> (<c>@params</c>, <c>@var</c>).</summary>
    public static string Escape(string name) =>
        SyntaxFacts.GetKeywordKind(name) != SyntaxKind.None || SyntaxFacts.GetContextualKeywordKind(name) != SyntaxKind.None
            ? "@" + name
            : name;
}
