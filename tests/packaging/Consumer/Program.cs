using System;
using TorchSharp;
using TorchSharp.Modules;

// One step with an optimizer declared here and one from the catalog, both on the CPU, from the packages alone.
var a = new Parameter(torch.tensor(new float[] { 1f, -2f, 3f }));
var b = new Parameter(torch.tensor(new float[] { 1f, -2f, 3f }));
a.grad = torch.ones(3);
b.grad = torch.ones(3);
var signum = new Signum(new[] { a }, lr: 0.5);
var adamw = new OptDsl.Optimizers.AdamW(new[] { b }, lr: 0.1, weightDecay: 0);
signum.step();
adamw.step();
var sa = string.Join(", ", a.data<float>().ToArray());
var sb = string.Join(", ", b.data<float>().ToArray());
Console.WriteLine($"Signum step:  {sa}");
Console.WriteLine($"AdamW step:   {sb}");
bool ok = sa == "0.5, -2.5, 2.5" && Math.Abs(b.data<float>()[0] - 0.9f) < 1e-6;
Console.WriteLine(ok ? "consumer test passed" : "consumer test FAILED");
return ok ? 0 : 1;
