using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Diagnostics;

/// <summary>
/// A diagnostic as a plain value (descriptor id, where, message arguments), so the parse step's result stays
/// equatable; turned back into a Roslyn <see cref="Diagnostic"/> only when reported.
/// </summary>
public sealed record DiagnosticInfo(string Id, string? FilePath, TextSpan Span, LinePositionSpan LineSpan, EquatableArray<string> Arguments)
{
    public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, Location? location, params object?[] arguments)
    {
        var where = location ?? Location.None;
        var lines = where.GetLineSpan();
        return new DiagnosticInfo(descriptor.Id, where.SourceTree?.FilePath, where.SourceSpan, lines.Span,
            arguments.Select(a => a?.ToString() ?? "").ToEquatableArray());
    }

    public Diagnostic ToDiagnostic()
    {
        var location = FilePath is null ? Location.None : Location.Create(FilePath, Span, LineSpan);
        return Diagnostic.Create(DiagnosticDescriptors.ById(Id), location, Arguments.Cast<object>().ToArray());
    }
}
