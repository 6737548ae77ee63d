using System;
using System.IO;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Composition;
using OptDsl.Runtime.Services.Schedules;
using OptDsl.Tests.Catalog;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;
using AdamW = OptDsl.Optimizers.AdamW;
using Lamb = OptDsl.Optimizers.Lamb;
using SGD = OptDsl.Optimizers.SGD;

namespace OptDsl.Tests.Runtime;

/// <summary>One optimizer object over several: each parameter stepped by its route's optimizer, atomically, in one checkpoint.</summary>
public sealed class RoutingTests : IDisposable
{
    readonly string _folder = Directory.CreateTempSubdirectory("optdsl-routing-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    static readonly (string Name, long[] Shape)[] Layout =
    {
        ("embed.weight", new long[] { 10, 4 }), ("hidden.weight", new long[] { 4, 4 }), ("hidden.bias", new long[] { 4 }),
        ("head.weight", new long[] { 2, 4 }),
    };


    static (string name, Parameter parameter)[] Model() =>
        Layout.Select((l, k) => (l.Name, new Parameter(TestData.Normal(l.Shape, 3 + (ulong)k)))).ToArray();

    static void SetGradients((string name, Parameter parameter)[] model, int step)
    {
        using var _ = torch.no_grad();
        for (int k = 0; k < model.Length; k++) model[k].parameter.grad = TestData.Normal(model[k].parameter.shape, 1000 + 10 * (ulong)step + (ulong)k);
    }

    static RoutedOptimizer Routed((string name, Parameter parameter)[] model) =>
        model.Route("lamb", Routing.Matrices("embed", "head"), ps => new Lamb(ps, lr: 0.01))
            .Otherwise("adamw", ps => new AdamW(ParameterGroups.WeightDecayMask<AdamW.Options>(ps), lr: 0.01, weightDecay: 0.1));

    static bool Same((string name, Parameter parameter)[] a, (string name, Parameter parameter)[] b) =>
        a.Zip(b).All(x => TestData.Identical(x.First.parameter, x.Second.parameter));

    [Fact]
    public void Each_parameter_is_stepped_by_its_routes_optimizer()
    {
        using var kept = KeptScalars.Rent();
        var routedModel = Model();
        using var routed = Routed(routedModel);
        Assert.Equal(new[] { "hidden.weight" }, routed.Routes[0].ParameterNames);
        Assert.Equal(new[] { "embed.weight", "hidden.bias", "head.weight" }, routed.Routes[1].ParameterNames);

        var separate = Model();
        using var lamb = new Lamb(new[] { separate[1].parameter }, lr: 0.01);
        using var adamw = new AdamW(ParameterGroups.WeightDecayMask<AdamW.Options>(new[] { separate[0], separate[2], separate[3] }), lr: 0.01, weightDecay: 0.1);
        for (int step = 1; step <= 5; step++)
        {
            SetGradients(routedModel, step);
            routed.step();
            SetGradients(separate, step);
            lamb.step();
            adamw.step();
        }
        Assert.True(Same(routedModel, separate));
        Assert.Equal(5, routed.StepCount);
        Assert.IsType<Lamb>(routed["lamb"]);
        routed.zero_grad();
        Assert.All(routedModel, np => Assert.True(np.parameter.grad is null || np.parameter.grad.eq(kept[0]).all().item<bool>()));
    }

    [Fact]
    public void A_step_refused_by_one_route_changes_no_parameter_of_any()
    {
        var model = Model();
        using var routed = Routed(model);
        SetGradients(model, 1);
        routed.step();
        var before = model.Select(np => (np.name, new Parameter(np.parameter.detach().clone()))).ToArray();

        SetGradients(model, 2);
        model[3].parameter.grad = torch.zeros(3, 4, ScalarType.Float64); // the head's gradient has the wrong shape
        var e = Assert.Throws<InvalidOperationException>(() => routed.step());
        Assert.Contains("shape", e.Message);
        Assert.True(Same(model, before));
        Assert.Equal(1, routed.StepCount);
    }

    [Fact]
    public void Stages_compose_around_a_routed_optimizer()
    {
        var model = Model();
        using var composed = Routed(model).Compose(new ClipGradNorm(1.0));
        var reference = Model();
        using var plain = Routed(reference);
        for (int step = 1; step <= 4; step++)
        {
            SetGradients(model, step);
            composed.step();
            SetGradients(reference, step);
            torch.nn.utils.clip_grad_norm_(reference.Select(np => np.parameter), 1.0);
            plain.step();
        }
        // The two sum the squared norms in different orders: equal up to float64 rounding, not bit for bit.
        Assert.All(model.Zip(reference), pair => Assert.True(pair.First.parameter.allclose(pair.Second.parameter, rtol: 1e-12, atol: 1e-14)));
    }

    [Fact]
    public void A_routed_checkpoint_resumes_bit_for_bit_and_refuses_another_routing()
    {
        var straight = Model();
        using var uninterrupted = Routed(straight);
        ((AdamW)uninterrupted["adamw"]!).Schedule("lr", Schedules.Cosine(0.01, 0, 8));
        for (int step = 1; step <= 8; step++) { SetGradients(straight, step); uninterrupted.step(); }

        var first = Model();
        using var before = Routed(first);
        ((AdamW)before["adamw"]!).Schedule("lr", Schedules.Cosine(0.01, 0, 8));
        for (int step = 1; step <= 3; step++) { SetGradients(first, step); before.step(); }
        var path = Path.Combine(_folder, "routed.ckpt");
        before.SaveCheckpoint(path);

        var resumed = first.Select(np => (np.name, new Parameter(np.parameter.detach().clone()))).ToArray();
        using var after = Routed(resumed);
        ((AdamW)after["adamw"]!).Schedule("lr", Schedules.Cosine(0.01, 0, 8));
        after.LoadCheckpoint(path);
        Assert.Equal(3, after.StepCount);
        for (int step = 4; step <= 8; step++) { SetGradients(resumed, step); after.step(); }
        Assert.True(Same(straight, resumed));

        // Another split of the same model: refused, nothing changed.
        var other = Model();
        using var differently = other.Route("lamb", Routing.Matrices("head"), ps => new Lamb(ps, lr: 0.01))
            .Otherwise("adamw", ps => new AdamW(ParameterGroups.WeightDecayMask<AdamW.Options>(ps), lr: 0.01, weightDecay: 0.1));
        var e = Assert.Throws<InvalidDataException>(() => differently.LoadCheckpoint(path));
        Assert.Contains("routes [lamb:1,adamw:3]", e.Message);
        Assert.Equal(0, differently.StepCount);

        using var plain = new AdamW(TestData.Parameters(ScalarType.Float32));
        Assert.Contains("routed optimizer", Assert.Throws<InvalidDataException>(() => plain.LoadCheckpoint(path)).Message);
        using var composed = Routed(Model()).Compose(new ClipGradNorm(1));
        Assert.Contains("routed optimizer", Assert.Throws<InvalidDataException>(() => composed.LoadCheckpoint(path)).Message);
    }

    [Fact]
    public void A_composed_recipe_over_routes_resumes_bit_for_bit()
    {
        static ComposedOptimizer Recipe((string name, Parameter parameter)[] model) =>
            Routed(model).Compose(new ClipGradNorm(1.0), WeightAverage.Ema(0.9));
        var straight = Model();
        using var uninterrupted = Recipe(straight);
        for (int step = 1; step <= 6; step++) { SetGradients(straight, step); uninterrupted.step(); }

        var first = Model();
        using var before = Recipe(first);
        for (int step = 1; step <= 2; step++) { SetGradients(first, step); before.step(); }
        var path = Path.Combine(_folder, "recipe.ckpt");
        before.SaveCheckpoint(path);
        var resumed = first.Select(np => (np.name, new Parameter(np.parameter.detach().clone()))).ToArray();
        using var after = Recipe(resumed);
        after.LoadCheckpoint(path);
        for (int step = 3; step <= 6; step++) { SetGradients(resumed, step); after.step(); }
        Assert.True(Same(straight, resumed));
        var (a, b) = (uninterrupted.Stage<WeightAverage>().Averages, after.Stage<WeightAverage>().Averages);
        Assert.True(a.Zip(b).All(x => TestData.Identical(x.First, x.Second)));
    }

    [Fact]
    public void Routes_may_hold_TorchSharp_optimizers_but_then_not_checkpoint()
    {
        using var kept = KeptScalars.Rent();
        var model = Model();
#pragma warning disable RS0030 // a TorchSharp optimizer on purpose (what is tested is composing with one); its step() still passes temporary Scalars
        using var routed = model.Route("sgd", Routing.Matrices(), ps => torch.optim.SGD(ps.Select(p => p.parameter), 0.1))
#pragma warning restore RS0030
            .Otherwise("ours", ps => new SGD(ps, lr: 0.1));
        var expected = model.Select(np => np.parameter.detach().clone()).ToArray();
        SetGradients(model, 1);
        for (int k = 0; k < expected.Length; k++) expected[k] -= model[k].parameter.grad!.mul(kept[0.1]);
        routed.step();
        for (int k = 0; k < expected.Length; k++) Assert.True(model[k].parameter.allclose(expected[k], rtol: 1e-15, atol: 0));
        Assert.Throws<NotSupportedException>(() => routed.SaveCheckpoint(Path.Combine(_folder, "x.ckpt")));
    }

    [Fact]
    public void Routing_mistakes_are_caught_before_any_optimizer_exists()
    {
        var model = Model();
        Assert.Contains("named 'a'", Assert.Throws<ArgumentException>(() =>
            new[] { ("a", model[0].parameter), ("a", model[1].parameter) }.Route("x", (_, _) => true, ps => new SGD(ps))).Message);
        Assert.Contains("same parameter", Assert.Throws<ArgumentException>(() =>
            new[] { ("a", model[0].parameter), ("b", model[0].parameter) }.Route("x", (_, _) => true, ps => new SGD(ps))).Message);
        Assert.Contains("already a route", Assert.Throws<ArgumentException>(() =>
            model.Route("x", (_, _) => false, ps => new SGD(ps)).Otherwise("x", ps => new SGD(ps))).Message);
        Assert.Contains("manages", Assert.Throws<ArgumentException>(() =>
            model.Route("x", Routing.Matrices(), ps => new SGD(model.Select(np => np.parameter))).Otherwise("y", ps => new SGD(ps))).Message);

        // A route that takes nothing has no optimizer; its factory is not called.
        using var routed = model.Route("none", (name, _) => name == "missing", _ => throw new InvalidOperationException("not called"))
            .Otherwise("all", ps => new SGD(ps));
        Assert.Null(routed["none"]);
        Assert.Throws<ArgumentException>(() => routed["nope"]);
        Assert.Throws<NotSupportedException>(() => routed.add_param_group(new AdamW.ParamGroup(new[] { new Parameter(torch.ones(1)) })));
    }
}
