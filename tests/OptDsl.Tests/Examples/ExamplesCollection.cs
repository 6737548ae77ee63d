using Xunit;

namespace OptDsl.Tests.Examples;

/// <summary>
/// The examples seed TorchSharp's global generator to initialise their models; tests elsewhere draw from it too, so
/// the examples' tests run on their own, after the parallel ones.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ExamplesCollection
{
    public const string Name = "Examples (seeded, run alone)";
}
