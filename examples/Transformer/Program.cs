using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using OptDsl.Examples;
using TorchSharp;
using Transformer;

// Trains a GPT on bytes of real text with Muon for the hidden matrices and AdamW for the rest (routed), a WSD schedule
// and global-norm clipping; prints progress and the losses.
// Usage: dotnet run --project examples/Transformer [-- --size tiny|small|gpt2] [--steps N] [--device cpu|cuda]
//          [--corpus file-or-folder] [--log run.json] [--export folder-for-pytorch_gpt.py] [--plot curves.png]
//        dotnet run --project examples/Transformer -- report optdsl.json pytorch.json [--plot curves.png]
var options = new Dictionary<string, string>();
var positional = new List<string>();
for (int i = 0; i < args.Length; i++)
{
    if (args[i].StartsWith("--", StringComparison.Ordinal) && i + 1 < args.Length) options[args[i][2..]] = args[++i];
    else positional.Add(args[i]);
}
string? Option(string name) => options.TryGetValue(name, out var v) ? v : null;

if (positional.FirstOrDefault() == "report")
{
    var logs = positional.Skip(1).Select(Report.Load).ToList();
    Console.Write(Report.Table(logs));
    var chart = Option("plot") ?? ExampleOutput.PathFor("transformer-curves.png");
    Report.Plot(logs, chart);
    Console.WriteLine($"loss curves: {chart}");
    return;
}

var device = torch.device(Option("device") ?? "cpu");
if (device.type == DeviceType.CUDA)
{
    // TF32 tensor cores for float32 products, as the PyTorch twin sets them.
    torch.backends.cuda.matmul.allow_tf32 = true;
    torch.backends.cudnn.allow_tf32 = true;
}
var config = GptConfig.Named(Option("size") ?? (device.type == DeviceType.CUDA ? "gpt2" : "tiny"));
int steps = int.Parse(Option("steps") ?? "300", CultureInfo.InvariantCulture);
var corpus = Corpus.Load(Option("corpus"));
var training = new Training(config, corpus, new Recipe(steps), device);
Console.WriteLine($"GPT '{config.Name}' on bytes of {corpus.Source}: {corpus.Bytes.Length:N0} bytes, {corpus.TrainBytes:N0} for training.");
Console.WriteLine($"{config.Layers} blocks of width {config.Width}, context {config.Context}, batch {config.Batch}; {steps} steps on {device}: " +
    "Muon for the hidden matrices, AdamW for the rest, WSD schedule, gradient norm clipped at 1.");
if (Option("export") is { } folder)
{
    Export.Write(training, corpus, folder);
    Console.WriteLine($"the corpus, initial weights, batches and schedule for pytorch_gpt.py: {folder}");
}

var bar = new ProgressBar(steps);
var log = training.Run(bar.Report);
Console.Write(Summary.Of(log));
Console.WriteLine(Summary.Timing(log));
if (Option("log") is { } path) Report.Save(log, path);
if (Option("plot") is { } png) Report.Plot(new[] { log }, png);
