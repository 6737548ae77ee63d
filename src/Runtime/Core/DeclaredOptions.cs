using System;
using System.Globalization;
using System.IO;
using TorchSharp.Modules;

namespace OptDsl.Runtime.Core;

/// <summary>
/// The hyperparameters of one parameter group of a declared optimizer. The generated <c>Options</c> class adds a
/// typed property per hyperparameter; values are kept here by index so that validation, defaults, checkpoints and
/// schedules work the same for every declaration. The hyperparameter named <c>lr</c> lives in TorchSharp's
/// <see cref="OptimizerOptions.LearningRate"/>, so TorchSharp's LR schedulers drive it.
/// </summary>
public abstract class DeclaredOptions : OptimizerOptions
{
    readonly double?[] _values;

    /// <summary>Creates options with every value unset (taken from the optimizer's defaults when the group is added).</summary>
    protected DeclaredOptions()
    {
        _values = new double?[Spec.Hypers.Count];
    }

    /// <summary>The declaration these options belong to.</summary>
    public abstract OptimizerSpec Spec { get; }

    /// <summary>The value of hyperparameter <paramref name="index"/>, or null while unset.</summary>
    public double? Get(int index) => index == Spec.LearningRateIndex ? LearningRate : _values[index];

    /// <summary>Sets hyperparameter <paramref name="index"/> (null unsets it).</summary>
    public void Set(int index, double? value)
    {
        if (index == Spec.LearningRateIndex) LearningRate = value;
        else _values[index] = value;
    }

    /// <summary>The value of hyperparameter <paramref name="index"/>; throws if it is unset.</summary>
    public double Value(int index) =>
        Get(index) ?? throw new InvalidOperationException($"{Spec.Name}: hyperparameter '{Spec.Hypers[index].Name}' has no value.");

    /// <summary>Gets or sets a hyperparameter by its declared name.</summary>
    public double? this[string name]
    {
        get => Get(Spec.HyperIndex(name));
        set => Set(Spec.HyperIndex(name), value);
    }

    /// <summary>Sets every unset value from <paramref name="defaults"/>.</summary>
    public void FillFrom(DeclaredOptions defaults)
    {
        for (int i = 0; i < Spec.Hypers.Count; i++)
            if (Get(i) is null) Set(i, defaults.Get(i));
        if (Spec.LearningRateIndex >= 0 && InitialLearningRate == 0) InitialLearningRate = LearningRate ?? 0;
    }

    /// <summary>
    /// Throws <see cref="ArgumentException"/> naming the first hyperparameter that is unset, NaN, infinite where
    /// the range does not allow it, outside its declared range, not a whole number / flag where one is declared, or
    /// a real number that float32 cannot hold (see <see cref="Check"/>).
    /// </summary>
    /// <param name="where">Says which options these are in the message, e.g. "parameter group 2".</param>
    public void Validate(string where)
    {
        for (int i = 0; i < Spec.Hypers.Count; i++)
        {
            var v = Get(i);
            if (v is null)
                throw new ArgumentException($"{Spec.Name}: hyperparameter '{Spec.Hypers[i].Name}' of {where} has no value; give it one in the constructor or the group's options.");
            Check(Spec, i, v.Value, where);
        }
    }

    /// <summary>Throws <see cref="ArgumentException"/> when <paramref name="value"/> is not valid for hyperparameter <paramref name="index"/>.</summary>
    /// <remarks>
    /// A real hyperparameter is checked twice: as given, and as the float32 it becomes where the update runs (the fused
    /// kernels read their scalars as float, the portable path meets float32 tensors). That float32 value must lie in the
    /// declared range too (any finite value without one): so a finite value beyond float32's largest,
    /// 3.4028235E+38, which becomes infinity, is refused, and so is 0.99999999999 for a beta in [0, 1), which becomes 1.
    /// Where the range excludes zero (an eps in (0, inf)) the float32 value must moreover be normal: a value that
    /// float32 makes zero or subnormal (below 1.17549435E-38) is refused, since zero breaks the rule outright and
    /// flush-to-zero arithmetic reads a subnormal as zero.
    /// </remarks>
    public static void Check(OptimizerSpec spec, int index, double value, string where)
    {
        var h = spec.Hypers[index];
        string Fail(string why) => $"{spec.Name}: hyperparameter '{h.Name}' of {where} {why}.";
        if (double.IsNaN(value)) throw new ArgumentException(Fail("is NaN"));
        if (h.Range is { } range)
        {
            if (!range.Contains(value))
                throw new ArgumentException(Fail($"is {Format(value)}, outside its declared range {range}"));
        }
        else if (double.IsInfinity(value))
        {
            throw new ArgumentException(Fail($"is {Format(value)}; it must be finite"));
        }
        if (h.Kind == HyperKind.Integer && (value != Math.Floor(value) || Math.Abs(value) > int.MaxValue))
            throw new ArgumentException(Fail($"is {Format(value)}; it must be a whole number"));
        if (h.Kind == HyperKind.Flag && value != 0 && value != 1)
            throw new ArgumentException(Fail($"is {Format(value)}; it must be true (1) or false (0)"));
        // Every real hyperparameter, float or double in the declaration: the table does not say which, nor whether a
        // value feeds only host math, and a double one still reaches float32 tensors (Prodigy's growthRate does).
        if (h.Kind == HyperKind.Real && Float32Problem(value, h.Range) is { } why) throw new ArgumentException(Fail(why));
    }

    // 2^-126: float32 numbers below it in magnitude are subnormal.
    const float SmallestNormalSingle = 1.17549435E-38f;

    /// <summary>
    /// Why float32 cannot hold <paramref name="value"/> as a value of <paramref name="range"/> (its rounding leaves the
    /// range or overflows, or it underflows where zero is excluded), or null when it can.
    /// </summary>
    static string? Float32Problem(double value, Interval? range)
    {
        float single = (float)value;
        if (float.IsInfinity(single) && !double.IsInfinity(value))
            return $"{Made()}; the largest float32 is {FormatSingle(float.MaxValue)}";
        if (range is not { } r) return null;
        if (!r.Contains(single)) return $"{Made()}, outside its declared range {r}";
        if (!r.Contains(0) && float.IsSubnormal(single))
            return $"{Made()}, a subnormal number (the smallest normal float32 is {FormatSingle(SmallestNormalSingle)}) that flush-to-zero arithmetic reads as 0, outside its declared range {r}";
        return null;

        string Made() => $"is {Format(value)}, which float32 (the precision the update computes in) makes {FormatSingle(single)}";
    }

    /// <inheritdoc/>
    public override void SaveStateDict(BinaryWriter writer)
    {
        writer.Write(InitialLearningRate);
        writer.Write(Spec.Hypers.Count);
        for (int i = 0; i < Spec.Hypers.Count; i++)
        {
            writer.Write(Spec.Hypers[i].Name);
            writer.Write(Value(i));
        }
    }

    /// <inheritdoc/>
    public override void LoadStateDict(BinaryReader reader)
    {
        double initial = reader.ReadDouble();
        int count = reader.ReadInt32();
        if (count != Spec.Hypers.Count)
            throw new InvalidDataException($"{Spec.Name}: the checkpoint holds {count} hyperparameters per group, this optimizer declares {Spec.Hypers.Count}.");
        var values = new double[count];
        for (int i = 0; i < count; i++)
        {
            var name = reader.ReadString();
            if (name != Spec.Hypers[i].Name)
                throw new InvalidDataException($"{Spec.Name}: the checkpoint's hyperparameter {i} is '{name}', this optimizer declares '{Spec.Hypers[i].Name}'.");
            values[i] = reader.ReadDouble();
        }
        InitialLearningRate = initial;
        for (int i = 0; i < count; i++) Set(i, values[i]);
    }

    /// <inheritdoc/>
    public override void LoadStateDict(OptimizerOptions source)
    {
        if (source is not DeclaredOptions other || other.Spec.Name != Spec.Name)
            throw new ArgumentException($"{Spec.Name}: cannot load options of {source.GetType().Name}.");
        InitialLearningRate = other.InitialLearningRate;
        for (int i = 0; i < Spec.Hypers.Count; i++) Set(i, other.Get(i));
    }

    static string Format(double x) => x.ToString("R", CultureInfo.InvariantCulture);

    static string FormatSingle(float x) => float.IsInfinity(x) ? (x > 0 ? "infinity" : "-infinity") : x.ToString("R", CultureInfo.InvariantCulture);
}
