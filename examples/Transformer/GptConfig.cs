using System;

namespace Transformer;

/// <summary>
/// A GPT's shape and its batch: bytes in (a vocabulary of 256), <see cref="Layers"/> pre-LayerNorm blocks of causal
/// self-attention and a 4x MLP, learned positions, an untied output head.
/// </summary>
public sealed record GptConfig(string Name, int Width, int Layers, int Heads, int Context, int Batch)
{
    public const int Vocabulary = 256;

    /// <summary>CI's size: trains in seconds on two cores.</summary>
    public static readonly GptConfig Tiny = new("tiny", Width: 64, Layers: 2, Heads: 4, Context: 64, Batch: 16);
    /// <summary>A few minutes on a laptop's CPU.</summary>
    public static readonly GptConfig Small = new("small", Width: 192, Layers: 4, Heads: 6, Context: 128, Batch: 16);
    /// <summary>GPT-2 small's blocks (85M parameters, its 48 hidden matrices) on bytes: a GPU's size.</summary>
    public static readonly GptConfig Gpt2 = new("gpt2", Width: 768, Layers: 12, Heads: 12, Context: 512, Batch: 32);

    public static GptConfig Named(string name) => name switch
    {
        "tiny" => Tiny,
        "small" => Small,
        "gpt2" => Gpt2,
        _ => throw new ArgumentException($"No model size '{name}': tiny, small or gpt2."),
    };

    public int TokensPerStep => Batch * Context;
}
