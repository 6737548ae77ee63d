using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Runtime.Services.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptDsl.Runtime.HandWritten;

/// <summary>
/// L-BFGS (Liu and Nocedal, 1989, "On the limited memory BFGS method for large scale optimization") as torch.optim.LBFGS
/// (PyTorch 2.11) runs it, with the same options, defaults, state, stopping rules and line search, so that a model
/// moved from PyTorch's, or from TorchSharp's built-in <c>torch.optim.LBFGS</c> (given the same options: its defaults
/// differ, and it has no line search), takes the same steps. All parameters are one flat vector x (their elements in
/// order); a step takes a closure that computes the loss f(x) and its gradient g (by <c>backward()</c>).
/// </summary>
/// <remarks>
/// <para>One step evaluates the closure, stops at once if <c>max|g| ≤ toleranceGrad</c>, and otherwise makes up to
/// <c>maxIter</c> iterations, each:</para>
/// <list type="number">
/// <item>The direction: at the very first iteration (of the optimizer's life) <c>d = −g</c> and the history is emptied.
/// Later, with <c>y = g − g_prev</c> and <c>s = t·d</c> of the previous iteration, the pair (y, s) joins the history
/// (dropping the oldest beyond <c>historySize</c>) when <c>yᵀs &gt; 10⁻¹⁰</c>, with <c>ρ = 1/yᵀs</c> and the scale
/// <c>γ = yᵀs/yᵀy</c>; then <c>d = −H g</c> by the two-loop recursion (Nocedal and Wright, "Numerical Optimization",
/// 2nd ed., Algorithm 7.4) with <c>H₀ = γI</c> (γ = 1 before any pair).</item>
/// <item>The step length: <c>t = lr·min(1, 1/Σ|g|)</c> at the very first iteration, <c>lr</c> after. The iteration
/// stops the step when the directional derivative <c>gᵀd &gt; −toleranceChange</c>.</item>
/// <item>The move: <c>x ← x + t·d</c> and a new evaluation (skipped on the last iteration), or with
/// <see cref="LbfgsLineSearch.StrongWolfe"/> a search for t along d (<see cref="StrongWolfe"/>, c₁ = 10⁻⁴, c₂ = 0.9,
/// bracket tolerance 10⁻⁹ whatever <c>toleranceChange</c> is, as in torch.optim; after its first trial it makes at most
/// as many as are left of <c>maxEval</c>, so a step may end one evaluation over <c>maxEval</c>, as there).</item>
/// <item>The step ends after <c>maxIter</c> iterations, once <c>maxEval</c> evaluations are reached, when
/// <c>max|g| ≤ toleranceGrad</c>, when <c>max|t·d| ≤ toleranceChange</c>, or when the loss changed by less than
/// <c>toleranceChange</c>.</item>
/// </list>
/// <para>The history, direction, step length, previous gradient and loss and the counts carry over between steps and go
/// into <c>state_dict</c> (<see cref="LbfgsState"/>). The vectors are in the parameters' dtype, so all parameters must
/// share one dtype and one device (torch.optim's LBFGS asks for one device too); complex parameters are not supported.
/// The two-loop recursion runs on the device without reading its coefficients back; each iteration reads a handful of
/// scalars (yᵀs, gᵀd, max|g|, the loss), as torch.optim does.</para>
/// <para>Departures, none of which changes a step that completes: the first evaluation's loss and gradient are checked
/// (a non-finite value, a gradient of the wrong shape or none at all throws before anything changes), where
/// torch.optim would carry NaNs on; the weights are put back if the closure throws during a line search; and the losses
/// of the evaluations after the first are read and disposed (the first is returned).</para>
/// </remarks>
public sealed class Lbfgs : OptimizerHelper
{
    static Lbfgs() => TorchSharpNative.EnsureLoadable();

    internal const string Name = "L-BFGS";

    /// <summary>A pair (y, s) joins the history only when <c>yᵀs</c> exceeds this (torch.optim's threshold).</summary>
    public const double CurvatureThreshold = 1e-10;

    /// <summary>The strong-Wolfe search's bracket tolerance: torch.optim passes it its default, not <c>toleranceChange</c>.</summary>
    public const double LineSearchTolerance = 1e-9;

    readonly Parameter[] _parameters;
    readonly LbfgsState _memory;

    /// <summary>Creates L-BFGS over <paramref name="parameters"/> with torch.optim.LBFGS's options and defaults.</summary>
    /// <param name="parameters">The parameters, real floating-point, of one dtype, on one device.</param>
    /// <param name="lr">The step length (scales the first iteration's <c>min(1, 1/Σ|g|)</c>, and is the line search's first trial).</param>
    /// <param name="maxIter">The most iterations a step makes.</param>
    /// <param name="maxEval">The most closure evaluations a step makes; null: <c>maxIter·5/4</c> (rounded down), as torch.optim.</param>
    /// <param name="toleranceGrad">A step stops when <c>max|g|</c> is at most this.</param>
    /// <param name="toleranceChange">A step stops when the loss, the move or the directional derivative changes by less.</param>
    /// <param name="historySize">The number of curvature pairs kept.</param>
    /// <param name="lineSearch">None (a fixed step) or the strong-Wolfe search.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option outside its range; nothing is allocated.</exception>
    public Lbfgs(IEnumerable<Parameter> parameters, double lr = 1, int maxIter = 20, int? maxEval = null, double toleranceGrad = 1e-7,
        double toleranceChange = 1e-9, int historySize = 100, LbfgsLineSearch lineSearch = LbfgsLineSearch.None)
        : this(new ParamGroup<LbfgsOptions>(parameters, new LbfgsOptions
        {
            LearningRate = lr, MaxIter = maxIter, MaxEval = maxEval, ToleranceGrad = toleranceGrad, ToleranceChange = toleranceChange,
            HistorySize = historySize, LineSearch = lineSearch,
        }))
    {
    }

    /// <summary>
    /// Creates L-BFGS over the one group in <paramref name="groups"/>; what its options leave unset takes torch.optim's
    /// defaults. L-BFGS works on all parameters as one vector, so more than one group is refused.
    /// </summary>
    public Lbfgs(IEnumerable<ParamGroup<LbfgsOptions>> groups) : this(OnlyGroup(groups)) { }

    Lbfgs(ParamGroup<LbfgsOptions> group)
    {
        ArgumentNullException.ThrowIfNull(group);
        var options = group.Options ?? new LbfgsOptions();
        options.FillDefaults();
        options.Validate(Name, "the options");
        _parameters = group.Parameters?.ToArray() ?? throw new ArgumentNullException("parameters", $"{Name}: no parameters.");
        if (_parameters.Length == 0) throw new ArgumentException($"{Name}: the parameter list is empty.");
        if (_parameters.Any(p => p is null || !p.is_floating_point()))
            throw new ArgumentException($"{Name} updates real floating-point parameters only.");
        if (_parameters.Select(p => p.Handle).Distinct().Count() != _parameters.Length)
            throw new ArgumentException($"{Name}: a parameter appears more than once.");
        var first = _parameters[0];
        if (_parameters.FirstOrDefault(p => p.dtype != first.dtype || !Services.Devices.Same(p.device, first.device)) is { } other)
            throw new ArgumentException(
                $"{Name} works on all parameters as one vector: they must share one dtype and device (found {first.dtype} on {first.device} and {other.dtype} on {other.device}).");

        group.Options = options;
        group.Parameters = _parameters;
        _defaults = options;
        _parameter_groups = new List<ParamGroup> { group };
        _memory = new LbfgsState(first, _parameters.Sum(p => p.NumberOfElements), first.dtype);
        // One state for all: every parameter maps to it, so TorchSharp's per-parameter walks (to(device)) reach it.
        foreach (var p in _parameters) _state[p.Handle] = _memory;
    }

    static ParamGroup<LbfgsOptions> OnlyGroup(IEnumerable<ParamGroup<LbfgsOptions>> groups)
    {
        ArgumentNullException.ThrowIfNull(groups);
        var list = groups.ToList();
        return list.Count == 1 ? list[0] : throw new ArgumentException(
            $"{Name} takes exactly one parameter group (it works on all parameters as one flat vector, as torch.optim.LBFGS does); got {list.Count}.", nameof(groups));
    }

    /// <summary>The options of the one parameter group (an LR scheduler changes its learning rate).</summary>
    public LbfgsOptions Options => (LbfgsOptions)_parameter_groups[0].Options;

    /// <summary>The state kept between steps.</summary>
    public LbfgsState State => _memory;

    /// <summary>Refused: L-BFGS keeps exactly one parameter group.</summary>
    public override void add_param_group(ParamGroup param_group) =>
        throw new InvalidOperationException($"{Name} keeps exactly one parameter group (it works on all parameters as one flat vector, as torch.optim.LBFGS does): create it with every parameter.");

    /// <summary>
    /// Makes up to <c>maxIter</c> iterations; <paramref name="closure"/> computes the loss, calls <c>backward()</c> (after
    /// zeroing the gradients) and returns the loss. Returns the loss of the first evaluation, as torch.optim does.
    /// </summary>
    /// <exception cref="ArgumentException">No closure.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option set outside its range since; nothing changed.</exception>
    /// <exception cref="InvalidOperationException">The first evaluation gave a non-finite loss or gradient, or none; nothing changed.</exception>
    public override Tensor step(Func<Tensor>? closure = null)
    {
        if (closure is null)
            throw new ArgumentException(
                $"{Name} evaluates the loss and gradient several times a step: call step with a closure that zeroes the gradients, computes the loss, calls backward() and returns the loss.",
                nameof(closure));
        var o = Options;
        o.Validate(Name, "the parameter group");
        using var noGrad = no_grad();

        Tensor firstLoss;
        using (enable_grad()) firstLoss = closure();
        double loss = ReadLoss(firstLoss);
        if (_parameters.All(p => p.grad is null))
            throw new InvalidOperationException($"{Name}: the closure left no gradient: did it call backward()? Nothing was changed.");
        var flatGrad = GatherGradient();
        try
        {
            if (!double.IsFinite(loss) || !double.IsFinite(MaxAbs(flatGrad)))
                throw new InvalidOperationException($"{Name}: the loss ({loss}) or the gradient is not finite at the step's start; nothing was changed.");
            Iterate(closure, o, ref flatGrad, loss);
        }
        finally
        {
            flatGrad.Dispose();
        }
        return firstLoss;
    }

    void Iterate(Func<Tensor> closure, LbfgsOptions o, ref Tensor flatGrad, double loss)
    {
        var s = _memory;
        double lr = o.LearningRate!.Value, toleranceGrad = o.ToleranceGrad!.Value, toleranceChange = o.ToleranceChange!.Value;
        int maxIter = o.MaxIter!.Value, maxEval = o.MaxEval!.Value;
        s.FunctionEvaluations++;
        int evaluations = 1;
        bool optimal = MaxAbs(flatGrad) <= toleranceGrad;
        if (optimal) return;

        for (int iteration = 1; iteration <= maxIter; iteration++)
        {
            s.Iterations++;
            if (s.Iterations == 1)
            {
                using (NewDisposeScope()) s.Restart(flatGrad.neg());
            }
            else s.SetDirection(Direction(flatGrad, o.HistorySize!.Value));
            s.KeepGradient(flatGrad);
            s.PreviousLoss = loss;

            double t = lr;
            if (s.Iterations == 1)
            {
                // min(1, 1/Σ|g|) as Python's min(1.0, x): x only when it is smaller.
                double inverse = 1.0 / SumAbs(flatGrad);
                t = (inverse < 1.0 ? inverse : 1.0) * lr;
            }
            s.StepLength = t;
            var d = s.Direction!;
            double gtd = Dot(flatGrad, d);
            if (gtd > -toleranceChange) break;

            int spent = 0;
            if (o.LineSearch == LbfgsLineSearch.StrongWolfe)
            {
                var start = Snapshot();
                StrongWolfe.Result found;
                try
                {
                    // The search's iterations are bounded by what is left of maxEval (torch.optim since
                    // pytorch/pytorch#135026; libtorch's C++ port still allows 25 whatever maxEval is).
                    found = StrongWolfe.Search(step => EvaluateAlong(closure, start, step, d), t, d, loss, flatGrad, gtd,
                        toleranceChange: LineSearchTolerance, maxIterations: maxEval - evaluations);
                }
                finally
                {
                    foreach (var x in start) x.Dispose();
                }
                (loss, t, spent) = (found.Loss, found.Step, found.Evaluations);
                flatGrad.Dispose();
                flatGrad = found.Gradient;
                s.StepLength = t;
                Move(t, d);
                optimal = MaxAbs(flatGrad) <= toleranceGrad;
            }
            else
            {
                Move(t, d);
                if (iteration != maxIter)
                {
                    loss = EvaluateAgain(closure);
                    flatGrad.Dispose();
                    flatGrad = GatherGradient();
                    optimal = MaxAbs(flatGrad) <= toleranceGrad;
                    spent = 1;
                }
            }
            evaluations += spent;
            s.FunctionEvaluations += spent;

            if (iteration == maxIter || evaluations >= maxEval || optimal) break;
            if (MaxAbsScaled(d, t) <= toleranceChange) break;
            if (Math.Abs(loss - s.PreviousLoss!.Value) < toleranceChange) break;
        }
    }

    /// <summary>
    /// The new direction <c>−H g</c>: the pair from the last iteration joins the history if its curvature is positive,
    /// then the two-loop recursion over the history, oldest pair innermost.
    /// </summary>
    Tensor Direction(Tensor g, int historySize)
    {
        var s = _memory;
        using var scope = NewDisposeScope();
        using var kept = KeptScalars.Rent();
        var y = g.sub(s.PreviousGradient!);
        var step = s.Direction!.mul(kept[s.StepLength!.Value]);
        var ys = y.dot(step);
        if (Value(ys) > CurvatureThreshold) s.Remember(y, step, ys.reciprocal(), ys.div(y.dot(y)), historySize);

        var q = g.neg();
        int count = s.GradientDifferences.Count;
        var alpha = new Tensor[count];
        var minusOne = kept[-1.0];
        for (int i = count - 1; i >= 0; i--)
        {
            alpha[i] = s.Steps[i].dot(q).mul(s.Rho[i]);
            q.addcmul_(s.GradientDifferences[i], alpha[i], minusOne);
        }
        var r = q.mul(s.HessianDiagonal!);
        for (int i = 0; i < count; i++)
        {
            var beta = s.GradientDifferences[i].dot(r).mul(s.Rho[i]);
            r.addcmul_(s.Steps[i], alpha[i].sub(beta), ScalarCalls.One);
        }
        return r.DetachFromDisposeScope();
    }

    /// <summary>The loss and a new gradient at <c>x + t·d</c>, the weights put back to <paramref name="start"/> after (also on a throw).</summary>
    (double Loss, Tensor Gradient) EvaluateAlong(Func<Tensor> closure, Tensor[] start, double t, Tensor d)
    {
        try
        {
            Move(t, d);
            double loss = EvaluateAgain(closure);
            return (loss, GatherGradient());
        }
        finally
        {
            for (int i = 0; i < _parameters.Length; i++) _parameters[i].copy_(start[i]);
        }
    }

    /// <summary>Evaluates the closure once more: its loss as a number (the tensor is disposed).</summary>
    static double EvaluateAgain(Func<Tensor> closure)
    {
        Tensor loss;
        using (enable_grad()) loss = closure();
        try
        {
            return ReadLoss(loss);
        }
        finally
        {
            loss?.Dispose();
        }
    }

    static double ReadLoss(Tensor? loss)
    {
        if (loss is null) throw new InvalidOperationException($"{Name}: the closure returned no loss; it must return the loss it called backward() on.");
        if (loss.NumberOfElements != 1)
            throw new InvalidOperationException($"{Name}: the closure returned a loss of shape [{string.Join(", ", loss.shape)}]; it must hold one element.");
        using var scope = NewDisposeScope();
        return loss.detach().to(ScalarType.Float64).item<double>();
    }

    /// <summary>
    /// Every parameter's gradient flattened into one new vector, zeros for a parameter without one. New even for one
    /// parameter: TorchSharp's <c>cat</c> of a single tensor is an alias, which the next evaluation's backward() would
    /// overwrite while the line search still holds it.
    /// </summary>
    Tensor GatherGradient()
    {
        using var scope = NewDisposeScope();
        var pieces = new Tensor[_parameters.Length];
        for (int i = 0; i < pieces.Length; i++)
        {
            var p = _parameters[i];
            var g = p.grad;
            if (g is not null && !g.shape.SequenceEqual(p.shape))
                throw new InvalidOperationException($"{Name}: a gradient has shape [{string.Join(", ", g.shape)}] but its parameter [{string.Join(", ", p.shape)}].");
            pieces[i] = g is null ? zeros(p.NumberOfElements, p.dtype, p.device) : g.reshape(-1);
        }
        return (pieces.Length == 1 ? pieces[0].clone() : cat(pieces, 0)).DetachFromDisposeScope();
    }

    /// <summary><c>x ← x + t·d</c>, d split back into the parameters' shapes.</summary>
    void Move(double t, Tensor d)
    {
        using var scope = NewDisposeScope();
        using var kept = KeptScalars.Rent();
        var alpha = kept[t];
        long offset = 0;
        foreach (var p in _parameters)
        {
            long n = p.NumberOfElements;
            p.add_(d.narrow(0, offset, n).view_as(p), alpha);
            offset += n;
        }
    }

    /// <summary>Copies of the weights, for the line search to come back to.</summary>
    Tensor[] Snapshot()
    {
        using var scope = NewDisposeScope();
        return _parameters.Select(p => p.detach().clone().DetachFromDisposeScope()).ToArray();
    }

    /// <summary>A 0-d tensor's value as a double (a host read).</summary>
    internal static double Value(Tensor scalar)
    {
        using var scope = NewDisposeScope();
        return scalar.to(ScalarType.Float64).item<double>();
    }

    internal static double Dot(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        return a.dot(b).to(ScalarType.Float64).item<double>();
    }

    internal static double MaxAbs(Tensor a)
    {
        using var scope = NewDisposeScope();
        return a.abs().max().to(ScalarType.Float64).item<double>();
    }

    static double SumAbs(Tensor a)
    {
        using var scope = NewDisposeScope();
        return a.abs().sum().to(ScalarType.Float64).item<double>();
    }

    /// <summary><c>max|t·d|</c>, the product rounded in d's dtype as torch.optim computes it.</summary>
    static double MaxAbsScaled(Tensor d, double t)
    {
        using var scope = NewDisposeScope();
        using var kept = KeptScalars.Rent();
        return d.mul(kept[t]).abs().max().to(ScalarType.Float64).item<double>();
    }

    /// <inheritdoc/>
    /// <remarks>The one state is listed once (TorchSharp would list it under every parameter).</remarks>
    public override StateDictionary state_dict()
    {
        var dict = base.state_dict();
        dict.State.RemoveRange(1, dict.State.Count - 1);
        dict.StateIndexRef[0].RemoveRange(1, dict.StateIndexRef[0].Count - 1);
        return dict;
    }

    /// <inheritdoc/>
    /// <remarks>Checks the options and copies and checks the state before replacing anything.</remarks>
    public override void load_state_dict(StateDictionary state_dict)
    {
        ArgumentNullException.ThrowIfNull(state_dict);
        if (state_dict.Options.Count != 1 || state_dict.State.Count != 1)
            throw new ArgumentException($"{Name}: the state has {state_dict.Options.Count} parameter groups and {state_dict.State.Count} states; L-BFGS keeps one of each.");
        if (state_dict.Options[0] is not LbfgsOptions options) throw new ArgumentException($"{Name}: the state holds options of {state_dict.Options[0]?.GetType().Name ?? "null"}.");
        options.Validate(Name, "the state's options");
        if (ReferenceEquals(state_dict.State[0], _memory)) return;
        var staged = _memory.Copy(state_dict.State[0]);
        if (!ReferenceEquals(options, Options)) Options.LoadStateDict(options);
        _memory.TakeFrom(staged);
    }

    /// <summary>
    /// Loads what <c>save_state_dict</c> wrote (TorchSharp's stream layout): the options and the state are read and
    /// checked whole before either replaces anything, so a stream of another optimizer, of parameters of another size or
    /// dtype, or a truncated one throws and changes nothing.
    /// </summary>
    public new void load_state_dict(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var name = reader.ReadString();
        if (name != GetType().Name) throw new InvalidDataException($"{Name}: the stream holds the state of '{name}', not of {GetType().Name}.");
        long groups = reader.Read7BitEncodedInt64(), states = reader.Read7BitEncodedInt64();
        if (groups != 1 || states != 1)
            throw new InvalidDataException($"{Name}: the stream has {groups} parameter groups and {states} states; L-BFGS keeps one of each.");
        var options = new LbfgsOptions();
        options.LoadStateDict(reader);
        var staged = new LbfgsState(_parameters[0], _memory.Length, _memory.Type);
        staged.LoadStateDict(reader);
        Options.LoadStateDict(options);
        _memory.TakeFrom(staged);
    }

    /// <summary>Loads a file written by <c>save_state_dict(path)</c>; see <see cref="load_state_dict(BinaryReader)"/>.</summary>
    public new void load_state_dict(string location)
    {
        using var stream = File.OpenRead(location);
        using var reader = new BinaryReader(stream);
        load_state_dict(reader);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) _memory.Dispose();
        base.Dispose(disposing);
    }
}
