using System.Collections.Generic;
using System.Linq;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Emitters;

/// <summary>The generated public surface: constructors, per-group <c>Options</c>, <c>ParamGroup</c> and per-parameter <c>State</c>.</summary>
static partial class OptimizerEmitter
{
    static void Constructors(OptimizerModel model, CodeWriter w)
    {
        var hypers = OrderedForConstructor(model);
        var declared = string.Join("", hypers.Select(h => ", " + Parameter(h)));
        var forwarded = string.Join("", hypers.Select(h => ", " + NameAllocator.Escape(h.Name)));

        w.Line();
        w.Doc($"<summary>Creates {model.ClassName} over <paramref name=\"parameters\"/>, all in one group.</summary>");
        w.Doc("<param name=\"parameters\">The parameters to optimize.</param>");
        HyperParamDocs(hypers, w);
        w.Line($"public {ClassName(model)}({Parameters} parameters{declared})");
        w.Line($"    : this(new ParamGroup[] {{ new ParamGroup(parameters) }}{forwarded})");
        w.Line("{");
        w.Line("}");

        w.Line();
        w.Doc($"<summary>Creates {model.ClassName} over named parameters (as <c>module.named_parameters()</c> gives them), all in one group.</summary>");
        w.Doc("<param name=\"namedParameters\">The parameters to optimize, with their names.</param>");
        HyperParamDocs(hypers, w);
        w.Line($"public {ClassName(model)}(global::System.Collections.Generic.IEnumerable<(string name, {ParameterType} parameter)> namedParameters{declared})");
        w.Line($"    : this(global::System.Linq.Enumerable.Select(namedParameters, np => np.parameter){forwarded})");
        w.Line("{");
        w.Line("}");

        w.Line();
        w.Doc($"<summary>Creates {model.ClassName} over parameter groups; what a group's options leave unset comes from the values given here.</summary>");
        w.Doc("<param name=\"groups\">The parameter groups, each with its own options.</param>");
        HyperParamDocs(hypers, w);
        w.Line($"public {ClassName(model)}(global::System.Collections.Generic.IEnumerable<global::TorchSharp.Modules.ParamGroup<Options>> groups{declared})");
        w.Line($"    : base(groups, new Options {{ {string.Join(", ", model.Hypers.Select(h => $"{Property(h)} = {NameAllocator.Escape(h.Name)}"))} }})");
        w.Line("{");
        w.Line("}");
    }

    static void OptionsClass(OptimizerModel model, CodeWriter w)
    {
        w.Line();
        w.Doc("<summary>The hyperparameters of one parameter group; unset values come from the optimizer's defaults.</summary>");
        w.Open($"public sealed class Options : {RuntimeApi.DeclaredOptions}");
        w.Doc("<inheritdoc/>");
        w.Line($"public override {RuntimeApi.OptimizerSpec} Spec => Declaration;");
        for (int i = 0; i < model.Hypers.Count; i++)
        {
            var h = model.Hypers[i];
            if (h.IsLearningRate) continue;
            w.Line();
            w.Doc($"<summary>{HyperDescription(h)}</summary>");
            var property = Names.Pascal(h.Name);
            switch (h.Type)
            {
                case HyperType.Bool:
                    w.Line($"public bool? {property} {{ get => Get({i}) is double v ? v != 0 : null; set => Set({i}, value is bool b ? (b ? 1.0 : 0.0) : null); }}");
                    break;
                case HyperType.Int:
                    w.Line($"public int? {property} {{ get => Get({i}) is double v ? (int)v : null; set => Set({i}, value); }}");
                    break;
                default:
                    w.Line($"public double? {property} {{ get => Get({i}); set => Set({i}, value); }}");
                    break;
            }
        }
        w.Close();
    }

    static void ParamGroupClass(OptimizerModel model, CodeWriter w)
    {
        w.Line();
        w.Doc("<summary>A group of parameters with hyperparameters of its own.</summary>");
        w.Open("public sealed class ParamGroup : global::TorchSharp.Modules.ParamGroup<Options>");
        w.Doc("<summary>An empty group.</summary>");
        w.Line("public ParamGroup() { }");
        w.Line();
        w.Doc("<summary>A group of <paramref name=\"parameters\"/> with <paramref name=\"options\"/>.</summary>");
        w.Doc("<param name=\"parameters\">The group's parameters.</param>");
        w.Doc("<param name=\"options\">The group's hyperparameters; unset ones come from the optimizer's defaults.</param>");
        w.Line($"public ParamGroup({Parameters} parameters, Options options) : base(parameters, options) {{ }}");
        w.Line();
        w.Doc("<summary>A group of <paramref name=\"parameters\"/> that overrides the hyperparameters given; null ones come from the optimizer's defaults.</summary>");
        w.Doc("<param name=\"parameters\">The group's parameters.</param>");
        HyperParamDocs(model.Hypers, w);
        var nullable = string.Join("", model.Hypers.Select(h => $", {NullableType(h)} {NameAllocator.Escape(h.Name)} = null"));
        w.Line($"public ParamGroup({Parameters} parameters{nullable})");
        w.Line($"    : base(parameters, new Options {{ {string.Join(", ", model.Hypers.Select(h => $"{Property(h)} = {NameAllocator.Escape(h.Name)}"))} }})");
        w.Line("{");
        w.Line("}");
        w.Close();
    }

    static void StateClass(OptimizerModel model, CodeWriter w)
    {
        w.Line();
        w.Doc("<summary>The optimizer's state for one parameter.</summary>");
        w.Open($"public sealed class State : {RuntimeApi.DeclaredState}");
        w.Doc("<summary>Creates the (not yet allocated) state of <paramref name=\"parameter\"/>.</summary>");
        w.Doc("<param name=\"parameter\">The parameter this state belongs to.</param>");
        w.Line($"public State({ParameterType} parameter) : base(parameter) {{ }}");
        w.Line();
        w.Doc("<inheritdoc/>");
        w.Line($"public override {RuntimeApi.OptimizerSpec} Spec => Declaration;");
        for (int i = 0; i < model.States.Count; i++)
        {
            var s = model.States[i];
            w.Line();
            w.Doc($"<summary>{s.Summary ?? $"Per-element state <c>{s.Name}</c>."}{(s.OnlyIf is null ? "" : $" Null unless <c>{s.OnlyIf}</c> is true.")}</summary>");
            w.Line(s.OnlyIf is null
                ? $"public {TensorType} {Names.Pascal(s.Name)} => Tensors[{i}]!;"
                : $"public {TensorType}? {Names.Pascal(s.Name)} => Tensors[{i}];");
        }
        for (int i = 0; i < model.ScalarStates.Count; i++)
        {
            var s = model.ScalarStates[i];
            w.Line();
            w.Doc($"<summary>{s.Summary ?? $"Per-tensor state <c>{s.Name}</c>."}</summary>");
            w.Line($"public double {Names.Pascal(s.Name)} {{ get => Scalars[{i}]; set => Scalars[{i}] = value; }}");
        }
        w.Close();
    }

    /// <summary>Required hyperparameters first (C# needs them before optional ones), each group in declaration order.</summary>
    static List<HyperModel> OrderedForConstructor(OptimizerModel model) =>
        model.Hypers.Where(h => h.Default is null).Concat(model.Hypers.Where(h => h.Default is not null)).ToList();

    static string Parameter(HyperModel h)
    {
        var type = h.Type switch { HyperType.Bool => "bool", HyperType.Int => "int", _ => "double" };
        if (h.Default is not { } d) return $"{type} {NameAllocator.Escape(h.Name)}";
        var value = h.Type switch
        {
            HyperType.Bool => Bool(d != 0),
            HyperType.Int => ((long)d).ToString(System.Globalization.CultureInfo.InvariantCulture),
            _ => Literals.Real(d),
        };
        return $"{type} {NameAllocator.Escape(h.Name)} = {value}";
    }

    static string NullableType(HyperModel h) => h.Type switch { HyperType.Bool => "bool?", HyperType.Int => "int?", _ => "double?" };

    static string Property(HyperModel h) => h.IsLearningRate ? "LearningRate" : Names.Pascal(h.Name);
}
