using System;
using BenchmarkDotNet.Running;
using OptDsl.CpuBench;

// CPU optimizer-step benchmarks: dotnet run -c Release --project benchmarks/OptDsl.CpuBench (AdamW);
// add -- --filter '*Muon*' for Muon batched against one matrix at a time, '*Phased*' for rules with reductions (LAMB...),
// '*Quantized*' for AdamW with 8-bit moments, '*RowWise*' for rules with work per row or column (Adafactor...).
Console.WriteLine($"{AdamWStepBenchmark.Elements:N0} float32 elements in 50 tensors, {Environment.ProcessorCount} cores, Vector<float> of {System.Numerics.Vector<float>.Count} lanes");
BenchmarkSwitcher.FromTypes(new[] { typeof(AdamWStepBenchmark), typeof(MuonStepBenchmark), typeof(PhasedStepBenchmark), typeof(QuantizedStepBenchmark), typeof(RowWiseStepBenchmark) })
    .Run(args.Length == 0 ? new[] { "--filter", "*AdamWStepBenchmark*" } : args);
