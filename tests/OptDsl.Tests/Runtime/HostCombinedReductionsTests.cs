using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Backends;
using OptDsl.Runtime.Backends.Cuda;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Runtime;

/// <summary>
/// The CUDA path's host combination of a phase's partials, on a buffer laid out as the kernels write it (reduction j's
/// chunks at j · capacity + first chunk), here in host memory so that it runs without a device: per tensor, per group
/// and over the step, an empty tensor among them; the finished values written at each tensor's first chunk; the host
/// half called with each item's results.
/// </summary>
public class HostCombinedReductionsTests
{
    [Fact]
    public void Partials_are_finished_per_tensor_group_and_step_and_written_at_each_first_chunk()
    {
        var plan = new ReductionPlan(2,
            new ReductionSpec(1, ReductionOp.Sum),
            new ReductionSpec(1, ReductionOp.Norm, ReductionScope.Step),
            new ReductionSpec(1, ReductionOp.MaxAbs, ReductionScope.Group)) { HostReadsResults = true };
        // Item 0: two chunks (group 0); item 1: empty (group 0); item 2: one chunk (group 1).
        long[] sizes = { MultiTensorLayout.ChunkElements + 10, 0, 5 };
        int[] groups = { 0, 0, 1 }, first = { 0, 2, 2 };
        const int capacity = 3;
        var items = sizes.Select((n, i) => new UpdateItem(torch.zeros(n), torch.zeros(n), Array.Empty<Tensor?>(), null, new float[1], i, Group: groups[i])).ToArray();
        float[] values =
        {
            1.5f, -2.25f, 4f,     // Sum: item 0's chunks, then item 2's
            3f, 4f, 12f,          // Norm: squares' partials
            0.5f, 7f, 2f,         // MaxAbs
        };
        var buffer = torch.tensor(values);
        var partials = new Dictionary<int, Tensor> { [buffer.device_index] = buffer };
        var seen = new List<(int Item, float[] Results)>();
        var combined = new HostCombinedReductions();
        combined.BeginStep(items, 3);
        combined.Combine(plan, 1, items, first, partials, (item, results) => seen.Add((item, results.ToArray())));

        float norm = MathF.Sqrt(3f + 4f + 12f);
        var expected = new[] { new[] { 1.5f - 2.25f, norm, 7f }, new[] { 0f, norm, 7f }, new[] { 4f, norm, 2f } };
        Assert.Equal(new[] { 0, 1, 2 }, seen.Select(s => s.Item));
        for (int i = 0; i < 3; i++) Assert.Equal(expected[i], seen[i].Results);
        var written = buffer.data<float>().ToArray();
        for (int j = 0; j < 3; j++)
        {
            Assert.Equal(expected[0][j], written[j * capacity + 0]);   // item 0's first chunk
            Assert.Equal(expected[2][j], written[j * capacity + 2]);   // item 2's; the empty item has no chunk of its own
            Assert.Equal(values[j * capacity + 1], written[j * capacity + 1]);   // item 0's second chunk is left as it was
        }
    }
}
