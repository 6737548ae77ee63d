using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Backends.Portable;

/// <summary>Whether tensors hold only finite values: one stacked reduction and one host read per device.</summary>
internal static class Finite
{
    public static bool All(IEnumerable<Tensor> tensors)
    {
        using var scope = NewDisposeScope();
        return tensors.GroupBy(t => (t.device_type, t.device_index))
            .All(group => torch.stack(group.Select(t => t.isfinite().all())).all().item<bool>());
    }
}
