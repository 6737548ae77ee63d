using System.IO;
using System.Linq;
using OptDsl.Runtime.Core;
using OptDsl.Runtime.Services.Schedules;
using OptDsl.Tests.Catalog;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.GpuCheck;

/// <summary>The fused CUDA update is elementwise and deterministic, so a resumed run must equal the uninterrupted one.</summary>
public static class ResumeCheck
{
    static Optimizers.AdamW Make(Parameter[] parameters)
    {
        var opt = new Optimizers.AdamW(parameters, lr: 0.01) { Backend = UpdateBackend.Fused };
        opt.Schedule("lr", Schedules.Wsd(20, 4, 0.3, peak: 0.01)).Schedule("beta2", Schedules.Linear(0.95, 0.999, 10));
        return opt;
    }

    public static bool Run()
    {
        var straight = TestData.Parameters(ScalarType.Float32, CUDA);
        var a = Make(straight);
        for (int step = 1; step <= 16; step++) { TestData.SetGradients(straight, step); a.step(); }

        var first = TestData.Parameters(ScalarType.Float32, CUDA);
        var b = Make(first);
        for (int step = 1; step <= 7; step++) { TestData.SetGradients(first, step); b.step(); }
        var path = Path.Combine(Path.GetTempPath(), "optdsl-gpu-resume.ckpt");
        b.SaveCheckpoint(path);
        var resumed = first.Select(p => new Parameter(p.detach().clone())).ToArray();
        var c = Make(resumed);
        c.LoadCheckpoint(path);
        for (int step = 8; step <= 16; step++) { TestData.SetGradients(resumed, step); c.step(); }
        return resumed.Zip(straight).All(pair => pair.First.eq(pair.Second).all().item<bool>());
    }
}
