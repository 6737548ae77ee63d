namespace OptDsl.Generators.Model;

/// <summary>How declared names become generated member names.</summary>
public static class Names
{
    /// <summary><c>weightDecay</c> becomes <c>WeightDecay</c>; <c>m</c> becomes <c>M</c>.</summary>
    public static string Pascal(string name) =>
        name.Length == 0 ? name : char.ToUpperInvariant(name[0]) + name.Substring(1);
}
