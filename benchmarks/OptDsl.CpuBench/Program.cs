using System;
using BenchmarkDotNet.Running;
using OptDsl.CpuBench;

// CPU optimizer-step benchmark: dotnet run -c Release --project benchmarks/OptDsl.CpuBench
Console.WriteLine($"{AdamWStepBenchmark.Elements:N0} float32 elements in 50 tensors, {Environment.ProcessorCount} cores, Vector<float> of {System.Numerics.Vector<float>.Count} lanes");
BenchmarkRunner.Run<AdamWStepBenchmark>(args: args);
