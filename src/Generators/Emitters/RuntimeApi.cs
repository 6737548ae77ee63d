namespace OptDsl.Generators.Emitters;

/// <summary>
/// Every runtime type that generated code names, fully qualified, in one place: when the runtime moves a type, this
/// file and the snapshots are all that change in the generator.
/// </summary>
static class RuntimeApi
{
    const string Runtime = "global::OptDsl.Runtime";

    // The core: what a declaration becomes.
    public const string DeclaredOptimizer = Runtime + ".DeclaredOptimizer";
    public const string DeclaredOptions = Runtime + ".DeclaredOptions";
    public const string DeclaredState = Runtime + ".DeclaredState";
    public const string OptimizerSpec = Runtime + ".OptimizerSpec";
    public const string HyperSpec = Runtime + ".HyperSpec";
    public const string HyperKind = Runtime + ".HyperKind";
    public const string Interval = Runtime + ".Interval";
    public const string StateSpec = Runtime + ".StateSpec";
    public const string StateInitKind = Runtime + ".StateInitKind";
    public const string StateShape = Runtime + ".StateShape";
    public const string ScalarStateSpec = Runtime + ".ScalarStateSpec";

    /// <summary>Host math in double for the functions <c>System.Math</c> lacks (<c>Rsqrt</c>, <c>Sigmoid</c>...).</summary>
    public const string HostMath = Runtime + ".HostMath";

    // The portable backend: the rule as TorchSharp operations.
    public const string Portable = Runtime + ".Portable";
    public const string TensorMath = Portable + ".TensorMath";
    public const string MatrixMath = Portable + ".MatrixMath";

    // The fused CPU backend.
    public const string CpuChunk = Runtime + ".Cpu.CpuChunk";
    public const string CpuMath = Runtime + ".Cpu.CpuMath";
    public const string VectorMath = Runtime + ".Cpu.VectorMath";

    // The fused CUDA backend.
    public const string CudaKernel = Runtime + ".Cuda.CudaKernel";

    /// <summary>The TorchSharp loading fix the module initializer calls (metadata name, without <c>global::</c>).</summary>
    public const string NativeFix = "OptDsl.Runtime.Native.TorchSharpNative";

    /// <summary>Generated code as the docs show it: without the qualifications the compiler needs.</summary>
    public static string Readable(string code) => code.Replace("global::System.", "").Replace(Runtime + ".", "");
}
