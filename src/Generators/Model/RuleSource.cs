namespace OptDsl.Generators.Model;

/// <summary>
/// A declaration's hyperparameters, state and rules as C# source: the using directives they are written under and the
/// member declarations. The generated class carries it (<c>[DeclarationSource]</c>), so a declaration elsewhere can name
/// it as its base; a composed declaration's is the composed source.
/// </summary>
public sealed record RuleSource(string Usings, string Members);
