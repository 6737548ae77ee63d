using System.Collections.Generic;
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace OptDsl.Generators.Parsing;

/// <summary>
/// Whether C# may reject a class's member declarations with an error that makes the parser step aside: two members of
/// one name (CS0102, CS0111) or a type it cannot find (CS0246). Asking the compiler completes every symbol of the class
/// with checks the parser has no use for, so this looks first at what the parser reads anyway — the syntax's errors,
/// the members' names, types and attributes — and answers yes wherever such an error could hide; only then is the
/// compiler asked.
/// </summary>
static class DeclarationErrors
{
    public static bool Possible(INamedTypeSymbol type, TypeDeclarationSyntax syntax)
    {
        if (syntax.ContainsDiagnostics || type.TypeParameters.Length > 0 || HasError(type.BaseType) || AnyError(type.Interfaces)
            || AnyError(type.GetAttributes()))
            return true;
        var names = new HashSet<string>();
        foreach (var member in type.GetMembers())
        {
            // A name taken twice is an overload at best; nested types and constants are the compiler's to look into.
            if ((!member.IsImplicitlyDeclared && !names.Add(member.Name)) || member is INamedTypeSymbol || member is IFieldSymbol { IsConst: true })
                return true;
            if (AnyError(member.GetAttributes())) return true;
            switch (member)
            {
                case IFieldSymbol f when HasError(f.Type):
                case IPropertySymbol p when HasError(p.Type) || AnyError(p.Parameters):
                case IEventSymbol e when HasError(e.Type):
                // An explicit implementation's name holds its interface's.
                case IMethodSymbol m when m.Name.IndexOf('.') > 0 && m.MethodKind is not (MethodKind.Constructor or MethodKind.StaticConstructor):
                case IMethodSymbol m2 when HasError(m2.ReturnType) || AnyError(m2.GetReturnTypeAttributes()) || AnyError(m2.Parameters):
                    return true;
            }
        }
        return false;
    }

    static bool AnyError(ImmutableArray<IParameterSymbol> parameters)
    {
        foreach (var p in parameters)
            if (HasError(p.Type) || p.HasExplicitDefaultValue || AnyError(p.GetAttributes())) return true;
        return false;
    }

    static bool AnyError(ImmutableArray<AttributeData> attributes)
    {
        foreach (var a in attributes)
        {
            if (a.AttributeClass is null || HasError(a.AttributeClass) || a.AttributeConstructor is null) return true;
            foreach (var argument in a.ConstructorArguments)
                if (HasError(argument)) return true;
            foreach (var argument in a.NamedArguments)
                if (HasError(argument.Value)) return true;
        }
        return false;
    }

    static bool HasError(TypedConstant constant) => constant.Kind switch
    {
        TypedConstantKind.Error => true,
        TypedConstantKind.Type => constant.Value is not ITypeSymbol t || HasError(t),
        TypedConstantKind.Array => !constant.IsNull && AnyError(constant.Values),
        _ => false,
    };

    static bool AnyError(ImmutableArray<TypedConstant> constants)
    {
        foreach (var c in constants)
            if (HasError(c)) return true;
        return false;
    }

    static bool AnyError(ImmutableArray<INamedTypeSymbol> types)
    {
        foreach (var t in types)
            if (HasError(t)) return true;
        return false;
    }

    /// <summary>Whether <paramref name="type"/> or a type it is made of (type arguments, elements, containers) is one C# could not find.</summary>
    static bool HasError(ITypeSymbol? type) => type switch
    {
        null => false,
        { TypeKind: TypeKind.Error } => true,
        IArrayTypeSymbol a => HasError(a.ElementType),
        IPointerTypeSymbol p => HasError(p.PointedAtType),
        IFunctionPointerTypeSymbol => true,
        INamedTypeSymbol n => HasError(n.ContainingType) || AnyArgumentError(n.TypeArguments),
        _ => false,
    };

    static bool AnyArgumentError(ImmutableArray<ITypeSymbol> types)
    {
        foreach (var t in types)
            if (HasError(t)) return true;
        return false;
    }
}
