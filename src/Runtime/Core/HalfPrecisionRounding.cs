namespace OptDsl.Runtime.Core;

/// <summary>How a bfloat16 parameter takes the float32 value its update computes (<see cref="DeclaredOptimizer.Rounding"/>).</summary>
public enum HalfPrecisionRounding
{
    /// <summary>Round to nearest (even), as a cast does: an update smaller than half the parameter's bfloat16 step is lost.</summary>
    Nearest,

    /// <summary>
    /// Stochastic rounding, reproducible from <see cref="DeclaredOptimizer.RoundingSeed"/>: up or down with probabilities
    /// that make the stored value right in expectation, so small updates add up over steps. The same bits on the CPU and
    /// on CUDA for the same seed, step and parameter. Fused on CUDA (bfloat16 CPU parameters take the portable path, as always).
    /// </summary>
    Stochastic,

    /// <summary>
    /// Kahan-compensated: each parameter keeps a buffer of its own type (bfloat16 or float16) with what rounding took from
    /// it, added back into the next update, so small updates add up exactly over steps at one half-precision buffer's
    /// memory. The buffer is saved in checkpoints. Fused on CUDA, portable elsewhere.
    /// </summary>
    Kahan,
}
