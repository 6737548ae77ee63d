using OptDsl;

/// <summary>Signum: the sign of momentum (Bernstein et al., 2018), declared in the consumer's own code.</summary>
[Optimizer]
public partial class Signum
{
    [Hyper("[0, inf)")] float lr = 1e-3f;
    [Hyper("[0, 1)")] float beta = 0.9f;
    [State] float m;

    [Update]
    void Update(ref float p, float g)
    {
        m = beta * m + (1 - beta) * g;
        p -= lr * OptMath.Sign(m);
    }
}
