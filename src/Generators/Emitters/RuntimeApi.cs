namespace OptDsl.Generators.Emitters;

/// <summary>
/// Every runtime type that generated code names, fully qualified, in one place: when the runtime moves a type, this
/// file and the snapshots are all that change in the generator.
/// </summary>
static class RuntimeApi
{
    const string Runtime = "global::OptDsl.Runtime";

    // The core: what a declaration becomes.
    const string Core = Runtime + ".Core";
    public const string DeclaredOptimizer = Core + ".DeclaredOptimizer";
    public const string DeclaredOptions = Core + ".DeclaredOptions";
    public const string DeclaredState = Core + ".DeclaredState";
    public const string OptimizerSpec = Core + ".OptimizerSpec";
    public const string HyperSpec = Core + ".HyperSpec";
    public const string HyperKind = Core + ".HyperKind";
    public const string Interval = Core + ".Interval";
    public const string StateSpec = Core + ".StateSpec";
    public const string StateInitKind = Core + ".StateInitKind";
    public const string StateShape = Core + ".StateShape";
    public const string ScalarStateSpec = Core + ".ScalarStateSpec";

    /// <summary>Host math in double for the functions <c>System.Math</c> lacks (<c>Rsqrt</c>, <c>Sigmoid</c>...).</summary>
    public const string HostMath = Core + ".HostMath";

    // The backends.
    const string Backends = Runtime + ".Backends";

    // The portable backend: the rule as TorchSharp operations.
    public const string Portable = Backends + ".Portable";
    public const string TensorMath = Portable + ".TensorMath";
    public const string MatrixMath = Portable + ".MatrixMath";
    public const string KeptScalars = Portable + ".KeptScalars";

    // The fused CPU backend.
    public const string CpuChunk = Backends + ".Cpu.CpuChunk";
    public const string CpuMath = Backends + ".Cpu.CpuMath";
    public const string VectorMath = Backends + ".Cpu.VectorMath";

    // What the fused backends of a rule with reductions run.
    public const string ReductionPlan = Backends + ".ReductionPlan";
    public const string ReductionSpec = Backends + ".ReductionSpec";
    public const string MatrixSpec = Backends + ".MatrixSpec";
    public const string ReductionOp = Backends + ".ReductionOp";
    public const string ReductionScope = Backends + ".ReductionScope";
    public const string CpuPhase = Backends + ".Cpu.CpuPhase";

    // The fused CUDA backend.
    public const string CudaKernel = Backends + ".Cuda.CudaKernel";

    /// <summary>The TorchSharp loading fix the module initializer calls (metadata name, without <c>global::</c>).</summary>
    public const string NativeFix = "OptDsl.Runtime.Services.Native.TorchSharpNative";

    /// <summary>
    /// Generated code as the docs show it: without the qualifications the compiler needs (core types by their bare
    /// names, backend types under their backend's name, as <c>Portable.TensorMath</c>).
    /// </summary>
    public static string Readable(string code) =>
        code.Replace("global::System.", "").Replace(Core + ".", "").Replace(Backends + ".", "").Replace(Runtime + ".", "");
}
