using OptDsl.Optimizers;

namespace OptDsl.Tests.Catalog;

// Declarations composed with modifiers (ModifierTests; the GPU check runs them on CUDA too).

/// <summary>The catalog's Yogi (from its assembly's metadata) with all three modifiers, in one line.</summary>
[Optimizer(Base = typeof(Yogi), Modifiers = Modifier.Grokfast | Modifier.Mars | Modifier.Cautious)]
public partial class GrokMarsCautiousYogi { }

/// <summary>The catalog's AdamW, cautious: with no weight decay, the catalog's Cautious AdamW.</summary>
[Optimizer(Base = typeof(AdamW), Modifiers = Modifier.Cautious)]
public partial class ComposedCautiousAdamW { }

/// <summary>A rule of this assembly with a modifier of its own...</summary>
[Optimizer(Modifiers = Modifier.Cautious)]
public partial class CautiousHeavyBall
{
    [Hyper("[0, inf)")] float lr = 0.01f;
    [Hyper("[0, 1)")] float momentum = 0.9f;
    [State] float buffer;

    [Update]
    void Update(ref float p, float g)
    {
        buffer = momentum * buffer + g;
        p -= lr * buffer;
    }
}

/// <summary>...and a declaration of this assembly that takes it as its base and adds another.</summary>
[Optimizer(Base = typeof(CautiousHeavyBall), Modifiers = Modifier.Grokfast)]
public partial class GrokfastCautiousHeavyBall { }
