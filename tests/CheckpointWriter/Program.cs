using System;
using System.IO;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

// "CheckpointWriter PATH": steps an AdamW over 4M elements and saves its checkpoint to PATH after every step, forever,
// saying "writing N" before each save and "saved N" after it, so that a test can kill it in the middle of a write.
// "CheckpointWriter --throughput ELEMENTS [FOLDER] [ROUNDS]": save and load throughput of an AdamW checkpoint over
// ELEMENTS float32 parameters against File.Copy (Throughput.cs).
// "CheckpointWriter --saves ELEMENTS [FOLDER] [ROUNDS]": saves alone, each beside a bare write+flush of the same bytes.
if (args[0] == "--saves")
{
    var folder = args.Length > 2 ? args[2] : Path.Combine(Path.GetTempPath(), "optdsl-throughput");
    Throughput.SavesAlone(long.Parse(args[1]), folder, args.Length > 3 ? int.Parse(args[3]) : 5);
    return;
}
if (args[0] == "--throughput")
{
    var folder = args.Length > 2 ? args[2] : Path.Combine(Path.GetTempPath(), "optdsl-throughput");
    Throughput.Run(long.Parse(args[1]), folder, args.Length > 3 ? int.Parse(args[3]) : 5);
    return;
}
var parameter = new Parameter(torch.randn(4_000_000));
using var optimizer = new OptDsl.Optimizers.AdamW(new[] { parameter });
for (long n = 1; ; n++)
{
    parameter.grad = torch.randn(4_000_000);
    optimizer.step();
    Console.WriteLine($"writing {n}");
    optimizer.SaveCheckpoint(args[0]);
    Console.WriteLine($"saved {n}");
}
