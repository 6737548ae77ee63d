using System;
using System.Diagnostics;
using System.Linq;
using BenchmarkDotNet.Running;
using Microsoft.CodeAnalysis.CSharp;
using OptDsl.GeneratorBench;

// The generator's time over the catalog: dotnet run -c Release --project benchmarks/OptDsl.GeneratorBench
// (BenchmarkDotNet, jitted code). Add -- --quick [runs] for one process's runs one after the other: the first also
// jits the compiler itself (the package's compiler is not precompiled, the SDK's is), so it overstates what a build
// pays; a build's own figure is dotnet build src/Optimizers --no-incremental -p:ReportAnalyzer=true -v:d.
if (args.Contains("--quick"))
{
    int runs = args.SkipWhile(a => a != "--quick").Skip(1).Select(a => int.TryParse(a, out var n) ? n : 0).FirstOrDefault();
    var compilation = Catalog.Compilation();
    Console.WriteLine($"{Catalog.Files().Length} files, {Environment.ProcessorCount} cores");
    for (int i = 0; i < Math.Max(runs, 6); i++)
    {
        // A fresh compilation, so that each run pays for the binding it asks for, as the generator does in a build.
        var fresh = (CSharpCompilation)compilation.Clone();
        var clock = Stopwatch.StartNew();
        var result = Catalog.Driver().RunGenerators(fresh).GetRunResult();
        Console.WriteLine($"run {i + 1}: {clock.Elapsed.TotalMilliseconds:F1} ms, {result.GeneratedTrees.Length} files");
    }
    return;
}
BenchmarkSwitcher.FromTypes(new[] { typeof(GeneratorBenchmark) }).Run(args.Length == 0 ? new[] { "--filter", "*" } : args);
