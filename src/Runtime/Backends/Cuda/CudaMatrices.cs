using System;
using System.Collections.Generic;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Services;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Backends.Cuda;

/// <summary>
/// The fused CUDA path's matrices for a rule's matrix calls. For each call, the step's tensors of one device, matrix
/// shape and iteration (steps and coefficients) share one bf16 batch [count, rows, columns]: the storing phase writes
/// each tensor's argument into its slot, one batched Newton–Schulz chain per batch orthogonalises them, and later
/// phases read the results from the chain's output. Input batches are kept between steps (while the tensors stay the
/// same); outputs live until the step ends.
/// </summary>
internal sealed class CudaMatrices
{
    sealed class Batch
    {
        public required Tensor Input;
        public readonly List<int> Items = new();
        public required long Rows, Columns;
        public required double Steps, A, B, C, Schedule;
    }

    readonly Dictionary<(int Call, int Device, long Rows, long Columns, double Steps, double A, double B, double C, double Schedule), Batch> _batches = new();
    readonly List<Tensor> _outputs = new();
    IntPtr[] _pointers = Array.Empty<IntPtr>();
    int _calls;

    /// <summary>Item i's matrix for call j, at [i * calls + j]: where the kernel stores or reads it this phase.</summary>
    public ReadOnlySpan<IntPtr> Pointers(int start, int count) => _pointers.AsSpan(start * _calls, count * _calls);

    /// <summary>Lays out the step's <paramref name="items"/> in batches and points each at its slot of the input.</summary>
    public void Prepare(ReadOnlySpan<UpdateItem> items, MatrixSpec[] specs)
    {
        _calls = specs.Length;
        if (_pointers.Length < items.Length * _calls) _pointers = new IntPtr[Math.Max(items.Length * _calls, 2 * _pointers.Length)];
        foreach (var batch in _batches.Values) batch.Items.Clear();
        for (int i = 0; i < items.Length; i++)
        {
            var p = items[i].Parameter;
            var s = items[i].Scalars;
            var (rows, columns) = MatrixMath.ViewOf(p);
            int device = p.device_index;
            for (int j = 0; j < _calls; j++)
            {
                var spec = specs[j];
                var key = (j, device, rows, columns, (double)s[spec.StepsSlot], (double)s[spec.ASlot], (double)s[spec.BSlot], (double)s[spec.CSlot], (double)s[spec.ScheduleSlot]);
                if (!_batches.TryGetValue(key, out var batch))
                    _batches[key] = batch = new Batch { Input = null!, Rows = key.Item3, Columns = key.Item4, Steps = key.Item5, A = key.Item6, B = key.Item7, C = key.Item8, Schedule = key.Item9 };
                batch.Items.Add(i);
            }
        }
        foreach (var (key, batch) in _batches)
        {
            if (batch.Items.Count == 0)
            {
                // No tensor of this shape this step (the parameters changed): its memory goes back.
                batch.Input?.Dispose();
                _batches.Remove(key);
                continue;
            }
            if (batch.Input is null || batch.Input.shape[0] != batch.Items.Count)
            {
                batch.Input?.Dispose();
                var device = items[batch.Items[0]].Parameter.device;
                batch.Input = torch.empty(new[] { batch.Items.Count, batch.Rows, batch.Columns }, ScalarType.BFloat16, device).DetachFromDisposeScope();
            }
            Point(batch, key.Call, TensorAddress.Of(batch.Input));
        }
    }

    /// <summary>
    /// Orthogonalises every batch of call <paramref name="call"/> and points its items at the results. Batches of one
    /// device and iteration go to <see cref="MatrixMath.Orthogonalize(IReadOnlyList{Tensor}, double, double, double, double, double)"/>
    /// together, which runs the Gram matrices of all their shapes as one chain where it can.
    /// </summary>
    public void Orthogonalize(int call)
    {
        foreach (var together in _batches.Where(kv => kv.Key.Call == call && kv.Value.Items.Count > 0)
                     .GroupBy(kv => (kv.Key.Device, kv.Key.Steps, kv.Key.A, kv.Key.B, kv.Key.C, kv.Key.Schedule)))
        {
            var batches = together.Select(kv => kv.Value).ToArray();
            // The chain's intermediates are freed at once; the queued kernels that use them run first (one stream).
            using var scope = torch.NewDisposeScope();
            var outputs = MatrixMath.Orthogonalize(batches.Select(b => b.Input).ToArray(), together.Key.Steps, together.Key.A, together.Key.B, together.Key.C, together.Key.Schedule);
            for (int k = 0; k < batches.Length; k++)
            {
                // A tall matrix comes back as a transposed view: the kernel reads it in the parameter's layout.
                var output = outputs[k].is_contiguous() ? outputs[k] : outputs[k].contiguous();
                output.DetachFromDisposeScope();
                _outputs.Add(output);
                Point(batches[k], call, TensorAddress.Of(output));
            }
        }
    }

    void Point(Batch batch, int call, IntPtr data)
    {
        long bytes = 2 * batch.Rows * batch.Columns;
        for (int k = 0; k < batch.Items.Count; k++) _pointers[batch.Items[k] * _calls + call] = data + (nint)(k * bytes);
    }

    /// <summary>Frees the step's outputs (the kernels that read them are queued on the same stream before).</summary>
    public void EndStep()
    {
        foreach (var output in _outputs) output.Dispose();
        _outputs.Clear();
    }
}
