using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.Json;
using OptDsl.Runtime.Core;
using TorchSharp.Modules;

namespace OptDsl.Optimizers;

/// <summary>
/// The catalog by name, for configuration files and sweeps: <c>OptimizerFactory.Create("adamw", parameters,
/// "lr=3e-4, weight_decay=0.1, betas=(0.9, 0.95)")</c>, or the options as a dictionary or a JSON object. Names and
/// option keys match whatever their case and whatever '_' or '-' they hold (<c>weight_decay</c> is <c>weightDecay</c>),
/// <c>betas</c> sets <c>beta1</c>, <c>beta2</c> (and <c>beta3</c>), and every option is checked against its declared
/// range before the optimizer is returned. A wrong name or option is an <see cref="ArgumentException"/> that lists
/// what there is.
/// </summary>
public static class OptimizerFactory
{
    /// <summary>Each declaration's spec (its name and options, known without building one) and how to build it.</summary>
    static readonly (OptimizerSpec Spec, Func<IEnumerable<Parameter>, DeclaredOptimizer> Create)[] Catalog =
    {
        Entry(SGD.Declaration, ps => new SGD(ps)),
        Entry(Adam.Declaration, ps => new Adam(ps)),
        Entry(AdamW.Declaration, ps => new AdamW(ps)),
        Entry(Adagrad.Declaration, ps => new Adagrad(ps)),
        Entry(RMSprop.Declaration, ps => new RMSprop(ps)),
        Entry(Adamax.Declaration, ps => new Adamax(ps)),
        Entry(NAdam.Declaration, ps => new NAdam(ps)),
        Entry(RAdam.Declaration, ps => new RAdam(ps)),
        Entry(Adadelta.Declaration, ps => new Adadelta(ps)),
        Entry(Rprop.Declaration, ps => new Rprop(ps)),
        Entry(ASGD.Declaration, ps => new ASGD(ps)),
        Entry(Lion.Declaration, ps => new Lion(ps)),
        Entry(DiffGrad.Declaration, ps => new DiffGrad(ps)),
        Entry(AdaBelief.Declaration, ps => new AdaBelief(ps)),
        Entry(Adan.Declaration, ps => new Adan(ps)),
        Entry(AdEMAMix.Declaration, ps => new AdEMAMix(ps)),
        Entry(Yogi.Declaration, ps => new Yogi(ps)),
        Entry(Adopt.Declaration, ps => new Adopt(ps)),
        Entry(AdamAtan2.Declaration, ps => new AdamAtan2(ps)),
        Entry(MarsAdamW.Declaration, ps => new MarsAdamW(ps)),
        Entry(MarsLion.Declaration, ps => new MarsLion(ps)),
        Entry(LaProp.Declaration, ps => new LaProp(ps)),
        Entry(Spam.Declaration, ps => new Spam(ps)),
        Entry(StableSpam.Declaration, ps => new StableSpam(ps)),
        Entry(AdamMini.Declaration, ps => new AdamMini(ps)),
        Entry(ScheduleFreeAdamW.Declaration, ps => new ScheduleFreeAdamW(ps)),
        Entry(ScheduleFreeSgd.Declaration, ps => new ScheduleFreeSgd(ps)),
        Entry(ScheduleFreeRAdam.Declaration, ps => new ScheduleFreeRAdam(ps)),
        Entry(Lamb.Declaration, ps => new Lamb(ps)),
        Entry(Lars.Declaration, ps => new Lars(ps)),
        Entry(CautiousAdamW.Declaration, ps => new CautiousAdamW(ps)),
        Entry(CautiousLion.Declaration, ps => new CautiousLion(ps)),
        Entry(SgdSai.Declaration, ps => new SgdSai(ps)),
        Entry(SignSgd.Declaration, ps => new SignSgd(ps)),
        Entry(DoG.Declaration, ps => new DoG(ps)),
        Entry(Prodigy.Declaration, ps => new Prodigy(ps)),
        Entry(Sophia.Declaration, ps => new Sophia(ps)),
        Entry(NagGs.Declaration, ps => new NagGs(ps)),
        Entry(MomentumSam.Declaration, ps => new MomentumSam(ps)),
        Entry(Adafactor.Declaration, ps => new Adafactor(ps)),
        Entry(Muon.Declaration, ps => new Muon(ps)),
        Entry(NorMuon.Declaration, ps => new NorMuon(ps)),
        Entry(AdaMuon.Declaration, ps => new AdaMuon(ps)),
        Entry(Scion.Declaration, ps => new Scion(ps)),
        Entry(ScionBias.Declaration, ps => new ScionBias(ps)),
        Entry(Swan.Declaration, ps => new Swan(ps)),
    };

    static (OptimizerSpec, Func<IEnumerable<Parameter>, DeclaredOptimizer>) Entry(OptimizerSpec spec, Func<IEnumerable<Parameter>, DeclaredOptimizer> create) => (spec, create);

    /// <summary>Every optimizer the factory makes, as the catalog names them.</summary>
    public static IReadOnlyList<string> Names { get; } = Catalog.Select(c => c.Spec.Name).ToArray();

    /// <summary>
    /// <paramref name="name"/> over <paramref name="parameters"/>, with <paramref name="options"/> written as
    /// <c>key=value</c> pairs separated by commas (numbers in invariant culture, <c>true</c>/<c>false</c>, and
    /// <c>betas=(0.9, 0.95)</c>); what it leaves out keeps the declaration's default.
    /// </summary>
    public static DeclaredOptimizer Create(string name, IEnumerable<Parameter> parameters, string? options = null) =>
        Create(name, parameters, ParseOptions(options ?? ""));

    /// <summary><paramref name="name"/> with options from a dictionary: numbers, booleans, numeric strings, or (for <c>betas</c>) a list of numbers.</summary>
    public static DeclaredOptimizer Create(string name, IEnumerable<Parameter> parameters, IReadOnlyDictionary<string, object?> options)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(options);
        var (spec, create) = Find(name);
        // Every option is resolved and checked against the declaration before anything is built.
        var resolved = options.SelectMany(o => Expand(o.Key, o.Value)).Select(v => (Index: Resolve(spec, v.Key), v.Value)).ToList();
        foreach (var (index, value) in resolved) DeclaredOptions.Check(spec, index, value, "the options");
        var optimizer = create(parameters);
        for (int g = 0; g < optimizer.GroupCount; g++)
        {
            var group = optimizer.OptionsOf(g);
            foreach (var (index, value) in resolved) group.Set(index, value);
            if (spec.LearningRateIndex >= 0) group.InitialLearningRate = group.LearningRate ?? 0;
        }
        return optimizer;
    }

    /// <summary>
    /// An optimizer from a JSON object: <c>{"name": "adamw", "lr": 3e-4, "weight_decay": 0.1, "betas": [0.9, 0.95]}</c>
    /// (<c>"name"</c> or <c>"optimizer"</c> names it; the other members are its options).
    /// </summary>
    public static DeclaredOptimizer FromJson(string json, IEnumerable<Parameter> parameters)
    {
        using var document = JsonDocument.Parse(json);
        if (document.RootElement.ValueKind != JsonValueKind.Object) throw new ArgumentException("The optimizer's JSON must be an object.", nameof(json));
        string? name = null;
        var options = new Dictionary<string, object?>();
        foreach (var member in document.RootElement.EnumerateObject())
        {
            if (Key(member.Name) is "name" or "optimizer")
                name = member.Value.ValueKind == JsonValueKind.String ? member.Value.GetString() : throw new ArgumentException($"The optimizer's \"{member.Name}\" must be a string.", nameof(json));
            else options[member.Name] = member.Value.ValueKind switch
            {
                JsonValueKind.Number => member.Value.GetDouble(),
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                JsonValueKind.String => member.Value.GetString(),
                JsonValueKind.Array => member.Value.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Number ? (object)e.GetDouble()
                    : throw new ArgumentException($"Option '{member.Name}': its list holds a {e.ValueKind}; it takes numbers.", nameof(json))).ToArray(),
                _ => throw new ArgumentException($"Option '{member.Name}' is a JSON {member.Value.ValueKind}; give a number, a boolean or a list of numbers.", nameof(json)),
            };
        }
        return Create(name ?? throw new ArgumentException("The optimizer's JSON has no \"name\".", nameof(json)), parameters, options);
    }

    /// <summary>The options <paramref name="name"/> takes: each one's name, kind, default and range.</summary>
    public static IReadOnlyList<HyperSpec> OptionsOf(string name) => Find(name).Spec.Hypers;

    static (OptimizerSpec Spec, Func<IEnumerable<Parameter>, DeclaredOptimizer> Create) Find(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        foreach (var entry in Catalog)
            if (Key(entry.Spec.Name) == Key(name)) return entry;
        var near = Nearest(name, Names);
        throw new ArgumentException($"No optimizer '{name}' in the catalog{(near is null ? "" : $"; did you mean '{near}'?")} It has: {string.Join(", ", Names)}.", nameof(name));
    }

    /// <summary>A name or key as matched: lower case, without '_', '-' or spaces.</summary>
    static string Key(string s) => new string(s.Where(ch => ch is not ('_' or '-' or ' ')).Select(char.ToLowerInvariant).ToArray());

    static int Resolve(OptimizerSpec spec, string key)
    {
        for (int i = 0; i < spec.Hypers.Count; i++)
            if (Key(spec.Hypers[i].Name) == Key(key)) return i;
        var names = spec.Hypers.Select(h => h.Name).ToArray();
        var near = Nearest(key, names);
        throw new ArgumentException($"{spec.Name} has no option '{key}'{(near is null ? "" : $"; did you mean '{near}'?")} It has: {string.Join(", ", names)}.");
    }

    /// <summary>A key and value, or <c>betas</c> as beta1, beta2 (, beta3); numbers, booleans and numeric strings as doubles.</summary>
    static IEnumerable<(string Key, double Value)> Expand(string key, object? value)
    {
        if (Key(key) == "betas")
        {
            var betas = value switch
            {
                IEnumerable<double> d => d.ToArray(),
                IEnumerable<object> o => o.Select(x => Number(key, x)).ToArray(),
                string s => s.Trim().TrimStart('(', '[').TrimEnd(')', ']').Split(',').Select(x => Number(key, x)).ToArray(),
                _ => throw new ArgumentException($"Option 'betas' is {value ?? "null"}; give two or three numbers, as betas=(0.9, 0.999)."),
            };
            if (betas.Length is < 2 or > 3) throw new ArgumentException($"Option 'betas' has {betas.Length} values; it takes two or three (beta1, beta2, beta3).");
            for (int i = 0; i < betas.Length; i++) yield return ($"beta{i + 1}", betas[i]);
            yield break;
        }
        yield return (key, Number(key, value));
    }

    static double Number(string key, object? value) => value switch
    {
        bool b => b ? 1 : 0,
        double d => d,
        float f => f,
        int i => i,
        long l => l,
        decimal m => (double)m,
        string s when bool.TryParse(s.Trim(), out var b) => b ? 1 : 0,
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
        _ => throw new ArgumentException($"Option '{key}' is '{value ?? "null"}'; give a number (in invariant culture, as 3e-4) or true/false."),
    };

    /// <summary>"lr=3e-4, betas=(0.9, 0.95), amsgrad=true" as its pairs; commas inside brackets belong to the value.</summary>
    internal static Dictionary<string, object?> ParseOptions(string text)
    {
        var options = new Dictionary<string, object?>(StringComparer.Ordinal);
        int depth = 0, start = 0;
        for (int i = 0; i <= text.Length; i++)
        {
            char ch = i < text.Length ? text[i] : ',';
            if (ch is '(' or '[') depth++;
            else if (ch is ')' or ']') depth--;
            if (ch != ',' || depth > 0) continue;
            var pair = text[start..i].Trim();
            start = i + 1;
            if (pair.Length == 0) continue;
            int equals = pair.IndexOf('=');
            if (equals <= 0) throw new ArgumentException($"'{pair}' in the options is not key=value.", nameof(text));
            var key = pair[..equals].Trim();
            if (options.Keys.Any(k => Key(k) == Key(key))) throw new ArgumentException($"Option '{key}' is given twice.", nameof(text));
            options[key] = pair[(equals + 1)..].Trim();
        }
        if (depth != 0) throw new ArgumentException($"The options '{text}' have unbalanced brackets.", nameof(text));
        return options;
    }

    /// <summary>The candidate within two edits of <paramref name="wrong"/> (as keys), if one is.</summary>
    static string? Nearest(string wrong, IEnumerable<string> candidates)
    {
        var best = candidates.Select(c => (Name: c, Distance: Edits(Key(wrong), Key(c)))).OrderBy(c => c.Distance).FirstOrDefault();
        return best.Name is not null && best.Distance <= 2 ? best.Name : null;
    }

    static int Edits(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (int i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            previous = current;
        }
        return previous[b.Length];
    }
}
