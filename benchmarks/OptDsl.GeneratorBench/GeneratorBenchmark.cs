using System.Linq;
using BenchmarkDotNet.Attributes;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using OptDsl.Generators;
using OptDsl.Generators.Emitters;
using OptDsl.Generators.Model;

namespace OptDsl.GeneratorBench;

/// <summary>
/// The generator over the catalog once its code is jitted: a build's run (a fresh compilation, so the generator pays
/// for the binding it asks for, as in a build), an IDE's run after an edit to another file, and the emitters alone.
/// </summary>
[MemoryDiagnoser]
public class GeneratorBenchmark
{
    const string UnrelatedFile = "Unrelated.cs";

    CSharpCompilation compilation = null!;
    GeneratorDriver ran = null!;
    OptimizerModel[] models = null!;
    int edits;

    [GlobalSetup]
    public void Setup()
    {
        compilation = Catalog.Compilation(Unrelated(0));
        ran = Catalog.Driver(trackSteps: true).RunGenerators(compilation);
        models = ran.GetRunResult().Results.Single().TrackedSteps[TrackingNames.Model]
            .SelectMany(s => s.Outputs).Select(o => o.Value).OfType<OptimizerModel>().ToArray();
    }

    static SyntaxTree Unrelated(int n) =>
        CSharpSyntaxTree.ParseText($"class Unrelated {{ int M() => {n}; }}", Catalog.ParseOptions, path: UnrelatedFile);

    [Benchmark(Description = "build: the catalog in a fresh compilation")]
    public GeneratorDriver Build() => Catalog.Driver().RunGenerators((CSharpCompilation)compilation.Clone());

    [Benchmark(Description = "IDE: after an edit to another file")]
    public GeneratorDriver UnrelatedEdit() =>
        ran.RunGenerators(compilation.ReplaceSyntaxTree(compilation.SyntaxTrees.Last(), Unrelated(++edits)));

    [Benchmark(Description = "emit: the catalog's models into C#")]
    public int Emit() => models.Sum(m => OptimizerEmitter.Emit(m).Length);
}
