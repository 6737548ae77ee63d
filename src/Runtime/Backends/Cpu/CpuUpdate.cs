using System;

namespace OptDsl.Runtime.Backends.Cpu;

/// <summary>The generated fused CPU update for one chunk, with the parameter's host scalars.</summary>
public delegate void CpuUpdate(CpuChunk chunk, ReadOnlySpan<float> scalars);

/// <summary>
/// The generated fused CPU code of a rule with reductions, one phase over one chunk: the results of earlier phases in
/// <paramref name="results"/> (by reduction), and where the phase accumulates reductions, their partials over the
/// chunk into <paramref name="partials"/>. Only the last phase writes the parameter and state.
/// </summary>
public delegate void CpuPhase(int phase, CpuChunk chunk, ReadOnlySpan<float> scalars, ReadOnlySpan<float> results, Span<float> partials);

/// <summary>
/// The host half of a rule whose scalar state takes values from reductions, run again for the step's item
/// <paramref name="item"/> after a phase, with its tensor's <paramref name="results"/> known by then (0 for later ones).
/// </summary>
public delegate void HostStage(int item, ReadOnlySpan<float> results);
