using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;
using OptDsl.Generators.Diagnostics;
using OptDsl.Generators.Intrinsics;
using OptDsl.Generators.Model;

namespace OptDsl.Generators.Parsing;

/// <summary>
/// Translates a rule method's body from Roslyn's <see cref="IOperation"/> tree into the model's statements, accepting
/// only a whitelist of operations (as ComputeSharp does for shaders) and reporting anything else at the offending node.
/// What a check needs to know about the point it stands at comes from <see cref="LocalFlow"/> (which locals vary, and
/// along what) and <see cref="KnownFlags"/> (which flags hold), both followed in program order as the body is read.
/// </summary>
sealed class BodyTranslator
{
    readonly Roles _roles;
    readonly List<DiagnosticInfo> _diagnostics;
    readonly Dictionary<ILocalSymbol, (string Name, ValueKind Type)> _locals = new(SymbolEqualityComparer.Default);
    readonly HashSet<string> _localNames = new();
    readonly LocalFlow _flow;
    readonly KnownFlags _flags = new();
    readonly Dictionary<string, StateShapeModel> _stateShapes;
    public BodyTranslator(Roles roles, List<DiagnosticInfo> diagnostics)
    {
        _roles = roles;
        _diagnostics = diagnostics;
        _stateShapes = roles.States.Values.ToDictionary(s => s.Name, s => s.Shape);
        _flow = new LocalFlow(_stateShapes);
    }

    /// <summary>True when the body has C# errors: the compiler reports them, and the translation stops quietly.</summary>
    public bool HasCompilerErrors { get; private set; }

    /// <summary>False once a diagnostic of ours was reported.</summary>
    public bool Succeeded => !HasCompilerErrors && !_failed;
    bool _failed;

    public HashSet<string> WrittenStates { get; } = new();

    /// <summary>The whole-tensor functions the rule calls (<c>Reduce.*</c>, <c>Matrix.*</c>), in <see cref="MathFunction"/> order.</summary>
    public SortedSet<MathFunction> WholeTensorCalls { get; } = new();

    public IEnumerable<LocalModel> Locals =>
        _locals.Values.Select(l => new LocalModel(l.Name, l.Type)).OrderBy(l => l.Name, System.StringComparer.Ordinal);

    public ImmutableArray<Stmt> Translate(IOperation body)
    {
        var statements = new List<Stmt>();
        switch (body)
        {
            case IMethodBodyOperation { BlockBody: { } block }:
                Block(block, statements);
                break;
            case IMethodBodyOperation { ExpressionBody: { } expressionBody }:
                Block(expressionBody, statements);
                break;
            case IBlockOperation block:
                Block(block, statements);
                break;
            default:
                HasCompilerErrors = true;
                break;
        }
        return statements.ToImmutableArray();
    }

    void Block(IBlockOperation block, List<Stmt> into)
    {
        foreach (var op in block.Operations) Statement(op, into);
    }

    void Statement(IOperation op, List<Stmt> into)
    {
        switch (op)
        {
            case IBlockOperation block:
                Block(block, into);
                return;
            case IEmptyOperation:
                return;
            case IVariableDeclarationGroupOperation group:
                foreach (var declaration in group.Declarations)
                    foreach (var declarator in declaration.Declarators)
                        Declarator(declarator, into);
                return;
            case IExpressionStatementOperation { Operation: var e }:
                if (AssignmentStatement(e, Source(op)) is { } assign) into.Add(assign);
                return;
            case IConditionalOperation { Condition.ConstantValue: { HasValue: true, Value: bool taken } } constant:
                // C# counts a local assigned on the only arm a constant condition can take (if (true) x = 1;), so the
                // rule is that arm alone.
                if ((taken ? constant.WhenTrue : constant.WhenFalse) is { } arm) Statement(arm, into);
                return;
            case IConditionalOperation conditional:
                if (IfStatement(conditional) is { } stmt) into.Add(stmt);
                return;
            case IReturnOperation { ReturnedValue: null } when op.IsImplicit:
                return;
            case IInvalidOperation:
                HasCompilerErrors = true;
                return;
            case ILoopOperation:
                Unsupported(DiagnosticDescriptors.UnsupportedStatement, op, "loops are not supported, as the rule runs once per element; write a fixed number of steps out by hand");
                return;
            case IReturnOperation:
                Unsupported(DiagnosticDescriptors.UnsupportedStatement, op, "'return' is not supported; use if/else so that every path reaches the end");
                return;
            default:
                Unsupported(DiagnosticDescriptors.UnsupportedStatement, op, "an update rule holds assignments, local declarations and if/else only");
                return;
        }
    }

    void Declarator(IVariableDeclaratorOperation declarator, List<Stmt> into)
    {
        var local = declarator.Symbol;
        var type = TypeOf(local.Type);
        if (type is null)
        {
            if (local.Type.TypeKind == TypeKind.Error) HasCompilerErrors = true;
            else Report(DiagnosticDescriptors.UnsupportedStatement, declarator.Syntax.GetLocation(), Text(declarator.Syntax),
                $"locals must be float, double, int, long or bool, not '{local.Type.ToDisplayString()}'");
            return;
        }
        var name = UniqueLocalName(local.Name);
        _locals[local] = (name, type.Value);
        var target = new Target(VarKind.Local, name, type.Value);
        var initializer = declarator.Initializer?.Value ?? declarator.GetVariableInitializer()?.Value;
        if (initializer is null)
        {
            _flow.Declare(name, null);
            into.Add(new Declare(target, Source(declarator.Syntax.Parent ?? declarator.Syntax)));
            return;
        }
        var value = Expression(initializer);
        if (value is null) return;
        _flow.Declare(name, value);
        into.Add(new Assign(target, Coerce(value, type.Value), Source(declarator.Syntax.Parent?.Parent ?? declarator.Syntax)));
    }

    string UniqueLocalName(string name)
    {
        var unique = name;
        for (int i = 2; !_localNames.Add(unique); i++) unique = name + "_" + i;
        return unique;
    }

    Stmt? AssignmentStatement(IOperation e, string source)
    {
        switch (e)
        {
            case ISimpleAssignmentOperation a:
            {
                var target = AssignTarget(a.Target);
                var value = Expression(a.Value);
                return target is null || value is null ? null : Write(target, Coerce(value, target.Type), a.Target, source);
            }
            case ICompoundAssignmentOperation c:
            {
                if (c.OperatorMethod is not null) return Unsupported(DiagnosticDescriptors.UnsupportedExpression, c, "user-defined operators are not supported");
                var target = AssignTarget(c.Target);
                var current = target is null ? null : Expression(c.Target);
                var value = Expression(c.Value);
                var op = BinaryOpOf(c.OperatorKind);
                if (target is null || current is null || value is null) return null;
                if (op is null) return Unsupported(DiagnosticDescriptors.UnsupportedExpression, c, "only +=, -=, *=, /= and %= are supported");
                var type = Widest(current.Type, value.Type);
                var combined = new Binary(op.Value, Coerce(current, type), Coerce(value, type), type);
                return Write(target, Coerce(combined, target.Type), c.Target, source);
            }
            case IIncrementOrDecrementOperation inc:
            {
                var target = AssignTarget(inc.Target);
                var current = target is null ? null : Expression(inc.Target);
                if (target is null || current is null) return null;
                var one = new Constant(1, current.Type);
                var op = inc.Kind == OperationKind.Increment ? BinaryOp.Add : BinaryOp.Subtract;
                return Write(target, new Binary(op, current, one, current.Type), inc.Target, source);
            }
            case IInvalidOperation:
                HasCompilerErrors = true;
                return null;
            default:
                return Unsupported(DiagnosticDescriptors.UnsupportedStatement, e, "only assignments, compound assignments and ++/-- can stand alone");
        }
    }

    Target? AssignTarget(IOperation target)
    {
        switch (target)
        {
            case ILocalReferenceOperation l when _locals.TryGetValue(l.Local, out var local):
                return new Target(VarKind.Local, local.Name, local.Type);
            case IParameterReferenceOperation p when Same(p.Parameter, _roles.Param):
                return new Target(VarKind.Param, p.Parameter.Name, ValueKind.Real);
            case IParameterReferenceOperation p when Same(p.Parameter, _roles.Grad):
                return new Target(VarKind.Grad, p.Parameter.Name, ValueKind.Real);
            case IParameterReferenceOperation p when Same(p.Parameter, _roles.Step):
                Report(DiagnosticDescriptors.StepAssigned, target.Syntax.GetLocation(), p.Parameter.Name);
                return null;
            case IFieldReferenceOperation f when _roles.Broken.Contains(f.Field):
                _failed = true;
                return null;
            case IFieldReferenceOperation f when _roles.Hypers.ContainsKey(f.Field):
                Report(DiagnosticDescriptors.HyperAssigned, target.Syntax.GetLocation(), f.Field.Name);
                return null;
            case IFieldReferenceOperation f when _roles.States.TryGetValue(f.Field, out var state):
                if (!CheckConditionalState(state, target)) return null;
                return new Target(VarKind.State, state.Name, ValueKind.Real);
            case IFieldReferenceOperation f when _roles.ScalarStates.TryGetValue(f.Field, out var scalar):
                return new Target(VarKind.ScalarState, scalar.Name, ValueKind.Real);
            case IFieldReferenceOperation f:
                Report(DiagnosticDescriptors.FieldWithoutRole, target.Syntax.GetLocation(), f.Field.Name);
                return null;
            case IInvalidOperation:
                HasCompilerErrors = true;
                return null;
            default:
                Unsupported(DiagnosticDescriptors.UnsupportedExpression, target, "only locals, the parameter, the gradient and state can be assigned");
                return null;
        }
    }

    Stmt? Write(Target target, Expr value, IOperation at, string source)
    {
        switch (target.Kind)
        {
            case VarKind.Local:
                _flow.Assign(target.Name, value);
                break;
            case VarKind.State when _stateShapes.TryGetValue(target.Name, out var shape) && shape != StateShapeModel.Elements:
            {
                var (along, wanted) = shape == StateShapeModel.Rows ? ("row", Line.Row) : ("column", Line.Column);
                var line = _flow.LineOf(value);
                string? wrong = _flow.InPerElementBranch ? "a value under a per-element condition"
                    : line == Line.Element ? "a value that differs between elements"
                    : line != wanted && line != Line.Uniform ? $"a value per {(line == Line.Row ? "row" : "column")}" : null;
                if (wrong is not null)
                {
                    Report(DiagnosticDescriptors.LineStateAssigned, at.Parent?.Syntax.GetLocation() ?? at.Syntax.GetLocation(), target.Name, along, wrong,
                        shape == StateShapeModel.Rows ? "Row" : "Column");
                    return null;
                }
                WrittenStates.Add(target.Name);
                break;
            }
            case VarKind.State:
                WrittenStates.Add(target.Name);
                break;
            case VarKind.ScalarState when _flow.LineOf(value) != Line.Uniform:
                Report(DiagnosticDescriptors.ScalarStateAssignedPerElement, at.Parent?.Syntax.GetLocation() ?? at.Syntax.GetLocation(), target.Name, "a per-element value");
                return null;
            case VarKind.ScalarState when _flow.InPerElementBranch:
                Report(DiagnosticDescriptors.ScalarStateAssignedPerElement, at.Parent?.Syntax.GetLocation() ?? at.Syntax.GetLocation(), target.Name, "under a per-element condition");
                return null;
        }
        return new Assign(target, value, source);
    }

    Stmt? IfStatement(IConditionalOperation op)
    {
        var condition = Expression(op.Condition);
        if (condition is null) return null;
        condition = Coerce(condition, ValueKind.Boolean);

        var branches = _flow.If(condition.Varying);
        var then = new List<Stmt>();
        using (_flags.Assume(condition, true)) Statement(op.WhenTrue, then);
        branches.Else();
        var otherwise = new List<Stmt>();
        using (_flags.Assume(condition, false))
            if (op.WhenFalse is { } whenFalse) Statement(whenFalse, otherwise);
        branches.Join();

        return new If(condition, then.ToEquatableArray(), otherwise.ToEquatableArray(), "if (" + Source(op.Condition.Syntax) + ")");
    }

    Expr? Expression(IOperation op)
    {
        if (op.ConstantValue.HasValue && TypeOf(op.Type) is { } constantType)
            return ConstantOf(op.ConstantValue.Value, op.Type!, constantType);

        switch (op)
        {
            case IConversionOperation conversion:
                return Conversion(conversion);
            case IParameterReferenceOperation p:
                if (Same(p.Parameter, _roles.Param)) return new Reference(VarKind.Param, p.Parameter.Name, ValueKind.Real, true);
                if (Same(p.Parameter, _roles.Grad)) return new Reference(VarKind.Grad, p.Parameter.Name, ValueKind.Real, true);
                if (Same(p.Parameter, _roles.Step)) return new Reference(VarKind.Step, p.Parameter.Name, ValueKind.Integer, false);
                HasCompilerErrors = true;
                return null;
            case ILocalReferenceOperation l:
                if (!_locals.TryGetValue(l.Local, out var local)) { HasCompilerErrors = true; return null; }
                return new Reference(VarKind.Local, local.Name, local.Type, _flow.IsVarying(local.Name));
            case IFieldReferenceOperation f:
                return Field(f);
            case IBinaryOperation b:
                return BinaryExpression(b);
            case IUnaryOperation u:
                return UnaryExpression(u);
            case IInvocationOperation call:
                return Invocation(call);
            case IConditionalOperation { IsRef: false, WhenFalse: { } whenFalse } conditional:
            {
                var condition = Expression(conditional.Condition);
                if (condition is null) return null;
                condition = Coerce(condition, ValueKind.Boolean);
                Expr? a, b;
                using (_flow.Select(condition.Varying))
                {
                    using (_flags.Assume(condition, true)) a = Expression(conditional.WhenTrue);
                    using (_flags.Assume(condition, false)) b = Expression(whenFalse);
                }
                if (a is null || b is null) return null;
                var type = Widest(a.Type, b.Type);
                return new Select(condition, Coerce(a, type), Coerce(b, type), type);
            }
            case IParenthesizedOperation parenthesized:
                return Expression(parenthesized.Operand);
            case IInvalidOperation:
                HasCompilerErrors = true;
                return null;
            case ISimpleAssignmentOperation or ICompoundAssignmentOperation or IIncrementOrDecrementOperation:
                return Unsupported<Expr>(DiagnosticDescriptors.UnsupportedExpression, op, "assignments inside expressions are not supported; assign in a statement of its own");
            case IPropertyReferenceOperation:
                return Unsupported<Expr>(DiagnosticDescriptors.UnsupportedExpression, op, "properties are not supported; use hyperparameters, state, locals and constants");
            case IObjectCreationOperation or IArrayCreationOperation or IArrayElementReferenceOperation:
                return Unsupported<Expr>(DiagnosticDescriptors.UnsupportedExpression, op, "objects and arrays are not supported; an update rule computes with scalars");
            default:
                if (op.Type?.TypeKind == TypeKind.Error) { HasCompilerErrors = true; return null; }
                return Unsupported<Expr>(DiagnosticDescriptors.UnsupportedExpression, op,
                    "supported are arithmetic, comparisons, &&, ||, !, ?:, locals, hyperparameters, state and MathF/Math/OptMath calls");
        }
    }

    Expr? Reject(IInvocationOperation call, string name, string why)
    {
        Report(DiagnosticDescriptors.InvalidReduction, call.Syntax.GetLocation(), name, why);
        return null;
    }

    Expr? Conversion(IConversionOperation conversion)
    {
        var operand = Expression(conversion.Operand);
        if (operand is null) return null;
        var to = TypeOf(conversion.Type);
        if (to is null || conversion.OperatorMethod is not null)
            return Unsupported<Expr>(DiagnosticDescriptors.UnsupportedExpression, conversion, $"conversion to '{conversion.Type?.ToDisplayString()}' is not supported");
        if (to == operand.Type) return operand;
        if (to == ValueKind.Integer && operand.Varying)
            return Unsupported<Expr>(DiagnosticDescriptors.UnsupportedExpression, conversion, "per-element values cannot be converted to integers; use MathF.Truncate or MathF.Floor");
        if (to == ValueKind.Boolean || operand.Type == ValueKind.Boolean)
            return Unsupported<Expr>(DiagnosticDescriptors.UnsupportedExpression, conversion, "bool converts to no number");
        return new Model.Convert(operand, to.Value);
    }

    Expr? Field(IFieldReferenceOperation f)
    {
        if (f.Instance is not null and not IInstanceReferenceOperation)
            return Unsupported<Expr>(DiagnosticDescriptors.UnsupportedExpression, f, "only this optimizer's own fields can be used");
        if (_roles.Broken.Contains(f.Field))
        {
            _failed = true; // its declaration's error is reported already
            return null;
        }
        if (_roles.Hypers.TryGetValue(f.Field, out var hyper))
            return new Reference(VarKind.Hyper, hyper.Name, hyper.Type switch { HyperType.Bool => ValueKind.Boolean, HyperType.Int => ValueKind.Integer, _ => ValueKind.Real }, false);
        if (_roles.States.TryGetValue(f.Field, out var state))
            return CheckConditionalState(state, f) ? new Reference(VarKind.State, state.Name, ValueKind.Real, true) : null;
        if (_roles.ScalarStates.TryGetValue(f.Field, out var scalar))
            return new Reference(VarKind.ScalarState, scalar.Name, ValueKind.Real, false);
        Report(DiagnosticDescriptors.FieldWithoutRole, f.Syntax.GetLocation(), f.Field.Name);
        return null;
    }

    bool CheckConditionalState(StateModel state, IOperation at)
    {
        if (state.OnlyIf is null || _flags.Contains(state.OnlyIf)) return true;
        Report(DiagnosticDescriptors.ConditionalStateOutsideCondition, at.Syntax.GetLocation(), state.Name, state.OnlyIf);
        return false;
    }

    Expr? BinaryExpression(IBinaryOperation b)
    {
        if (b.OperatorMethod is not null)
            return Unsupported<Expr>(DiagnosticDescriptors.UnsupportedExpression, b, "user-defined operators are not supported");
        var left = Expression(b.LeftOperand);
        var right = Expression(b.RightOperand);
        if (left is null || right is null) return null;
        var type = TypeOf(b.Type);
        var op = BinaryOpOf(b.OperatorKind);
        if (type is null || op is null)
            return Unsupported<Expr>(DiagnosticDescriptors.UnsupportedExpression, b, "bitwise and shift operators are not supported");
        bool logical = op is BinaryOp.And or BinaryOp.Or;
        if (logical != (left.Type == ValueKind.Boolean && right.Type == ValueKind.Boolean))
            return Unsupported<Expr>(DiagnosticDescriptors.UnsupportedExpression, b, "bitwise operators on integers are not supported");
        if (!logical)
        {
            var operands = Widest(left.Type, right.Type);
            left = Coerce(left, operands);
            right = Coerce(right, operands);
        }
        return new Binary(op.Value, left, right, type.Value);
    }

    Expr? UnaryExpression(IUnaryOperation u)
    {
        if (u.OperatorMethod is not null)
            return Unsupported<Expr>(DiagnosticDescriptors.UnsupportedExpression, u, "user-defined operators are not supported");
        var operand = Expression(u.Operand);
        if (operand is null) return null;
        return u.OperatorKind switch
        {
            UnaryOperatorKind.Plus => operand,
            UnaryOperatorKind.Minus => new Unary(UnaryOp.Negate, operand, operand.Type),
            UnaryOperatorKind.Not => new Unary(UnaryOp.Not, operand, ValueKind.Boolean),
            _ => Unsupported<Expr>(DiagnosticDescriptors.UnsupportedExpression, u, "only unary -, + and ! are supported"),
        };
    }

    Expr? Invocation(IInvocationOperation call)
    {
        var method = call.TargetMethod;
        var container = method.ContainingType?.ToDisplayString();
        var intrinsic = IntrinsicTable.Resolve(container, method.Name, call.Arguments.Length);
        if (intrinsic is null || !method.IsStatic)
        {
            Report(DiagnosticDescriptors.UnsupportedCall, call.Syntax.GetLocation(),
                $"{method.ContainingType?.Name}.{method.Name}", IntrinsicTable.Supported);
            return null;
        }
        var function = intrinsic.Function;
        var arguments = new List<Expr>();
        foreach (var argument in call.Arguments.OrderBy(a => a.Parameter?.Ordinal ?? 0))
        {
            var value = Expression(argument.Value);
            if (value is null) return null;
            arguments.Add(value);
        }
        var name = $"{method.ContainingType?.Name}.{method.Name}";
        if (intrinsic.Kind == IntrinsicKind.Orthogonalization && arguments.Skip(1).Any(a => a.Varying))
            return Reject(call, name, "takes its steps and coefficients as values the same for every element (hyperparameters, constants)");
        // Arguments C# left out take the values the table gives (Newton-Schulz's coefficients).
        var missing = intrinsic.Arity - arguments.Count;
        if (missing > 0)
            arguments.AddRange(intrinsic.DefaultArguments.Skip(intrinsic.DefaultArguments.Length - missing).Select(v => (Expr)new Constant(v, ValueKind.Real)));
        if (intrinsic.IsWholeTensor && intrinsic.Kind != IntrinsicKind.Shape)
        {
            if (!arguments[0].Varying)
                return Reject(call, name, "is given a value that is the same for every element; give it a per-element value (one that reads p, g or state)");
            if (_flow.UnderPerElementCondition)
                return Reject(call, name, "stands under a per-element condition, where it is ambiguous which elements it covers; compute it before the condition (a per-element ?: inside its argument is fine)");
        }
        var resultType = TypeOf(method.ReturnType);
        if (resultType is null || arguments.Any(a => a.Type == ValueKind.Boolean))
            return Unsupported<Expr>(DiagnosticDescriptors.UnsupportedExpression, call, "math functions take and give numbers");
        // MathF.Sign and Math.Sign return int; as an element value the sign is a real -1, 0 or 1.
        if (function == MathFunction.Sign) resultType = arguments[0].Type;
        if (resultType == ValueKind.Integer && arguments.Any(a => a.Varying))
            return Unsupported<Expr>(DiagnosticDescriptors.UnsupportedExpression, call, "per-element values cannot become integers");
        if (resultType == ValueKind.Real) arguments = arguments.Select(a => Coerce(a, ValueKind.Real)).ToList();
        if (intrinsic.IsWholeTensor) WholeTensorCalls.Add(function);
        return new Call(function, arguments.ToEquatableArray(), resultType.Value);
    }

    static Expr ConstantOf(object? value, ITypeSymbol type, ValueKind valueType) => valueType switch
    {
        ValueKind.Boolean => new Constant(value is true ? 1 : 0, ValueKind.Boolean),
        ValueKind.Integer => new Constant(Constants.ToDouble(value, type), ValueKind.Integer),
        _ => new Constant(Constants.ToDouble(value, type), ValueKind.Real),
    };

    static Expr Coerce(Expr e, ValueKind to) =>
        e.Type == to || to == ValueKind.Boolean || e.Type == ValueKind.Boolean ? e
        : e is Constant c ? new Constant(to == ValueKind.Integer ? System.Math.Truncate(c.Value) : c.Value, to)
        : new Model.Convert(e, to);

    static ValueKind Widest(ValueKind a, ValueKind b) =>
        a == ValueKind.Real || b == ValueKind.Real ? ValueKind.Real : a == ValueKind.Integer || b == ValueKind.Integer ? ValueKind.Integer : ValueKind.Boolean;

    static BinaryOp? BinaryOpOf(BinaryOperatorKind kind) => kind switch
    {
        BinaryOperatorKind.Add => BinaryOp.Add,
        BinaryOperatorKind.Subtract => BinaryOp.Subtract,
        BinaryOperatorKind.Multiply => BinaryOp.Multiply,
        BinaryOperatorKind.Divide => BinaryOp.Divide,
        BinaryOperatorKind.Remainder => BinaryOp.Remainder,
        BinaryOperatorKind.LessThan => BinaryOp.Less,
        BinaryOperatorKind.LessThanOrEqual => BinaryOp.LessEqual,
        BinaryOperatorKind.GreaterThan => BinaryOp.Greater,
        BinaryOperatorKind.GreaterThanOrEqual => BinaryOp.GreaterEqual,
        BinaryOperatorKind.Equals => BinaryOp.Equal,
        BinaryOperatorKind.NotEquals => BinaryOp.NotEqual,
        BinaryOperatorKind.ConditionalAnd or BinaryOperatorKind.And => BinaryOp.And,
        BinaryOperatorKind.ConditionalOr or BinaryOperatorKind.Or => BinaryOp.Or,
        _ => null,
    };

    /// <summary>The model type of a C# type, or null when an update rule cannot compute with it.</summary>
    public static ValueKind? TypeOf(ITypeSymbol? type) => type?.SpecialType switch
    {
        SpecialType.System_Single or SpecialType.System_Double => ValueKind.Real,
        SpecialType.System_Int32 or SpecialType.System_Int64 => ValueKind.Integer,
        SpecialType.System_Boolean => ValueKind.Boolean,
        _ => null,
    };

    static bool Same(ISymbol a, ISymbol? b) => SymbolEqualityComparer.Default.Equals(a, b);

    Stmt? Unsupported(DiagnosticDescriptor descriptor, IOperation op, string why)
    {
        Report(descriptor, op.Syntax.GetLocation(), Text(op.Syntax), why);
        return null;
    }

    T? Unsupported<T>(DiagnosticDescriptor descriptor, IOperation op, string why) where T : class
    {
        Report(descriptor, op.Syntax.GetLocation(), Text(op.Syntax), why);
        return null;
    }

    void Report(DiagnosticDescriptor descriptor, Location location, params object?[] args)
    {
        _failed = true;
        _diagnostics.Add(DiagnosticInfo.Create(descriptor, location, args));
    }

    static string Source(IOperation op) => Source(op.Syntax);

    /// <summary>The node's text on one line: every run of white space (line terminators of any kind included) becomes one space.</summary>
    static string Source(SyntaxNode node)
    {
        var text = new System.Text.StringBuilder();
        bool space = false;
        foreach (char c in node.ToString())
        {
            if (char.IsWhiteSpace(c)) { space = text.Length > 0; continue; }
            if (space) text.Append(' ');
            space = false;
            text.Append(c);
        }
        return text.ToString();
    }

    /// <summary>The node's text on one line, shortened for a diagnostic message.</summary>
    static string Text(SyntaxNode node)
    {
        var text = Source(node);
        return text.Length <= 60 ? text : text.Substring(0, 57) + "...";
    }
}
