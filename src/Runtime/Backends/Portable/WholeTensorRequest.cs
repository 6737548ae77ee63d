using System;
using System.Linq;
using static TorchSharp.torch;

namespace OptDsl.Runtime.Backends.Portable;

/// <summary>
/// Whole-tensor work a generated portable update yields — a Newton–Schulz orthogonalisation, a reduction over every
/// tensor — so that the runtime can answer it across tensors; the rule reads <see cref="Result"/> when it resumes.
/// </summary>
public abstract class WholeTensorRequest(Tensor input, Tensor like)
{
    /// <summary>The rule's per-element value (shaped like the parameter, or broadcast to it).</summary>
    public Tensor Input { get; } = input;

    /// <summary>The parameter.</summary>
    public Tensor Like { get; } = like;

    /// <summary>The answer, once the runtime has given it.</summary>
    public Tensor Result { get; internal set; } = null!;

    /// <summary>The input expanded to the parameter's shape.</summary>
    internal Tensor Full => Input.shape.AsSpan().SequenceEqual(Like.shape) ? Input : Input.expand_as(Like);
}
