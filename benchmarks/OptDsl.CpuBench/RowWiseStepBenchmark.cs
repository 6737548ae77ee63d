using System;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using OptDsl.Runtime.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.CpuBench;

/// <summary>
/// One step of a rule with work per row or column on the CPU, over AdamW's 9.85M float32 elements in 50 tensors
/// (matrices of 1024 x 768 and 768 x 256, vectors of 768 and 1000): the fused phases, row by row, against the portable
/// path, and a tensor copy moving the bytes the phases must read and write as the floor — Adam-mini 24 B an element
/// (g for the rows' mean squares; then p, g, m read and p, m written), Adafactor 24 (p and g for the weights' RMS and
/// the rows' and columns' mean squares; the mean of the row averages reads no element; g for the update's RMS; then
/// p, g read and p written) and ScionBias 28 (buffer and g for the columns' norms; then p, g, buffer read and p,
/// buffer written). State kept per row or column is a row's or column's worth: left out of the floor.
/// </summary>
[SimpleJob(RunStrategy.Throughput, launchCount: 1, warmupCount: 5, iterationCount: 15)]
public class RowWiseStepBenchmark : RuleStepBenchmark
{
    [Params("AdamMini", "Adafactor", "ScionBias")]
    public string Rule { get; set; } = "AdamMini";

    protected override string RuleName => Rule;

    protected override int BytesPerElement(string rule) => rule == "ScionBias" ? 28 : 24;

    protected override DeclaredOptimizer Create(string rule, Parameter[] ps) => rule switch
    {
        "AdamMini" => new OptDsl.Optimizers.AdamMini(ps),
        "Adafactor" => new OptDsl.Optimizers.Adafactor(ps),
        "ScionBias" => new OptDsl.Optimizers.ScionBias(ps),
        _ => throw new ArgumentException(rule),
    };
}
