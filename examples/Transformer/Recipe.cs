using System;
using OptDsl.Optimizers;
using OptDsl.Runtime.Composition;
using OptDsl.Runtime.Services.Schedules;
using TorchSharp;

namespace Transformer;

/// <summary>
/// The optimizer recipe: Muon for the hidden weight matrices, AdamW for the embeddings, the head, gains and biases
/// (routed by name), each on a warmup-stable-decay schedule, under one global-norm clip — one optimizer, one step().
/// </summary>
public sealed record Recipe(int Steps, double MuonLr = 0.02, double MuonMomentum = 0.95, double MuonWeightDecay = 0.01,
    double AdamLr = 3e-3, double Beta1 = 0.9, double Beta2 = 0.95, double AdamEps = 1e-8, double ClipNorm = 1.0,
    double WarmupFraction = 0.05, double DecayFraction = 0.3)
{
    public long WarmupSteps => Math.Max(1, (long)(Steps * WarmupFraction));

    /// <summary>The schedule's factor of the peak learning rate at step <paramref name="step"/> (0 for the first).</summary>
    public double Factor(long step) => Schedules.Wsd(Steps, WarmupSteps, DecayFraction).At(step);

    public ComposedOptimizer Build(Gpt model)
    {
        var routed = model.named_parameters()
            .Route("muon", Routing.Matrices("embed", "head"), ps => new Muon(ps, lr: MuonLr, momentum: MuonMomentum, weightDecay: MuonWeightDecay)
                .Schedule("lr", Schedules.Wsd(Steps, WarmupSteps, DecayFraction, peak: MuonLr)))
            .Otherwise("adamw", ps => new AdamW(ps, lr: AdamLr, beta1: Beta1, beta2: Beta2, eps: AdamEps, weightDecay: 0)
                .Schedule("lr", Schedules.Wsd(Steps, WarmupSteps, DecayFraction, peak: AdamLr)));
        return routed.Compose(new ClipGradNorm(ClipNorm));
    }
}
