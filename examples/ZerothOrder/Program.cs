using System;
using System.Globalization;
using System.Linq;
using OptDsl.Examples;
using ZerothOrder;

// Fine-tuning with forward passes only (MeZO) against AdamW; prints losses and memory, writes zeroth-order.png.
// Usage: dotnet run --project examples/ZerothOrder [-- steps [output.png]] (by default the PNG goes to the
// example's output folder, bin/Debug/net10.0/, and its path is printed)
int steps = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3000;
string png = ExampleOutput.FromArguments(args, 1, "zeroth-order.png");

Console.WriteLine($"pretraining with AdamW for {FineTuning.PretrainSteps} steps...");
var weights = FineTuning.Pretrain();
long parameters = weights.Sum(w => w.NumberOfElements);
void Report(string name, int step) { if (step % Math.Max(1, steps / 5) == 0) Console.WriteLine($"  {name}: step {step}/{steps}"); }
var runs = new[]
{
    FineTuning.MeZO(weights, steps, s => Report("MeZO", s)),
    FineTuning.AdamW(weights, steps, s => Report("AdamW", s)),
};
Console.WriteLine();
Console.WriteLine(FineTuning.Summary(runs, parameters));
foreach (var r in runs) Console.WriteLine($"{r.Name}: {r.Seconds:F1} s for {steps} steps");
Plot.Save(runs, png);
Console.WriteLine($"loss curves: {png}");
