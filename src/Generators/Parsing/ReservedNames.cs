using System.Collections.Immutable;

namespace OptDsl.Generators.Parsing;

/// <summary>
/// Names a declaration may not give its members, because the generated class or the runtime types it derives from
/// use them. A test compares these lists with the runtime's and the generated code's members, so they stay complete.
/// </summary>
public static class ReservedNames
{
    /// <summary>Members of the generated optimizer class and the runtime classes it derives from.</summary>
    /// <remarks>A rule method may be named <c>Update</c> or <c>Refresh</c>; the parser rejects other members of those names.</remarks>
    public static readonly ImmutableHashSet<string> OptimizerMembers = ImmutableHashSet.Create(
        // The generated class.
        "Options", "State", "ParamGroup", "Declaration", "CreateState", "CudaKernel", "FusedKernel", "FillScalars", "UpdateCpu", "UpdateCpuPhase",
        "UpdateSteps", "StepsKind", "NoFusedCode", "HasRefresh",
        // The runtime's DeclaredOptimizer.
        "Spec", "Defaults", "Groups", "StateOf", "GroupCount", "OptionsOf", "CanRefresh", "RefreshCount", "Backend", "Rounding", "RoundingSeed", "FusedStatus",
        "NonFiniteGradients", "SkippedSteps", "StepCount", "Schedule", "ApplySchedules", "SaveCheckpoint", "LoadCheckpoint",
        "WriteCheckpointBody", "StageCheckpointBody", "StateBytes", "QuantizeState", "IsStateQuantized", "ReducesAcrossTensors",
        "Locked", "ThrowIfLocked", "LossClosure",
        // TorchSharp's optimizer base classes.
        "step", "zero_grad", "add_param_group", "state_dict", "load_state_dict", "save_state_dict", "parameters", "ParamGroups",
        "Dispose", "Finalize", "to", "_defaults", "_state", "_parameter_groups", "_step", "StateDictionary", "TypeCode");

    /// <summary>Members of the runtime's <c>DeclaredOptions</c>, which a hyperparameter's property may not shadow, and the class's own name.</summary>
    public static readonly ImmutableHashSet<string> OptionsMembers = ImmutableHashSet.Create(
        "Options", "Spec", "Get", "Set", "Value", "Check", "FillFrom", "Validate", "LearningRate", "InitialLearningRate", "SaveStateDict",
        "LoadStateDict", "Item", "Equals", "GetHashCode", "ToString", "GetType", "MemberwiseClone");

    /// <summary>Members of the runtime's <c>DeclaredState</c>, which a state's property may not shadow, and the class's own name.</summary>
    public static readonly ImmutableHashSet<string> StateMembers = ImmutableHashSet.Create(
        "State", "Spec", "Parameter", "_parameter", "Step", "Tensors", "Scalars", "Initialize", "AllocateMissing", "Read", "StateType",
        "SaveConditionalStateTensor", "LoadConditionalStateTensor", "Dispose", "SaveStateDict",
        "LoadStateDict", "ApproximatelyEquals", "Equals", "GetHashCode", "ToString", "GetType", "MemberwiseClone", "to");
}
