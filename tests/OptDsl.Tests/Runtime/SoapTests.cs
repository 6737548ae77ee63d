using System;
using System.IO;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.HandWritten;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Runtime;

/// <summary>SOAP: the scenario of <see cref="SoapScenario"/>, the first step's bases, refusals and state_dict.</summary>
public class SoapTests
{
    [Fact]
    public void Is_Adam_in_the_eigenbasis_of_Shampoos_factors()
    {
        var (start, gradient, us, expected) = SoapScenario.Scenario();
        var ps = start.Select(x => new Parameter(x.clone())).ToArray();
        SoapScenario.RunScenario(ps, gradient, t =>
        {
            if (t == 1)
                for (int k = 0; k < ps.Length; k++) Assert.True(ps[k].equal(start[k]).all().item<bool>(), "the first step only measures");
        });
        for (int k = 0; k < ps.Length; k++)
        {
            var error = (ps[k] - expected[k]).abs().max().item<double>();
            Assert.True(error < 1e-10, $"tensor {k}: off by {error:E2}");
        }
        // The bases are U and V up to the sign of each column, in the coefficients' order.
        var overlap = SoapScenario.LastBasis!.t().matmul(us[0]).abs();
        Assert.True((overlap - torch.eye(4, dtype: ScalarType.Float64)).abs().max().item<double>() < 1e-10);
        Assert.Null(SoapScenario.LastVectorBasis);
    }

    [Fact]
    public void The_first_step_gives_exact_eigenbases_in_descending_order()
    {
        using var kept = KeptScalars.Rent();
        var p = new Parameter(torch.linspace(-1, 1, 20, ScalarType.Float64).reshape(4, 5));
        using var soap = new Soap(new[] { p });
        using (torch.no_grad()) p.grad = torch.linspace(-2, 3, 20, ScalarType.Float64).reshape(4, 5).sin();
        soap.step();
        var s = soap.StateOf(p);
        var d = s["ql"]!.t().matmul(s["l"]!).matmul(s["ql"]!);
        var diagonal = d.diag();
        Assert.True((d - diagonal.diag()).abs().max().item<double>() < 1e-12);
        Assert.True(diagonal.diff().le(kept[1e-12]).all().item<bool>(), "descending");
    }

    [Fact]
    public void A_non_finite_gradient_changes_nothing_and_state_survives_a_save()
    {
        using var kept = KeptScalars.Rent();
        var p = new Parameter(torch.linspace(-1, 1, 12).reshape(3, 4));
        using var soap = new Soap(new[] { p }, preconditionFrequency: 2);
        for (int t = 1; t <= 3; t++)
        {
            using (torch.no_grad()) p.grad = torch.linspace(-1, 1, 12).reshape(3, 4).mul(kept[t]).cos();
            soap.step();
        }
        var before = p.detach().clone();
        var v = soap.StateOf(p)["v"]!.clone();
        using (torch.no_grad()) p.grad![0, 0] = float.NaN;
        Assert.Contains("NaN", Assert.Throws<InvalidOperationException>(() => soap.step()).Message);
        Assert.True(p.equal(before).all().item<bool>());
        Assert.True(soap.StateOf(p)["v"]!.equal(v).all().item<bool>());
        Assert.Equal(3, soap.StateOf(p).Step);

        var path = Path.Combine(Path.GetTempPath(), $"soap-{Guid.NewGuid():N}.bin");
        try
        {
            soap.save_state_dict(path);
            var q = new Parameter(p.detach().clone());
            using var copy = new Soap(new[] { q }, preconditionFrequency: 2);
            copy.load_state_dict(path);
            using (torch.no_grad())
            {
                p.grad = torch.linspace(-1, 1, 12).reshape(3, 4).sin();
                q.grad = p.grad.clone();
            }
            soap.step();
            copy.step();
            Assert.True(p.equal(q).all().item<bool>());
        }
        finally
        {
            File.Delete(path);
        }
        Assert.Throws<ArgumentException>(() => new Soap(new[] { p }, beta1: 1));
        Assert.Throws<ArgumentException>(() => new Soap(new[] { p }, preconditionFrequency: 0));
    }
}
