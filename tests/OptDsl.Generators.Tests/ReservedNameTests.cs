using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using OptDsl.Generators.Parsing;
using Xunit;

namespace OptDsl.Generators.Tests;

/// <summary>
/// The names a declaration may not use are the members its generated class has — from the generator and from the
/// runtime base classes — so that a declaration that uses one gets OPT's clash diagnostic, never a compiler error about
/// hidden or duplicated members. Read from a compiled declaration, so a member added to the runtime fails this test
/// until the parser reserves it.
/// </summary>
public class ReservedNameTests
{
    static readonly GeneratorHarness.Run Compiled = GeneratorHarness.Generate(Declarations.Catalog("AdamW"));

    static INamedTypeSymbol Type(string name) => Compiled.Output.GetTypeByMetadataName(name)!;

    /// <summary>Members a user of the type could clash with: declared by the type or a base other than object, visible to a subclass.</summary>
    static IEnumerable<string> VisibleMembers(INamedTypeSymbol type, bool inherited)
    {
        for (var t = type; t is not null && t.SpecialType != SpecialType.System_Object; t = inherited ? t.BaseType : null)
            foreach (var m in t.GetMembers())
                if (!m.IsImplicitlyDeclared && m.CanBeReferencedByName
                    && m.DeclaredAccessibility is Accessibility.Public or Accessibility.Protected or Accessibility.ProtectedOrInternal)
                    yield return m.Name;
    }

    [Fact]
    public void Every_member_of_the_generated_optimizer_and_its_runtime_bases_is_reserved()
    {
        var optimizer = Type("OptDsl.Optimizers.AdamW");
        // The declaration's own members are the user's, not the generated class's; a rule method may be named Update
        // or Refresh (the parser rejects other members of those names).
        var declared = new HashSet<string> { "lr", "beta1", "beta2", "eps", "weightDecay", "amsgrad", "maximize", "m", "v", "vMax", "Update", "Refresh" };
        var generated = optimizer.GetMembers().Where(m => !m.IsImplicitlyDeclared && m.CanBeReferencedByName).Select(m => m.Name);
        var names = VisibleMembers(optimizer, inherited: true).Concat(generated).Where(n => !declared.Contains(n));
        AllReserved(names, ReservedNames.OptimizerMembers);
    }

    [Fact]
    public void Every_member_of_the_runtime_options_is_reserved_for_hyperparameter_properties()
    {
        var options = Type("OptDsl.Optimizers.AdamW+Options").BaseType!;
        AllReserved(VisibleMembers(options, inherited: true), ReservedNames.OptionsMembers);
    }

    [Fact]
    public void Every_member_of_the_runtime_state_is_reserved_for_state_properties()
    {
        var state = Type("OptDsl.Optimizers.AdamW+State").BaseType!;
        AllReserved(VisibleMembers(state, inherited: true), ReservedNames.StateMembers);
    }

    static void AllReserved(IEnumerable<string> members, ImmutableHashSet<string> reserved)
    {
        var missing = members.Distinct().Where(n => !reserved.Contains(n)).OrderBy(n => n, System.StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0, "not reserved: " + string.Join(", ", missing.Select(n => $"\"{n}\"")));
    }
}
