using System;
using System.ComponentModel;

namespace OptDsl;

/// <summary>
/// Put on every generated optimizer: the declaration's hyperparameters, state and rules as C# source, so that a
/// declaration in another assembly can name it as its <see cref="OptimizerAttribute.Base"/>. Not for hand use.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class DeclarationSourceAttribute : Attribute
{
    /// <param name="usings">The using directives the members are written under.</param>
    /// <param name="members">The fields and rule methods, as declared.</param>
    public DeclarationSourceAttribute(string usings, string members) => (Usings, Members) = (usings, members);

    /// <summary>The using directives the members are written under.</summary>
    public string Usings { get; }

    /// <summary>The fields and rule methods, as declared.</summary>
    public string Members { get; }
}
