using System;
using System.Collections.Generic;
using OptDsl.Optimizers;
using OptDsl.Runtime.Core;

namespace OptDsl.Tests.Catalog;

/// <summary>Every catalog optimizer by name, with default hyperparameters.</summary>
public static class CatalogIndex
{
    public static readonly IReadOnlyDictionary<string, Func<IEnumerable<TorchSharp.Modules.Parameter>, DeclaredOptimizer>> Create =
        new Dictionary<string, Func<IEnumerable<TorchSharp.Modules.Parameter>, DeclaredOptimizer>>
        {
            ["SGD"] = ps => new SGD(ps),
            ["Adam"] = ps => new Adam(ps),
            ["AdamW"] = ps => new AdamW(ps),
            ["Adagrad"] = ps => new Adagrad(ps),
            ["RMSprop"] = ps => new RMSprop(ps),
            ["Adamax"] = ps => new Adamax(ps),
            ["NAdam"] = ps => new NAdam(ps),
            ["RAdam"] = ps => new RAdam(ps),
            ["Adadelta"] = ps => new Adadelta(ps),
            ["Lion"] = ps => new Lion(ps),
            ["DiffGrad"] = ps => new DiffGrad(ps),
            ["AdaBelief"] = ps => new AdaBelief(ps),
            ["Adan"] = ps => new Adan(ps),
            ["AdEMAMix"] = ps => new AdEMAMix(ps),
            ["ScheduleFreeAdamW"] = ps => new ScheduleFreeAdamW(ps),
            ["Lamb"] = ps => new Lamb(ps),
            ["Lars"] = ps => new Lars(ps),
            ["CautiousAdamW"] = ps => new CautiousAdamW(ps),
            ["CautiousLion"] = ps => new CautiousLion(ps),
            ["Muon"] = ps => new Muon(ps),
            ["NorMuon"] = ps => new NorMuon(ps),
            ["AdaMuon"] = ps => new AdaMuon(ps),
            ["Scion"] = ps => new Scion(ps),
            ["ScionBias"] = ps => new ScionBias(ps),
            ["SgdSai"] = ps => new SgdSai(ps),
            ["Adafactor"] = ps => new Adafactor(ps),
            ["Swan"] = ps => new Swan(ps),
            ["SignSgd"] = ps => new SignSgd(ps),
            ["DoG"] = ps => new DoG(ps),
            ["Sophia"] = ps => new Sophia(ps),
            ["Prodigy"] = ps => new Prodigy(ps),
            ["NagGs"] = ps => new NagGs(ps),
            ["MomentumSam"] = ps => new MomentumSam(ps),
            ["Rprop"] = ps => new Rprop(ps),
            ["ASGD"] = ps => new ASGD(ps),
            ["Yogi"] = ps => new Yogi(ps),
            ["Adopt"] = ps => new Adopt(ps),
            ["AdamAtan2"] = ps => new AdamAtan2(ps),
            ["ScheduleFreeSgd"] = ps => new ScheduleFreeSgd(ps),
            ["MarsAdamW"] = ps => new MarsAdamW(ps),
            ["LaProp"] = ps => new LaProp(ps),
            ["MarsLion"] = ps => new MarsLion(ps),
            ["ScheduleFreeRAdam"] = ps => new ScheduleFreeRAdam(ps),
            ["Spam"] = ps => new Spam(ps),
            ["StableSpam"] = ps => new StableSpam(ps),
            ["AdamMini"] = ps => new AdamMini(ps),
        };
}
