using System;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text.Json;
using TorchSharp;

namespace Transformer;

/// <summary>
/// Writes what a twin of the run in another framework needs to train the same model on the same data: the corpus,
/// the initial weights (float32, in parameter order), every step's and every validation batch's window offsets (int64),
/// the learning-rate factor of every step, and the recipe (manifest.json). pytorch_gpt.py reads it.
/// </summary>
public static class Export
{
    public static void Write(Training training, Corpus corpus, string folder)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "corpus.bin"), corpus.Bytes);
        using var model = training.NewModel();
        var parameters = model.named_parameters().ToArray();
        using (var weights = File.Create(Path.Combine(folder, "init.bin")))
            foreach (var (_, p) in parameters)
                weights.Write(MemoryMarshal.AsBytes(p.detach().contiguous().data<float>().ToArray().AsSpan()));
        var recipe = training.Recipe;
        WriteOffsets(Path.Combine(folder, "offsets.bin"), Enumerable.Range(0, recipe.Steps).SelectMany(training.TrainOffsets));
        WriteOffsets(Path.Combine(folder, "eval_offsets.bin"), Enumerable.Range(0, training.EvalBatches).SelectMany(training.ValidationOffsets));
        var manifest = new
        {
            model = training.Config,
            steps = recipe.Steps,
            seed = training.Seed,
            evalEvery = training.EvalEvery,
            evalBatches = training.EvalBatches,
            recipe,
            lrFactor = Enumerable.Range(0, recipe.Steps).Select(s => recipe.Factor(s)).ToArray(),
            parameters = parameters.Select(np => new { np.name, shape = np.parameter.shape }).ToArray(),
            corpus = new { corpus.Source, bytes = corpus.Bytes.Length, corpus.TrainBytes },
        };
        File.WriteAllText(Path.Combine(folder, "manifest.json"), JsonSerializer.Serialize(manifest, new JsonSerializerOptions { WriteIndented = true }));
    }

    static void WriteOffsets(string path, System.Collections.Generic.IEnumerable<long> offsets) =>
        File.WriteAllBytes(path, MemoryMarshal.AsBytes(offsets.ToArray().AsSpan()).ToArray());
}
