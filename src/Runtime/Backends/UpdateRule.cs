using OptDsl.Runtime.Backends.Cpu;
using OptDsl.Runtime.Backends.Cuda;
using OptDsl.Runtime.Backends.Portable;

namespace OptDsl.Runtime.Backends;

/// <summary>A declaration's update in every form its generated code takes, from which each backend builds itself.</summary>
/// <param name="Update">The update as TorchSharp operations, one tensor at a time.</param>
/// <param name="Steps">The update as steps that yield whole-tensor requests, or null (see <paramref name="StepsKind"/>).</param>
/// <param name="StepsKind">Whether <paramref name="Steps"/> is used, and which tensors run in lockstep.</param>
/// <param name="Kernel">The rule as a CUDA element body, or null without fused code.</param>
/// <param name="Cpu">The rule over a float32 CPU chunk, or null without fused code or with reductions.</param>
/// <param name="CpuPhases">The phases of a rule with reductions over a float32 CPU chunk (see <see cref="CudaKernel.Reductions"/>), or null.</param>
/// <param name="Host">The host half run again after a phase, where scalar state takes values from reductions (<see cref="ReductionPlan.HostReadsResults"/>); else null.</param>
internal sealed record UpdateRule(PortableUpdate Update, PortableSteps? Steps, UpdateStepsKind StepsKind, CudaKernel? Kernel, CpuUpdate? Cpu,
    CpuPhase? CpuPhases = null, HostStage? Host = null);
