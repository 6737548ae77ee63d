using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Optimizers;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Composition;
using OptDsl.Runtime.Core;
using OptDsl.Runtime.HandWritten;
using OptDsl.Tests.Catalog;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// <c>StateBytes</c>: before the first step it predicts what the step allocates, after it equals the bytes of the state
/// tensors (read from the tensors themselves); per element for every catalog optimizer, as the README lists it.
/// </summary>
public class StateMemoryTests
{
    /// <summary>Bytes of state per float32 parameter element (64×48 and 48 elements), as the README's catalog table lists them.</summary>
    public static readonly IReadOnlyDictionary<string, double> PerElement = new Dictionary<string, double>
    {
        ["SGD"] = 0, ["Adam"] = 8, ["AdamW"] = 8, ["Adagrad"] = 4, ["RMSprop"] = 4, ["Adamax"] = 8, ["NAdam"] = 8, ["RAdam"] = 8,
        ["Adadelta"] = 8, ["Rprop"] = 8, ["ASGD"] = 4, ["Yogi"] = 8, ["Adopt"] = 8, ["AdamAtan2"] = 8, ["ScheduleFreeSgd"] = 4, ["MarsAdamW"] = 12, ["LaProp"] = 8, ["MarsLion"] = 8, ["ScheduleFreeRAdam"] = 8, ["Spam"] = 8, ["StableSpam"] = 8, ["Lion"] = 4, ["DiffGrad"] = 12, ["AdaBelief"] = 8, ["Adan"] = 16, ["AdEMAMix"] = 12,
        ["ScheduleFreeAdamW"] = 8, ["Lamb"] = 8, ["Lars"] = 4, ["CautiousAdamW"] = 8, ["CautiousLion"] = 4, ["SgdSai"] = 4,
        ["SignSgd"] = 0, ["DoG"] = 4, ["Sophia"] = 8, ["Prodigy"] = 16, ["NagGs"] = 4, ["MomentumSam"] = 4, ["ScionBias"] = 4,
    };

    static Parameter[] Model() => new[]
    {
        new Parameter(torch.linspace(-1, 1, 64 * 48).reshape(64, 48)),
        new Parameter(torch.linspace(-1, 1, 48)),
    };

    static long Allocated(DeclaredOptimizer o, Parameter[] ps) => ps.Sum(p =>
        ((DeclaredState)o.state_dict().State[Array.IndexOf(ps, p)]).Tensors.Where(t => t is not null).Sum(t => StateMemory.Bytes(t!)));

    [Fact]
    public void Every_catalog_optimizer_predicts_and_then_holds_its_state_bytes()
    {
        using var kept = KeptScalars.Rent();
        foreach (var (name, create) in CatalogIndex.Create)
        {
            if (name is "Muon" or "NorMuon" or "AdaMuon" or "Scion" or "Swan" or "Adafactor" or "AdamMini") continue; // matrices only / rows and columns: below
            var ps = Model();
            using var optimizer = create(ps);
            long predicted = optimizer.StateBytes;
            using (torch.no_grad()) foreach (var p in ps) p.grad = torch.ones_like(p).mul(kept[0.01]);
            optimizer.step();
            long allocated = Allocated(optimizer, ps);
            Assert.True(predicted == allocated, $"{name}: predicted {predicted}, allocated {allocated}");
            Assert.Equal(allocated, optimizer.StateBytes);
            Assert.True(PerElement.TryGetValue(name, out var expected), $"{name} is missing from the README's table");
            Assert.Equal(expected, optimizer.StateBytesPerElement());
        }
    }

    [Theory]
    [InlineData("Muon", 4.0)]
    [InlineData("Swan", 0.0)]
    [InlineData("AdaMuon", 8.0)]
    [InlineData("Scion", 4.0)]
    [InlineData("NorMuon", 4.0 + 4.0 * 64 / (64 * 48))] // the momentum, and one second moment per row
    public void Matrix_optimizers_predict_and_then_hold_their_state_bytes(string name, double perElement)
    {
        using var kept = KeptScalars.Rent();
        var ps = new[] { new Parameter(torch.linspace(-1, 1, 64 * 48).reshape(64, 48)) };
        using var optimizer = CatalogIndex.Create[name](ps);
        long predicted = optimizer.StateBytes;
        using (torch.no_grad()) ps[0].grad = torch.ones_like(ps[0]).mul(kept[0.01]);
        optimizer.step();
        // SWAN keeps no state tensor at all: nothing is listed to add up.
        Assert.Equal(perElement == 0 ? 0 : Allocated(optimizer, ps), predicted);
        Assert.Equal(perElement, optimizer.StateBytesPerElement(), 12);
    }

    [Fact]
    public void Factored_and_conditional_state_is_counted_as_allocated()
    {
        var ps = Model();
        using var adafactor = new Adafactor(ps);
        long predicted = adafactor.StateBytes;
        using (torch.no_grad()) foreach (var p in ps) p.grad = torch.ones_like(p);
        adafactor.step();
        Assert.Equal(Allocated(adafactor, ps), predicted);
        // 64 rows + 48 columns for the matrix; the vector, a matrix of one column: 48 rows + 1 column.
        Assert.Equal((64 + 48 + 48 + 1) * 4, predicted);

        // Adam-mini: a first moment per element, a second moment per row (the vector's rows are its elements).
        var mini = Model();
        using var adamMini = new AdamMini(mini);
        long predictedMini = adamMini.StateBytes;
        using (torch.no_grad()) foreach (var p in mini) p.grad = torch.ones_like(p);
        adamMini.step();
        Assert.Equal(Allocated(adamMini, mini), predictedMini);
        Assert.Equal((64 * 48 + 48) * 4 + (64 + 48) * 4, predictedMini);

        using var amsgrad = new OptDsl.Optimizers.AdamW(Model(), amsgrad: true);
        Assert.Equal(12.0, amsgrad.StateBytesPerElement());
    }

    [Fact]
    public void Compositions_routes_and_Kronecker_optimizers_add_up()
    {
        using var kept = KeptScalars.Rent();
        var model = Model();
        using var composed = new OptDsl.Optimizers.AdamW(model).Compose(WeightAverage.Ema(0.99), new Lookahead(5, 0.5));
        using (torch.no_grad()) foreach (var p in model) p.grad = torch.ones_like(p).mul(kept[0.01]);
        composed.step();
        long elements = 64 * 48 + 48;
        Assert.Equal(elements * (8 + 4 + 4), composed.StateBytes);

        var ps = Model();
        using var soap = new Soap(ps);
        long predicted = soap.StateBytes;
        using (torch.no_grad()) foreach (var p in ps) p.grad = torch.linspace(-1, 1, p.NumberOfElements).reshape(p.shape).cos();
        soap.step();
        // m, v on every element; L, Q_L (64²) and R, Q_R (48²) for the matrix; the vector is not rotated.
        Assert.Equal((elements * 2 + 2 * 64 * 64 + 2 * 48 * 48) * 4, predicted);
        Assert.Equal(predicted, soap.StateBytes);

        Assert.Throws<NotSupportedException>(() => new TorchSharp.Modules.SGD(Model(), 0.1).StateBytes());
        Assert.Equal(0, new OptDsl.Runtime.Training.ZerothOrder.ZerothOrderOptimizer(Model()).StateBytes);
    }
}
