using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Core;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Catalog;

/// <summary>
/// The fused CPU update against the portable path for every fixture case, on tensors that exercise the loop: empty,
/// shorter than a vector, vector tails, chunk edges (32767, 32768, 32769), several chunks, and views at odd offsets
/// of one buffer (with zero gaps between them, so a write past a view's end shows).
/// </summary>
public class FusedCpuAgreementTests
{
    static readonly long[] Sizes = { 0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 1000, 32767, 32768, 32769, 100_003, 5, 0, 2 };

    public static IEnumerable<object[]> Cases() => ReferenceTrajectoryTests.Cases();

    /// <summary>
    /// Both paths round in float32 in a different order, so they agree to a few ulps per step; 1e-4 relative bounds
    /// 15 steps of that widely. Lion's sign is discontinuous: a momentum within an ulp of zero may take opposite signs
    /// and move that element by 2 lr, so such elements are counted and must stay rarer than 1 in 20,000.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Fused_CPU_update_agrees_with_the_portable_path_on_awkward_tensors(string optimizer, string name)
    {
        using var kept = KeptScalars.Rent();
        var c = ReferenceFixture.Instance.Value.Find(optimizer, name);
        long total = Sizes.Sum() + 4 * Sizes.Length + 1;
        torch.manual_seed(11);
        var initial = torch.randn(total);
        var (fused, fusedBuffer) = Views(initial);
        var (portable, portableBuffer) = Views(initial);
        using var a = CatalogIndex.Create[optimizer](fused);
        using var b = CatalogIndex.Create[optimizer](portable);
        a.Backend = UpdateBackend.Fused;
        b.Backend = UpdateBackend.Portable;
        foreach (var (hyper, value) in c.Hypers)
        {
            a.OptionsOf(0)[hyper] = value;
            b.OptionsOf(0)[hyper] = value;
        }
        for (int step = 1; step <= 15; step++)
        {
            using (torch.no_grad())
                for (int k = 0; k < Sizes.Length; k++)
                {
                    var g = torch.randn(Sizes[k]).mul(kept[TestData.GradScale(step)]);
                    fused[k].grad = g;
                    portable[k].grad = g.clone();
                }
            a.step();
            b.step();
        }

        var relative = (fusedBuffer - portableBuffer).abs() / portableBuffer.abs().clamp_min(kept[1.0]);
        long beyond = relative.gt(kept[1e-4]).sum().item<long>();
        Assert.True(beyond * 20_000 <= total,
            $"{beyond} of {total} elements differ by more than 1e-4 relative (max {relative.max().item<float>():E2}); {a.FusedStatus}");
    }

    static (Parameter[] Parameters, Tensor Buffer) Views(Tensor initial)
    {
        // Zero gaps between the views: a stray write past a view's end shows up when the buffers are compared.
        var buffer = torch.zeros(initial.shape);
        var parameters = new Parameter[Sizes.Length];
        long offset = 1;
        using (torch.no_grad())
            for (int k = 0; k < Sizes.Length; k++)
            {
                var view = buffer.narrow(0, offset, Sizes[k]);
                view.copy_(initial.narrow(0, offset, Sizes[k]));
                parameters[k] = new Parameter(view);
                offset += Sizes[k] + (k % 2 == 0 ? 3 : 4);
            }
        return (parameters, buffer);
    }
}
