using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;
using Microsoft.CodeAnalysis;
using OptDsl.Runtime.Core;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;

namespace OptDsl.Generators.Tests.Differential;

/// <summary>
/// Random well-formed rules (<see cref="RuleGenerator"/>), compiled with the generator, loaded and run for a few steps
/// on two parameter groups with different hyperparameters — elementwise rules on the fused CPU path (whole
/// <c>Vector&lt;float&gt;</c>s and the scalar tail, as each tensor has both) and on the portable path, whole-tensor
/// rules on both (on the fused path row by row where they work per row or column; those with no fused code are
/// counted, and must be fewer than those fused), rules split into phases (per-tensor reductions, and on matrices Newton–Schulz between
/// phases) on both — each compared after every step with <see cref="RuleInterpreter"/>'s float64 run of
/// the same rule: parameters, every state tensor and the scalar state, element by element, within the interpreter's
/// float32 error bound. OPTDSL_DIFFERENTIAL_RULES sets how many rules of each kind (more for a longer search) and
/// OPTDSL_DIFFERENTIAL_SEED replays a run; a failure prints both. OPTDSL_DIFFERENTIAL_ONLY=Rule3,WholeRule1 runs those alone,
/// OPTDSL_DIFFERENTIAL_DUMP=folder writes the rules and their generated code there.
/// </summary>
public class DifferentialTests
{
    const int Steps = 4;

    static int RuleCount => int.TryParse(Environment.GetEnvironmentVariable("OPTDSL_DIFFERENTIAL_RULES"), out var n) ? n : 24;

    static int Seed => int.TryParse(Environment.GetEnvironmentVariable("OPTDSL_DIFFERENTIAL_SEED"), out var s) ? s : 20261;

    /// <summary>Elementwise rules: every tensor has whole vectors and a tail, or only a tail.</summary>
    static TensorSpec[] ElementwiseTensors()
    {
        int lanes = System.Numerics.Vector<float>.Count;
        return new[] { new TensorSpec(new long[] { 2 * lanes + 5 }, 0), new TensorSpec(new long[] { 3 }, 0),
                       new TensorSpec(new long[] { 4, 9 }, 1), new TensorSpec(new long[] { 3 * lanes + 1 }, 1) };
    }

    /// <summary>Phased rules that orthogonalise: matrices with whole vectors and tails, wide and tall, and a 3-d tensor.</summary>
    static TensorSpec[] MatrixTensors()
    {
        int lanes = System.Numerics.Vector<float>.Count;
        return new[] { new TensorSpec(new long[] { 3, 2 * lanes + 5 }, 0), new TensorSpec(new long[] { 9, 4 }, 0),
                       new TensorSpec(new long[] { 4, 9 }, 1), new TensorSpec(new long[] { 2, 3, 5 }, 1) };
    }

    /// <summary>Whole-tensor rules: matrices, wide and tall, and a 3-d tensor seen as 3 rows of 8.</summary>
    static readonly TensorSpec[] WholeTensorTensors =
    {
        new(new long[] { 5, 7 }, 0), new(new long[] { 3, 4, 2 }, 0), new(new long[] { 6, 4 }, 1), new(new long[] { 2, 9 }, 1),
    };

    /// <summary>The rules of one run: at least <see cref="RuleCount"/> of each kind, more until every construct is reached.</summary>
    public static (List<RandomRule> Rules, HashSet<string> Covered) Rules(int seed, int count)
    {
        var covered = new HashSet<string>();
        var generator = new RuleGenerator(seed, covered);
        var rules = new List<RandomRule>();
        foreach (var whole in new[] { false, true })
        {
            var required = RuleGenerator.Required(whole).ToList();
            for (int i = 0; i < count || (i < 10 * count && required.Any(r => !covered.Contains(r))); i++)
                rules.Add(generator.Next($"{(whole ? "WholeRule" : "Rule")}{i}", whole));
        }
        // Rules the fused backends run in phases, as many as of each other kind, until each reduction was reached.
        for (int i = 0; i < count || (i < 10 * count && (RuleGenerator.PhasedFunctions.Any(f => !covered.Contains("phased " + f))
                                                          || !covered.Contains("phased scalar state from a reduction"))); i++)
            rules.Add(generator.Next($"PhasedRule{i}", wholeTensor: true, phased: true));
        // Phased rules that orthogonalise between phases as well, on matrices: a third as many.
        for (int i = 0; i < Math.Max(1, count / 3); i++)
            rules.Add(generator.Next($"MatrixRule{i}", wholeTensor: true, phased: true, matrix: true));
        return (rules, covered);
    }

    [Fact]
    public void The_default_rules_reach_every_construct_of_the_emitters()
    {
        var (_, covered) = Rules(Seed, RuleCount);
        var missing = RuleGenerator.Required(wholeTensor: true).Where(r => !covered.Contains(r)).ToList();
        Assert.True(missing.Count == 0, "not reached: " + string.Join(", ", missing));
    }

    [Fact]
    public void Generated_code_agrees_with_a_float64_interpreter_of_random_rules()
    {
        OptDsl.Runtime.Services.Native.TorchSharpNative.EnsureLoadable();
        var (rules, _) = Rules(Seed, RuleCount);
        var assembly = Compile(rules);
        var factory = assembly.GetType("Differential.Factory")!;
        var failures = new List<string>();
        long compared = 0, total = 0;
        var coverage = new List<(string Rule, double Fraction)>();
        var only = Environment.GetEnvironmentVariable("OPTDSL_DIFFERENTIAL_ONLY")?.Split(',');
        int notFused = 0, wholeFused = 0;
        foreach (var rule in rules.Where(r => only is null || only.Contains(r.ClassName)))
        {
            foreach (var backend in new[] { UpdateBackend.Fused, UpdateBackend.Portable })
            {
                string? failure;
                long checkedElements = 0, elements = 0;
                try
                {
                    (failure, checkedElements, elements) = Run(rule, factory, backend);
                }
                catch (Exception e)
                {
                    var inner = e is TargetInvocationException { InnerException: { } thrown } ? thrown : e;
                    failure = $"threw {inner.GetType().Name}: {inner.Message.Split('\n')[0]}";
                }
                // A rule with other whole-tensor work may have no fused code (Newton–Schulz under a condition, say).
                if (failure == NotFused)
                {
                    notFused++;
                    continue;
                }
                if (backend == UpdateBackend.Fused && rule.WholeTensor && !rule.Phased) wholeFused++;
                compared += checkedElements;
                coverage.Add(($"{rule.ClassName}/{backend}", checkedElements / (double)Math.Max(1, elements)));
                total += elements;
                if (failure is not null) failures.Add($"{rule.ClassName} on the {backend} path: {failure}");
            }
        }
        if (failures.Count > 0)
        {
            var first = rules.First(r => failures[0].StartsWith(r.ClassName + " ", StringComparison.Ordinal));
            if (Environment.GetEnvironmentVariable("OPTDSL_DIFFERENTIAL_SHRINK") is { Length: > 0 })
            {
                var backend = failures[0].Contains(" on the Fused path", StringComparison.Ordinal) ? UpdateBackend.Fused : UpdateBackend.Portable;
                first = Shrinker.Shrink(first, candidate => Fails(candidate, backend));
                Compile(new List<RandomRule> { first }); // into OPTDSL_DIFFERENTIAL_DUMP, where set: the shrunk rule's code
            }
            Assert.Fail($"{failures.Count} runs disagree with the interpreter (OPTDSL_DIFFERENTIAL_SEED={Seed}, OPTDSL_DIFFERENTIAL_RULES={RuleCount}):\n"
                        + string.Join("\n", failures.Take(12)) + $"\n\nThe first:\n{first.Source}");
        }
        // Rules with work per row or column (state per row and column, Matrix.Row*/Column*) run fused on the CPU: most must.
        Assert.True(only is not null || wholeFused >= notFused, $"only {wholeFused} rules with other whole-tensor work ran fused, {notFused} had no fused code");
        // Fragile elements are left out; most must be checked, or the test would see little.
        Assert.True(compared >= 0.8 * total, $"only {compared} of {total} element values could be compared; the fewest in "
            + string.Join(", ", coverage.OrderBy(c => c.Fraction).Take(8).Select(c => $"{c.Rule} {c.Fraction:P0}")));
    }

    /// <summary>Whether <paramref name="rule"/>, compiled alone, disagrees with the interpreter or throws on <paramref name="backend"/> (false when it does not compile).</summary>
    static bool Fails(RandomRule rule, UpdateBackend backend)
    {
        Type factory;
        try
        {
            factory = Compile(new List<RandomRule> { rule }).GetType("Differential.Factory")!;
        }
        catch (Xunit.Sdk.XunitException)
        {
            return false; // rejected or not compiling: a cut too far, not the failure being shrunk
        }
        try
        {
            return Run(rule, factory, backend).Failure is { } failure && failure != NotFused;
        }
        catch (Exception)
        {
            return true; // throwing is failing, as in the run itself
        }
    }

    static Assembly Compile(List<RandomRule> rules)
    {
        var sources = rules.Select(r => r.Source).Append(FactorySource(rules)).ToArray();
        var run = GeneratorHarness.Generate(sources);
        var ours = run.GeneratorDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error || d.Id.StartsWith("OPT", StringComparison.Ordinal)).ToList();
        if (ours.Count > 0) Assert.Fail("the generator rejected random rules:\n" + Describe(ours, sources));
        if (Environment.GetEnvironmentVariable("OPTDSL_DIFFERENTIAL_DUMP") is { Length: > 0 } folder)
        {
            Directory.CreateDirectory(folder);
            foreach (var tree in run.Output.SyntaxTrees) File.WriteAllText(Path.Combine(folder, Path.GetFileName(tree.FilePath)), tree.GetText().ToString());
        }
        using var image = new MemoryStream();
        var emitted = run.Output.Emit(image);
        if (!emitted.Success)
            Assert.Fail("the generated code does not compile:\n" + Describe(emitted.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList(), sources));
        return Assembly.Load(image.ToArray());
    }

    static string Describe(List<Diagnostic> diagnostics, string[] sources)
    {
        var text = new StringBuilder(string.Join("\n", diagnostics.Take(10)));
        var path = diagnostics[0].Location.GetLineSpan().Path ?? "";
        if (path.StartsWith("Declaration", StringComparison.Ordinal) && int.TryParse(path.Substring(11, path.Length - 14), out var index))
            text.Append("\n\n").Append(sources[index]);
        else if (diagnostics[0].Location.SourceTree is { } tree)
        {
            // Generated code: the lines around the error, and the declaration it came from.
            var lines = tree.GetText().Lines;
            int at = diagnostics[0].Location.GetLineSpan().StartLinePosition.Line;
            for (int i = Math.Max(0, at - 4); i <= Math.Min(lines.Count - 1, at + 2); i++) text.Append('\n').Append(i == at ? ">> " : "   ").Append(lines[i]);
            var name = Path.GetFileName(path).Replace("Differential.", "").Replace(".g.cs", "");
            if (sources.FirstOrDefault(s => s.Contains($"partial class {name}\n", StringComparison.Ordinal)) is { } declaration) text.Append("\n\n").Append(declaration);
        }
        return text.ToString();
    }

    /// <summary>Creates each rule's optimizer over two groups (the second with other hyperparameters) and reads its state.</summary>
    static string FactorySource(List<RandomRule> rules)
    {
        var w = new StringBuilder();
        w.Append("using System.Collections.Generic;\nusing TorchSharp.Modules;\nusing OptDsl.Runtime.Core;\n\nnamespace Differential;\n\n");
        w.Append("public static class Factory\n{\n");
        w.Append("    public static DeclaredOptimizer Create(string rule, IEnumerable<Parameter> first, IEnumerable<Parameter> second) => rule switch\n    {\n");
        foreach (var r in rules)
            w.Append($"        \"{r.ClassName}\" => new {r.ClassName}(new {r.ClassName}.ParamGroup[] {{ new {r.ClassName}.ParamGroup(first), new {r.ClassName}.ParamGroup(second, ")
                .Append(string.Join(", ", RuleGenerator.Hypers.Select(h => $"{h.Name}: {RuleText.Literal(h.Second, h.Type).TrimEnd('f')}")))
                .Append(") }),\n");
        w.Append("        _ => throw new System.ArgumentException(rule),\n    };\n\n");
        w.Append("    public static DeclaredState State(DeclaredOptimizer optimizer, Parameter parameter) => optimizer switch\n    {\n");
        foreach (var r in rules) w.Append($"        {r.ClassName} o => o.StateOf(parameter),\n");
        w.Append("        _ => throw new System.ArgumentException(optimizer.GetType().Name),\n    };\n}\n");
        return w.ToString();
    }

    /// <summary>What <see cref="Run"/> says of a rule with other whole-tensor work that has no fused code, on the fused path.</summary>
    const string NotFused = "no fused code";

    /// <summary>Runs one rule on one path and compares every step; returns the first disagreement, if any.</summary>
    static (string? Failure, long Compared, long Total) Run(RandomRule rule, Type factory, UpdateBackend backend)
    {
        var specs = rule.Matrix ? MatrixTensors() : rule.WholeTensor && !rule.Phased ? WholeTensorTensors : ElementwiseTensors();
        var random = new Random(rule.ClassName.Aggregate(Seed, (h, c) => unchecked(h * 31 + c)));
        float[] Values(int count) => Enumerable.Range(0, count).Select(_ => (float)Normal(random)).ToArray();

        using var scope = torch.NewDisposeScope();
        var initial = specs.Select(s => Values(s.Count)).ToArray();
        var parameters = specs.Select((s, k) => new Parameter(torch.tensor(initial[k]).reshape(s.Shape))).ToArray();
        var optimizer = (DeclaredOptimizer)factory.GetMethod("Create")!.Invoke(null, new object[]
        {
            rule.ClassName, parameters.Where((_, k) => specs[k].Group == 0).ToArray(), parameters.Where((_, k) => specs[k].Group == 1).ToArray(),
        })!;
        optimizer.Backend = backend;
        if (backend == UpdateBackend.Fused && rule.WholeTensor && !rule.Phased && optimizer.FusedStatus.StartsWith("no fused code", StringComparison.Ordinal))
            return (NotFused, 0, 0);
        var interpreter = new RuleInterpreter(rule, specs, initial.SelectMany(v => v.Select(x => (double)x)).ToArray());
        var states = rule.States;
        long compared = 0, total = 0;

        for (int step = 1; step <= Steps; step++)
        {
            var gradients = specs.Select(s => Values(s.Count)).ToArray();
            for (int k = 0; k < specs.Length; k++) parameters[k].grad = torch.tensor(gradients[k]).reshape(specs[k].Shape);
            optimizer.step();
            interpreter.Step(gradients.SelectMany(v => v.Select(x => (double)x)).ToArray());
            if (backend == UpdateBackend.Fused && !optimizer.FusedStatus.Contains("CPU: ", StringComparison.Ordinal))
                return ($"the fused CPU path did not run ({optimizer.FusedStatus})", compared, total);

            for (int k = 0; k < specs.Length; k++)
            {
                var state = (DeclaredState)factory.GetMethod("State")!.Invoke(null, new object[] { optimizer, parameters[k] })!;
                var failure = Compare("p", parameters[k]);
                for (int i = 0; i < states.Length && failure is null; i++)
                {
                    if (state.Tensors[i] is not { } tensor)
                    {
                        // Conditional state exists only where its flag holds (the first group).
                        if (states[i] != "o" || specs[k].Group == 0) failure = $"state '{states[i]}' is missing";
                        continue;
                    }
                    failure = Compare(states[i], tensor.expand_as(parameters[k]));
                }
                if (failure is null)
                {
                    var (value, error) = interpreter.Read("s");
                    int at = interpreter.Offset(k);
                    if (!interpreter.Fragile[at] && !Agrees(state.Scalars[0], value[at], error[at]))
                        failure = $"scalar state 's' is {state.Scalars[0]:R}, the interpreter's {value[at]:R} (bound {error[at]:E2})";
                }
                if (failure is not null) return ($"after step {step}, tensor {k} ([{string.Join(", ", specs[k].Shape)}], group {specs[k].Group}): {failure}", compared, total);

                string? Compare(string name, torch.Tensor actualTensor)
                {
                    var actual = actualTensor.contiguous().data<float>().ToArray();
                    var (value, error) = interpreter.Read(name);
                    int offset = interpreter.Offset(k);
                    for (int j = 0; j < actual.Length; j++)
                    {
                        total++;
                        if (interpreter.Fragile[offset + j]) continue;
                        compared++;
                        if (!Agrees(actual[j], value[offset + j], error[offset + j]))
                            return $"'{name}' element {j} is {actual[j]:R}, the interpreter's {value[offset + j]:R} (bound {error[offset + j]:E2})";
                    }
                    return null;
                }
            }
        }
        if (compared < total / 2)
            Console.WriteLine($"{rule.ClassName} on the {backend} path: {compared} of {total} values compared; fragile after "
                              + string.Join(", ", interpreter.FragileBecause.Where(b => b is not null).Take(5)));
        return (null, compared, total);
    }

    static bool Agrees(double actual, double expected, double error) =>
        double.IsFinite(actual) && Math.Abs(actual - expected) <= RuleInterpreter.Slack * error + 1e-30;

    static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
