using OptDsl.Runtime.Backends.Quantized;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Backends;

/// <summary>One parameter's update as a backend takes it: tensors, host scalars and storage, no optimizer types.</summary>
/// <param name="Parameter">The parameter.</param>
/// <param name="Gradient">Its gradient: the parameter's shape, type and device.</param>
/// <param name="States">
/// Per declared state, its tensor (float32 for a half-precision parameter), or null where the state does not exist yet
/// (it will be created like the parameter), is switched off, or lies in 8 bits in <paramref name="Quantized"/>.
/// </param>
/// <param name="Quantized">The state slots kept in 8 bits between steps, or null for none.</param>
/// <param name="Scalars">The rule's host scalars for this parameter at this step, which the fused code reads.</param>
/// <param name="Index">Which of the step's parameters it is: the core's delegates (the portable update) find it so.</param>
/// <param name="RoundingKey">For a bfloat16 parameter rounded stochastically, its key at this step (<see cref="StochasticRounding.Key"/>); else null.</param>
/// <param name="Compensation">For a half-precision parameter under Kahan compensation, its buffer (the parameter's type); else null.</param>
/// <param name="Group">Its parameter group's number (reductions over a group span the items of one number).</param>
internal readonly record struct UpdateItem(Tensor Parameter, Tensor Gradient, Tensor?[] States, QuantizedSlots? Quantized, float[] Scalars, int Index,
    uint? RoundingKey = null, Tensor? Compensation = null, int Group = 0);
