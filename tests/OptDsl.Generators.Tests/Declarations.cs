namespace OptDsl.Generators.Tests;

/// <summary>Declarations written for the tests, beside the catalog's and the example's.</summary>
public static class Declarations
{
    /// <summary>Per-element branches, selects, host locals, an int hyperparameter and scalar state, in the global namespace.</summary>
    public const string Branchy = """
        using System;
        using OptDsl;

        /// <summary>Exercises per-element branches.</summary>
        [Optimizer]
        internal partial class Branchy
        {
            [Hyper] float lr = 0.1f;
            [Hyper("[0, inf)")] float clip = 1f;
            [Hyper("[1, inf)")] int period = 2;
            [State] float m;
            [ScalarState] double seen;

            [Update]
            void Update(ref float p, float g, int t)
            {
                float u = g;
                if (g > clip) u = clip;
                else if (g < -clip) u = -clip;
                seen += 1;
                float boost = t % period == 0 ? 2f : 1f;
                m = m > 0 && u > 0 ? MathF.Max(m, u) : OptMath.Lerp(m, u, 0.5f);
                p -= lr * boost * OptMath.Clamp(m, -clip, clip) / (1 + (float)seen);
            }
        }
        """;

    /// <summary>The declaration the README shows, read from README.md so that the README stays true.</summary>
    public static string Readme
    {
        get
        {
            var readme = GeneratorHarness.RepositoryFile("README.md");
            int start = readme.IndexOf("```csharp\nusing System;");
            int end = readme.IndexOf("```", start + 9);
            return "namespace ReadmeExample;\n" + readme.Substring(start + 10, end - start - 10);
        }
    }

    public static readonly string[] CatalogFiles =
    {
        "SGD", "Adam", "AdamW", "Adagrad", "RMSprop", "Adamax", "NAdam", "RAdam", "Adadelta", "Lion", "DiffGrad",
        "AdaBelief", "Adan", "AdEMAMix", "ScheduleFreeAdamW", "Lamb", "Lars", "CautiousAdamW", "CautiousLion", "Muon", "SgdSai", "Adafactor", "Swan", "SignSgd", "DoG",
        "NorMuon", "AdaMuon", "Scion", "ScionBias", "Rprop", "ASGD", "Yogi", "Adopt", "AdamAtan2", "ScheduleFreeSgd", "MarsAdamW",
        "LaProp", "MarsLion", "ScheduleFreeRAdam", "Spam", "StableSpam", "AdamMini",
    };

    /// <summary>Hand-written parts of catalog optimizers, beside their declarations, and what they share.</summary>
    public static readonly string[] CatalogPartFiles = { "ScheduleFreeAdamW.Average", "ScheduleFreeSgd.Average", "ScheduleFreeRAdam.Average", "ScheduleFreeAverage" };

    public static string Catalog(string name) => GeneratorHarness.RepositoryFile($"src/Optimizers/{name}.cs");

    public static string Example => GeneratorHarness.RepositoryFile("examples/QuickStart/LaProp.cs");
}
