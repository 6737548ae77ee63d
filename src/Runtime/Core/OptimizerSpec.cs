using System;
using System.Collections.Generic;
using System.Linq;

namespace OptDsl.Runtime.Core;

/// <summary>
/// Everything the runtime needs to know about a declared optimizer, emitted by the generator as a static table:
/// the runtime validates, fills, saves and loads options and state from it.
/// </summary>
public sealed class OptimizerSpec
{
    /// <summary>Creates the table.</summary>
    public OptimizerSpec(string name, IReadOnlyList<HyperSpec> hypers, IReadOnlyList<StateSpec> states, IReadOnlyList<ScalarStateSpec> scalarStates,
        string? matrixWork = null, int matrixDimensions = 2)
    {
        Name = name;
        MatrixWork = matrixWork;
        MatrixDimensions = matrixWork is null ? 0 : matrixDimensions;
        Hypers = hypers;
        States = states;
        ScalarStates = scalarStates;
        LearningRateIndex = hypers.ToList().FindIndex(h => h.Name == "lr");
    }

    /// <summary>
    /// The matrix work of the rule (as <c>Matrix.NewtonSchulz</c>, row state), or null: such a rule takes only
    /// parameters of at least <see cref="MatrixDimensions"/> dimensions, seen as matrices of <c>shape[0]</c> rows.
    /// </summary>
    public string? MatrixWork { get; }

    /// <summary>
    /// The fewest dimensions a parameter needs: 2 for orthogonalisation, 1 for row and column work only (a vector is
    /// a matrix of one column), 0 without matrix work.
    /// </summary>
    public int MatrixDimensions { get; }

    /// <summary>The optimizer's class name.</summary>
    public string Name { get; }
    /// <summary>Hyperparameters in declaration order.</summary>
    public IReadOnlyList<HyperSpec> Hypers { get; }
    /// <summary>Per-element state in declaration order.</summary>
    public IReadOnlyList<StateSpec> States { get; }
    /// <summary>Per-tensor scalar state in declaration order.</summary>
    public IReadOnlyList<ScalarStateSpec> ScalarStates { get; }
    /// <summary>The index of the hyperparameter named <c>lr</c>, which is TorchSharp's learning rate; -1 if none.</summary>
    public int LearningRateIndex { get; }

    /// <summary>The index of the hyperparameter called <paramref name="name"/>; throws if there is none.</summary>
    public int HyperIndex(string name)
    {
        for (int i = 0; i < Hypers.Count; i++)
            if (Hypers[i].Name == name) return i;
        throw new ArgumentException($"{Name} has no hyperparameter '{name}'. It has: {string.Join(", ", Hypers.Select(h => h.Name))}.", nameof(name));
    }
}
