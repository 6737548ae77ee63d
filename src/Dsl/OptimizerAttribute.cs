using System;

namespace OptDsl;

/// <summary>
/// Marks a <c>partial class</c> as an optimizer declaration. The OptDsl generator completes the class into a
/// TorchSharp optimizer (it derives from <c>OptimizerHelper</c>, so it drops into existing TorchSharp code).
/// </summary>
/// <remarks>
/// <para>A declaration holds <see cref="HyperAttribute">hyperparameters</see>, per-element
/// <see cref="StateAttribute">state</see>, optional <see cref="ScalarStateAttribute">per-tensor scalar state</see>
/// and one <see cref="UpdateAttribute">update method</see> of scalar math for one parameter element.</para>
/// <para>Or it takes all of that from another declaration, <see cref="Base"/>, and adds <see cref="Modifiers"/> to its
/// rule, in one line: <c>[Optimizer(Base = typeof(Yogi), Modifiers = Modifier.Cautious)] public partial class CautiousYogi { }</c>.</para>
/// </remarks>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class OptimizerAttribute : Attribute
{
    /// <summary>
    /// A declared optimizer (of this project or a referenced one, as the catalog's) whose hyperparameters, state and
    /// rules this class takes as its own; the class then declares none itself. Its other members (a partial part's
    /// extra methods) do not carry over.
    /// </summary>
    public Type? Base { get; set; }

    /// <summary>What to add around the rule (of <see cref="Base"/>, or of this class): see <see cref="Modifier"/>.</summary>
    public Modifier Modifiers { get; set; }
}

/// <summary>
/// Changes that apply to any update rule, fused with it: the generator writes them around the rule, so every backend
/// runs the composed rule as one. Their hyperparameters and state join the rule's, under the names given here.
/// </summary>
[Flags]
public enum Modifier
{
    /// <summary>No change.</summary>
    None = 0,

    /// <summary>
    /// Grokfast-EMA (Lee et al., 2024): the gradient becomes <c>g + grokfastLambda·h</c>, where
    /// <c>h ← grokfastAlpha·h + (1 − grokfastAlpha)·g</c> starts at the first gradient (state <c>grokfastAverage</c>;
    /// defaults α = 0.98, λ = 2). Applied first, to the raw gradient.
    /// </summary>
    Grokfast = 1,

    /// <summary>
    /// MARS gradient correction (Yuan et al., 2024): the gradient becomes <c>c = g + marsGamma·β/(1 − β)·(g − g_prev)</c>,
    /// scaled to a Euclidean norm of at most <c>marsMaxNorm</c> per tensor (defaults γ = 0.025, 1). β is the rule's own
    /// <c>beta1</c> where it has one (as the authors tie it to the momentum), else a hyperparameter <c>marsBeta</c>
    /// (0.95). State <c>marsPrevious</c> holds the previous gradient, from zero. Applied after Grokfast.
    /// </summary>
    Mars = 2,

    /// <summary>
    /// Cautious masking (Liang et al., 2024): each element's change is kept only where it moves against the gradient
    /// the rule was given (<c>Δp·g &lt; 0</c>), the kept changes scaled by the tensor's fraction of kept elements (at
    /// least 1e-3). The mask covers the rule's whole change, weight decay included where the rule decays in its update.
    /// </summary>
    Cautious = 4,
}
