using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Parsing;

/// <summary>What the declaration's fields and update parameters are, for the body translator.</summary>
sealed class Roles
{
    public Dictionary<IFieldSymbol, HyperModel> Hypers { get; } = new(SymbolEqualityComparer.Default);
    public Dictionary<IFieldSymbol, StateModel> States { get; } = new(SymbolEqualityComparer.Default);
    public Dictionary<IFieldSymbol, ScalarStateModel> ScalarStates { get; } = new(SymbolEqualityComparer.Default);
    /// <summary>Fields marked as a hyperparameter or state whose declaration already has an error: uses stay quiet.</summary>
    public HashSet<IFieldSymbol> Broken { get; } = new(SymbolEqualityComparer.Default);
    public IParameterSymbol? Param { get; set; }
    public IParameterSymbol? Grad { get; set; }
    public IParameterSymbol? Step { get; set; }
}
