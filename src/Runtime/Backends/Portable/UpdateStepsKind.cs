namespace OptDsl.Runtime.Backends.Portable;

/// <summary>How a declaration's portable update runs when it yields whole-tensor requests.</summary>
public enum UpdateStepsKind
{
    /// <summary>It yields nothing: <c>Update</c> runs each tensor alone.</summary>
    None,
    /// <summary>Only matrix requests: tensors of one shape run in lockstep, a group at a time.</summary>
    PerShape,
    /// <summary>Global reductions: every tensor of the step runs in lockstep.</summary>
    AllTensors,
}
