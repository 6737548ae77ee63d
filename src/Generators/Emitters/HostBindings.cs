using OptDsl.Generators.Model;

namespace OptDsl.Generators.Emitters;

/// <summary>How both backends' host code declares values: hyperparameters read from a group's options, and locals.</summary>
static class HostBindings
{
    /// <summary>The C# type of a host value: reals in double, integers in long.</summary>
    public static string Type(ValueKind type) => type switch
    {
        ValueKind.Boolean => "bool",
        ValueKind.Integer => "long",
        _ => "double",
    };

    /// <summary><c>double beta1 = options.Beta1!.Value;</c> (the learning rate lives in TorchSharp's <c>LearningRate</c>).</summary>
    public static string Hyper(HyperModel h, string variable, string options)
    {
        var type = h.Type switch { HyperType.Bool => "bool", HyperType.Int => "long", _ => "double" };
        var property = h.IsLearningRate ? "LearningRate" : Names.Pascal(h.Name);
        return $"{type} {variable} = {options}.{property}!.Value;";
    }
}
