namespace OptDsl.Generators.Model;

/// <summary>A statement of the update rule, with its source text (emitted as a comment beside the code it became).</summary>
public abstract record Stmt(string Source);

/// <summary>What an assignment writes.</summary>
public sealed record Target(VarKind Kind, string Name, ValueKind Type);

/// <summary><c>target = value</c> (compound assignments and increments are expanded).</summary>
public sealed record Assign(Target Target, Expr Value, string Source) : Stmt(Source);

/// <summary>A local declared without a value; C# guarantees an assignment before any read.</summary>
public sealed record Declare(Target Local, string Source) : Stmt(Source);

/// <summary>if/else. A varying condition selects per element; a host condition branches once per tensor.</summary>
public sealed record If(Expr Condition, EquatableArray<Stmt> Then, EquatableArray<Stmt> Else, string Source) : Stmt(Source);

/// <summary>A host-only value computed once per step and tensor (bias corrections, <c>lr * weightDecay</c>...).</summary>
public sealed record HoistedScalar(int Index, Expr Value);
