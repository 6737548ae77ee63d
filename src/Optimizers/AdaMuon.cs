using System;
using OptDsl;

namespace OptDsl.Optimizers;

/// <summary>
/// AdaMuon (Si, Zhang and Shen, 2025, "AdaMuon: Adaptive Muon Optimizer"): Muon with Adam's per-element second moment
/// taken on the orthogonalised update, which is divided by its root, then rescaled to Adam's update RMS
/// (<c>0.2·sqrt(rows·columns)/‖Ô‖</c>), so AdamW's learning rates and schedules carry over. The momentum's sign is
/// orthogonalised (the paper's sign-stabilised update, from its second version on); <c>signMomentum: false</c>
/// orthogonalises the momentum itself, as the authors' released adamuon.py does. Otherwise as that code: the Nesterov
/// look-ahead, the second moment bias-corrected, <c>eps</c> added to its root and to the norm, decoupled weight decay.
/// For hidden weight matrices only: route the rest to AdamW (<c>Routing.Route</c>).
/// </summary>
[Optimizer]
public partial class AdaMuon
{
    /// <summary>The learning rate (as AdamW's: the update has Adam's RMS).</summary>
    [Hyper("[0, inf)")] float lr = 1e-3f;
    /// <summary>Momentum.</summary>
    [Hyper("[0, 1)")] float momentum = 0.95f;
    /// <summary>Decay of the second moment.</summary>
    [Hyper("[0, 1)")] float beta2 = 0.999f;
    /// <summary>Orthogonalise the Nesterov look-ahead instead of the momentum itself.</summary>
    [Hyper] bool nesterov = true;
    /// <summary>Orthogonalise the momentum's sign (the paper) rather than the momentum (the released code).</summary>
    [Hyper] bool signMomentum = true;
    /// <summary>Newton–Schulz iterations.</summary>
    [Hyper("[0, 100]")] int nsSteps = 5;
    /// <summary>Decoupled weight decay.</summary>
    [Hyper("[0, inf)")] float weightDecay = 0.01f;
    /// <summary>Added to the second moment's root and to the norm the rescaling divides by.</summary>
    [Hyper("(0, inf)")] float eps = 1e-8f;

    /// <summary>Momentum buffer.</summary>
    [State] float buffer;
    /// <summary>Second moment of the orthogonalised update.</summary>
    [State] float v;

    [Update]
    void Update(ref float p, float g, int t)
    {
        buffer = OptMath.Lerp(buffer, g, 1 - momentum);
        float u = nesterov ? OptMath.Lerp(g, buffer, momentum) : buffer;
        float o = Matrix.NewtonSchulz(signMomentum ? OptMath.Sign(u) : u, nsSteps);
        v = beta2 * v + (1 - beta2) * o * o;
        float normalized = o / (MathF.Sqrt(v / (1 - MathF.Pow(beta2, t))) + eps);
        float scale = 0.2f * MathF.Sqrt(Matrix.Rows() * Matrix.Columns()) / (Reduce.Norm(normalized) + eps);
        p *= 1 - lr * weightDecay;
        p -= lr * scale * normalized;
    }
}
