using System;
using System.Collections.Generic;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Services;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Backends.Cpu;

/// <summary>
/// The fused CPU path's matrices for a rule's matrix calls: per queued tensor and call, a float32 buffer laid out as
/// the parameter, which the storing phase fills with the call's argument and which then holds the orthogonalised
/// result for the phases after. Buffers are kept from step to step while the tensors' sizes stay.
/// </summary>
internal sealed unsafe class CpuMatrices
{
    readonly List<Tensor?[]> _buffers = new();
    readonly List<IntPtr[]> _addresses = new();
    readonly List<Tensor> _parameters = new();

    /// <summary>Makes buffers ready for <paramref name="tensors"/> queued tensors and <paramref name="calls"/> matrix calls each.</summary>
    public void Prepare(int tensors, int calls, Tensor[] parameters)
    {
        _parameters.Clear();
        for (int t = 0; t < tensors; t++)
        {
            if (t == _buffers.Count)
            {
                _buffers.Add(new Tensor?[calls]);
                _addresses.Add(new IntPtr[calls]);
            }
            var p = parameters[t];
            _parameters.Add(p);
            for (int j = 0; j < calls; j++)
            {
                var buffer = _buffers[t][j];
                if (buffer is null || buffer.NumberOfElements != p.NumberOfElements)
                {
                    buffer?.Dispose();
                    buffer = _buffers[t][j] = torch.empty(p.NumberOfElements, ScalarType.Float32).DetachFromDisposeScope();
                    _addresses[t][j] = TensorAddress.Of(buffer);
                }
            }
        }
    }

    /// <summary>The buffers' addresses of queued tensor <paramref name="tensor"/>, by call (null without matrix calls).</summary>
    public IntPtr[]? AddressesOf(int tensor) => tensor < _parameters.Count ? _addresses[tensor] : null;

    /// <summary>Orthogonalises tensor <paramref name="tensor"/>'s stored argument of call <paramref name="call"/>, in place.</summary>
    public void Orthogonalize(int tensor, int call, MatrixSpec spec, float[] scalars)
    {
        using var scope = torch.NewDisposeScope();
        var p = _parameters[tensor];
        var buffer = _buffers[tensor][call]!;
        var (rows, columns) = MatrixMath.ViewOf(p);
        var matrix = buffer.view(rows, columns);
        var result = MatrixMath.Orthogonalize(matrix, scalars[spec.StepsSlot], scalars[spec.ASlot], scalars[spec.BSlot], scalars[spec.CSlot], scalars[spec.ScheduleSlot]);
        matrix.copy_(result);
    }
}
