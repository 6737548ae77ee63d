using System;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Transformer;

/// <summary>
/// A GPT on bytes. Parameter names (<c>tok_embed</c>, <c>pos_embed</c>, <c>head</c>, <c>blocks.i.*</c>) are what the
/// optimizer recipe routes by and what the PyTorch twin (pytorch_gpt.py) mirrors.
/// </summary>
public sealed class Gpt : nn.Module<Tensor, Tensor>
{
    readonly Embedding tok_embed, pos_embed;
    readonly ModuleList<Block> blocks;
    readonly LayerNorm ln_f;
    readonly Linear head;

    public Gpt(GptConfig config) : base("Gpt")
    {
        if (config.Width % config.Heads != 0) throw new ArgumentException($"Width {config.Width} is not a multiple of {config.Heads} heads.");
        Config = config;
        tok_embed = nn.Embedding(GptConfig.Vocabulary, config.Width);
        pos_embed = nn.Embedding(config.Context, config.Width);
        blocks = new ModuleList<Block>(Enumerable.Range(0, config.Layers).Select(_ => new Block(config)).ToArray());
        ln_f = nn.LayerNorm(config.Width);
        head = nn.Linear(config.Width, GptConfig.Vocabulary, hasBias: false);
        RegisterComponents();
    }

    public GptConfig Config { get; }

    /// <summary>Logits for the next byte at each position of <paramref name="tokens"/> (batch × length, int64).</summary>
    public override Tensor forward(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        using var kept = KeptScalars.Rent();
        var positions = arange(kept[0], kept[tokens.shape[1]], kept[1], ScalarType.Int64, tokens.device);
        var x = tok_embed.forward(tokens).add(pos_embed.forward(positions), ScalarCalls.One);
        foreach (var block in blocks) x = block.forward(x);
        return head.forward(ln_f.forward(x)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// GPT-2's initialisation, drawn on the CPU from <paramref name="seed"/> so that every device starts from the same
    /// weights: normal(0, 0.02) for embeddings and matrices, 0.02/√(2·layers) for the projections back into the residual
    /// stream, zero biases, unit gains.
    /// </summary>
    public void Initialize(long seed)
    {
        using var kept = KeptScalars.Rent();
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed);
        foreach (var (name, p) in named_parameters())
        {
            using var scope = NewDisposeScope();
            if (name.EndsWith(".bias")) p.zero_();
            else if (name.Contains("ln")) p.fill_(kept[1]);
            else
            {
                double std = name.EndsWith("proj.weight") ? 0.02 / Math.Sqrt(2 * Config.Layers) : 0.02;
                p.copy_(randn(p.shape, ScalarType.Float32, generator: generator).mul(kept[std]));
            }
        }
    }

    /// <summary>One pre-LayerNorm block: x + attention(ln1(x)), then x + MLP(ln2(x)).</summary>
    sealed class Block : nn.Module<Tensor, Tensor>
    {
        readonly LayerNorm ln1, ln2;
        readonly Linear attn_qkv, attn_proj, mlp_fc, mlp_proj;
        readonly GELU gelu;
        readonly int heads;

        public Block(GptConfig config) : base("Block")
        {
            heads = config.Heads;
            ln1 = nn.LayerNorm(config.Width);
            attn_qkv = nn.Linear(config.Width, 3 * config.Width);
            attn_proj = nn.Linear(config.Width, config.Width);
            ln2 = nn.LayerNorm(config.Width);
            mlp_fc = nn.Linear(config.Width, 4 * config.Width);
            mlp_proj = nn.Linear(4 * config.Width, config.Width);
            gelu = nn.GELU();
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            long batch = x.shape[0], length = x.shape[1], width = x.shape[2];
            var qkv = attn_qkv.forward(ln1.forward(x)).view(batch, length, 3, heads, width / heads).permute(2, 0, 3, 1, 4);
            var attended = nn.functional.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], is_casual: true);
            x = x.add(attn_proj.forward(attended.transpose(1, 2).reshape(batch, length, width)), ScalarCalls.One);
            x = x.add(mlp_proj.forward(gelu.forward(mlp_fc.forward(ln2.forward(x)))), ScalarCalls.One);
            return x.MoveToOuterDisposeScope();
        }
    }
}
