using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Optimizers;
using OptDsl.Runtime.Core;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;
using AdamW = OptDsl.Optimizers.AdamW;

namespace OptDsl.Tests.Catalog;

/// <summary>The catalog by name (<see cref="OptimizerFactory"/>): every declaration reachable, options as configuration files write them, and clear errors.</summary>
public class OptimizerFactoryTests
{
    static Parameter[] Model() => TestData.Parameters(ScalarType.Float32);

    [Fact]
    public void Every_declared_optimizer_of_the_catalog_has_a_name()
    {
        var declared = typeof(AdamW).Assembly.GetTypes()
            .Where(t => t.IsPublic && !t.IsAbstract && typeof(DeclaredOptimizer).IsAssignableFrom(t)).Select(t => t.Name).Order().ToArray();
        Assert.Equal(declared, OptimizerFactory.Names.Order().ToArray());
        Assert.Equal(declared.Length, OptimizerFactory.Names.Distinct().Count());
    }

    [Fact]
    public void Options_as_a_config_file_writes_them_give_the_optimizer_the_constructor_gives()
    {
        var a = Model();
        var b = a.Select(p => new Parameter(p.detach().clone())).ToArray();
        using var made = OptimizerFactory.Create("adamw", a, "lr=3e-4, weight_decay=0.1, betas=(0.8, 0.95), amsgrad=true, eps=1e-6");
        using var direct = new AdamW(b, lr: 3e-4, weightDecay: 0.1, beta1: 0.8, beta2: 0.95, amsgrad: true, eps: 1e-6);
        Assert.IsType<AdamW>(made);
        Assert.Equal(3e-4, made.OptionsOf(0)["lr"]);
        Assert.Equal(3e-4, made.OptionsOf(0).InitialLearningRate, 12);
        Assert.Equal(1.0, made.OptionsOf(0)["amsgrad"]);
        for (int step = 1; step <= 5; step++)
        {
            TestData.SetGradients(a, step);
            TestData.SetGradients(b, step);
            made.step();
            direct.step();
        }
        for (int k = 0; k < a.Length; k++) Assert.True(TestData.Identical(a[k], b[k]), $"tensor {k}");
    }

    [Theory]
    [InlineData("AdamW", typeof(AdamW))]
    [InlineData("schedule_free_adamw", typeof(ScheduleFreeAdamW))]
    [InlineData("Cautious-AdamW", typeof(CautiousAdamW))]
    [InlineData("rmsprop", typeof(RMSprop))]
    [InlineData("muon", typeof(Muon))]
    public void Names_match_whatever_their_case_and_separators(string name, Type type)
    {
        using var optimizer = OptimizerFactory.Create(name, new[] { new Parameter(torch.ones(4, 3)) });
        Assert.IsType(type, optimizer);
    }

    [Fact]
    public void A_dictionary_and_a_JSON_object_set_the_same_options()
    {
        using var fromDictionary = OptimizerFactory.Create("Lion", Model(), new Dictionary<string, object?>
        {
            ["lr"] = 1e-4, ["betas"] = new[] { 0.9, 0.99 }, ["weight_decay"] = "0.1",
        });
        using var fromJson = OptimizerFactory.FromJson("""{"name": "lion", "lr": 1e-4, "betas": [0.9, 0.99], "weight_decay": 0.1}""", Model());
        foreach (var made in new[] { fromDictionary, fromJson })
        {
            Assert.IsType<Lion>(made);
            Assert.Equal(1e-4, made.OptionsOf(0)["lr"]);
            Assert.Equal(0.99, made.OptionsOf(0)["beta2"]);
            Assert.Equal(0.1, made.OptionsOf(0)["weightDecay"]);
        }
        using var muon = OptimizerFactory.FromJson("""{"optimizer": "Muon", "ns_steps": 3, "polar_express": true}""", new[] { new Parameter(torch.ones(4, 3)) });
        Assert.Equal(3.0, muon.OptionsOf(0)["nsSteps"]);
        Assert.Equal(1.0, muon.OptionsOf(0)["polarExpress"]);
    }

    [Fact]
    public void Its_options_are_listed_with_their_defaults_and_ranges()
    {
        var options = OptimizerFactory.OptionsOf("adamw");
        Assert.Equal(new[] { "lr", "beta1", "beta2", "eps", "weightDecay", "amsgrad", "maximize" }, options.Select(o => o.Name));
        Assert.Equal(0.01, options.Single(o => o.Name == "weightDecay").Default!.Value, 6);
        Assert.Equal(HyperKind.Flag, options.Single(o => o.Name == "amsgrad").Kind);
    }

    [Theory]
    [InlineData("adafactr", "", "No optimizer 'adafactr' in the catalog; did you mean 'Adafactor'? It has: SGD, Adam, AdamW")]
    [InlineData("adamw", "weight_decy=0.1", "AdamW has no option 'weight_decy'; did you mean 'weightDecay'? It has: lr, beta1")]
    [InlineData("adamw", "beta1=1.5", "AdamW: hyperparameter 'beta1' of the options is 1.5, outside its declared range [0, 1)")]
    [InlineData("adamw", "lr=fast", "Option 'lr' is 'fast'; give a number")]
    [InlineData("adamw", "betas=(0.9, 0.99, 0.9, 0.1)", "Option 'betas' has 4 values; it takes two or three")]
    [InlineData("adamw", "lr=1e-3, LR=2e-3", "Option 'LR' is given twice")]
    [InlineData("adamw", "betas=(0.9, 0.99", "unbalanced brackets")]
    [InlineData("adamw", "amsgrad", "'amsgrad' in the options is not key=value")]
    [InlineData("sgd", "nesterov=2", "it must be true (1) or false (0)")]
    public void A_wrong_name_option_or_value_is_refused_with_what_there_is(string name, string options, string message)
    {
        var parameters = Model();
        var before = parameters.Select(p => p.detach().clone()).ToArray();
        var error = Assert.ThrowsAny<ArgumentException>(() => OptimizerFactory.Create(name, parameters, options));
        Assert.Contains(message, error.Message);
        for (int k = 0; k < parameters.Length; k++) Assert.True(TestData.Identical(parameters[k], before[k]));
    }

    [Fact]
    public void JSON_that_is_not_an_optimizer_is_refused()
    {
        Assert.Contains("no \"name\"", Assert.Throws<ArgumentException>(() => OptimizerFactory.FromJson("""{"lr": 1}""", Model())).Message);
        Assert.Contains("must be an object", Assert.Throws<ArgumentException>(() => OptimizerFactory.FromJson("[1]", Model())).Message);
        Assert.Contains("JSON Object", Assert.Throws<ArgumentException>(() => OptimizerFactory.FromJson("""{"name": "sgd", "lr": {"x": 1}}""", Model())).Message);
    }
}
