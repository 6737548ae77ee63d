using OptDsl.Runtime.Native;
using TorchSharp.Modules;

namespace OptDsl.Runtime;

/// <summary>
/// What every generated optimizer offers without its generated types: the declaration's table and each parameter
/// group's hyperparameters by name (for schedules, tools and tests that handle optimizers generically).
/// </summary>
public abstract class DeclaredOptimizer : OptimizerHelper
{
    static DeclaredOptimizer() => TorchSharpNative.EnsureLoadable();

    /// <summary>The declaration's table of hyperparameters and state.</summary>
    public abstract OptimizerSpec Spec { get; }

    /// <summary>The number of parameter groups.</summary>
    public int GroupCount => _parameter_groups.Count;

    /// <summary>The hyperparameters of parameter group <paramref name="group"/>; changes apply from the next step.</summary>
    public abstract DeclaredOptions OptionsOf(int group);

    /// <summary>Which generated code updates the parameters; <see cref="UpdateBackend.Auto"/> by default.</summary>
    public UpdateBackend Backend { get; set; } = UpdateBackend.Auto;

    /// <summary>What the fused CUDA path did: how its kernel was built, or why it is not used.</summary>
    public abstract string FusedStatus { get; }
}
