using OptDsl.Tests.Shared;
using Xunit;

namespace OptDsl.Generators.Tests;

/// <summary>The generated source of representative declarations, one reviewed file each.</summary>
public class SnapshotTests
{
    [Theory]
    [InlineData("SGD")]
    [InlineData("AdamW")]
    [InlineData("RMSprop")]
    [InlineData("NAdam")]
    [InlineData("Adan")]
    [InlineData("ScheduleFreeAdamW")]
    [InlineData("Lamb")]
    [InlineData("Muon")]
    [InlineData("NorMuon")]
    [InlineData("Adafactor")]
    [InlineData("Swan")]
    [InlineData("SignSgd")]
    [InlineData("DoG")]
    [InlineData("Sophia")]
    [InlineData("Prodigy")]
    public void Catalog_declaration_generates_the_reviewed_source(string name)
    {
        var run = GeneratorHarness.Generate(Declarations.Catalog(name));
        Snapshot.Match(run.Generated($"OptDsl.Optimizers.{name}.g.cs"), name);
    }

    [Fact]
    public void The_example_declaration_generates_the_reviewed_source()
    {
        var run = GeneratorHarness.Generate(Declarations.Example);
        Snapshot.Match(run.Generated("QuickStart.LaProp.g.cs"), "LaProp");
    }

    [Fact]
    public void Per_element_branches_generate_the_reviewed_source()
    {
        var run = GeneratorHarness.Generate(Declarations.Branchy);
        Snapshot.Match(run.Generated("Branchy.g.cs"), "Branchy");
    }

    [Fact]
    public void The_native_loading_initializer_is_generated_once_per_assembly()
    {
        var run = GeneratorHarness.Generate(Declarations.Catalog("Lion"), Declarations.Catalog("Adan"));
        Snapshot.Match(run.Generated("OptDslNativeInitializer.g.cs"), "NativeInitializer");
    }
}
