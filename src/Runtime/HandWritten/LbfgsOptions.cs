using System;
using System.IO;
using TorchSharp.Modules;

namespace OptDsl.Runtime.HandWritten;

/// <summary>The line search of an <see cref="Lbfgs"/> step (torch.optim.LBFGS's <c>line_search_fn</c>).</summary>
public enum LbfgsLineSearch
{
    /// <summary>None: each iteration moves by the learning rate along the direction (<c>line_search_fn=None</c>).</summary>
    None = 0,

    /// <summary>A line search that ends on a step meeting the strong Wolfe conditions (<c>line_search_fn="strong_wolfe"</c>).</summary>
    StrongWolfe = 1,
}

/// <summary>The hyperparameters of <see cref="Lbfgs"/>'s one parameter group, named as torch.optim.LBFGS names them.</summary>
public sealed class LbfgsOptions : OptimizerOptions
{
    /// <summary>The most iterations one step makes (<c>max_iter</c>).</summary>
    public int? MaxIter { get; set; }
    /// <summary>The most evaluations of the closure one step makes, checked after each iteration (<c>max_eval</c>).</summary>
    public int? MaxEval { get; set; }
    /// <summary>A step ends when the gradient's largest magnitude is at most this (<c>tolerance_grad</c>).</summary>
    public double? ToleranceGrad { get; set; }
    /// <summary>A step ends when the loss, the move or the directional derivative changes by less (<c>tolerance_change</c>).</summary>
    public double? ToleranceChange { get; set; }
    /// <summary>The number of curvature pairs kept (<c>history_size</c>).</summary>
    public int? HistorySize { get; set; }
    /// <summary>The line search (<c>line_search_fn</c>).</summary>
    public LbfgsLineSearch? LineSearch { get; set; }

    /// <summary>Sets what is unset to torch.optim.LBFGS's defaults; an unset <see cref="MaxEval"/> is <c>⌊maxIter·5/4⌋</c>.</summary>
    internal void FillDefaults()
    {
        LearningRate ??= 1;
        MaxIter ??= 20;
        MaxEval ??= MaxIter is >= 1 ? (int)Math.Min(int.MaxValue, MaxIter.Value * 5L / 4) : null;
        ToleranceGrad ??= 1e-7;
        ToleranceChange ??= 1e-9;
        HistorySize ??= 100;
        LineSearch ??= LbfgsLineSearch.None;
        InitialLearningRate = LearningRate.Value;
    }

    /// <summary>
    /// Throws <see cref="ArgumentOutOfRangeException"/> naming the first option outside its range and the range;
    /// <paramref name="where"/> says whose options they are ("the options", "the checkpoint").
    /// </summary>
    internal void Validate(string name, string where)
    {
        static bool Finite(double? x) => x is >= 0 and < double.PositiveInfinity;
        (string Option, object? Value, string Range)? problem =
            !Finite(LearningRate) ? ("lr", LearningRate, "finite and >= 0")
            : MaxIter is not >= 1 ? ("maxIter", MaxIter, "an integer >= 1")
            : MaxEval is not >= 1 ? ("maxEval", MaxEval, "an integer >= 1")
            : !Finite(ToleranceGrad) ? ("toleranceGrad", ToleranceGrad, "finite and >= 0")
            : !Finite(ToleranceChange) ? ("toleranceChange", ToleranceChange, "finite and >= 0")
            : HistorySize is not >= 1 ? ("historySize", HistorySize, "an integer >= 1")
            : LineSearch is not (LbfgsLineSearch.None or LbfgsLineSearch.StrongWolfe) ? ("lineSearch", LineSearch, "None or StrongWolfe")
            : null;
        if (problem is var (option, value, range))
            throw new ArgumentOutOfRangeException(option, value,
                $"{name}: {option} = {value?.ToString() ?? "null"} in {where}; it must be {range}.");
    }

    /// <inheritdoc/>
    public override void SaveStateDict(BinaryWriter writer)
    {
        writer.Write(InitialLearningRate);
        writer.Write(LearningRate!.Value);
        writer.Write(MaxIter!.Value);
        writer.Write(MaxEval!.Value);
        writer.Write(ToleranceGrad!.Value);
        writer.Write(ToleranceChange!.Value);
        writer.Write(HistorySize!.Value);
        writer.Write((int)LineSearch!.Value);
    }

    /// <inheritdoc/>
    /// <remarks>The options read are checked before any is set.</remarks>
    public override void LoadStateDict(BinaryReader reader)
    {
        var o = new LbfgsOptions { InitialLearningRate = reader.ReadDouble(), LearningRate = reader.ReadDouble() };
        (o.MaxIter, o.MaxEval, o.ToleranceGrad, o.ToleranceChange) = (reader.ReadInt32(), reader.ReadInt32(), reader.ReadDouble(), reader.ReadDouble());
        (o.HistorySize, o.LineSearch) = (reader.ReadInt32(), (LbfgsLineSearch)reader.ReadInt32());
        try
        {
            o.Validate(Lbfgs.Name, "the checkpoint");
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
        LoadStateDict(o);
    }

    /// <inheritdoc/>
    public override void LoadStateDict(OptimizerOptions source)
    {
        if (source is not LbfgsOptions o) throw new ArgumentException($"Cannot load options of {source?.GetType().Name ?? "null"} into LbfgsOptions.");
        (InitialLearningRate, LearningRate, MaxIter, MaxEval) = (o.InitialLearningRate, o.LearningRate, o.MaxIter, o.MaxEval);
        (ToleranceGrad, ToleranceChange, HistorySize, LineSearch) = (o.ToleranceGrad, o.ToleranceChange, o.HistorySize, o.LineSearch);
    }
}
