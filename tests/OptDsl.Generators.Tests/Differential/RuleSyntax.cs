using System.Globalization;
using System.Linq;
using System.Text;

namespace OptDsl.Generators.Tests.Differential;

/// <summary>The types a random rule computes with, as C# has them.</summary>
public enum Ty { Real, Bool, Int }

/// <summary>
/// An expression of a random update rule, as the test writes it: the test's own syntax, rendered to C# for the
/// generator and read directly by <see cref="RuleInterpreter"/> (so the interpreter shares nothing with the parser,
/// the model or the emitters).
/// </summary>
public abstract record Node(Ty Type);

public sealed record Lit(double Value, Ty T) : Node(T);

/// <summary>A name the rule reads: <c>p</c>, <c>g</c>, <c>t</c>, a hyperparameter, state, scalar state or a local.</summary>
public sealed record Var(string Name, Ty T) : Node(T);

public sealed record Neg(Node X) : Node(Ty.Real);

public sealed record Not(Node X) : Node(Ty.Bool);

/// <summary>A binary operator as C# spells it (<c>+ - * / % &lt; &lt;= &gt; &gt;= == != &amp;&amp; ||</c>).</summary>
public sealed record Bin(string Op, Node L, Node R, Ty T) : Node(T);

/// <summary>A call: <paramref name="Function"/> is the function's name in the interpreter (<c>Sqrt</c>, <c>Reduce.Sum</c>), <paramref name="Spelling"/> how the rule calls it.</summary>
public sealed record Fn(string Function, string Spelling, Node[] Args) : Node(Ty.Real);

public sealed record Cond(Node C, Node A, Node B) : Node(A.Type);

/// <summary><c>(float)x</c> of an integer.</summary>
public sealed record ToFloat(Node X) : Node(Ty.Real);

public abstract record Statement;

/// <summary><c>float x = value;</c>, or <c>float x;</c> when <paramref name="Value"/> is null.</summary>
public sealed record Local(Ty T, string Name, Node? Value) : Statement;

/// <summary><c>name op value;</c> with <paramref name="Op"/> one of <c>= += -= *= /=</c>.</summary>
public sealed record Set(string Name, string Op, Node Value) : Statement;

/// <summary>if/else; an else holding one if is written <c>else if</c>.</summary>
public sealed record If(Node C, Statement[] Then, Statement[]? Else) : Statement;

/// <summary>C# text of rules.</summary>
public static class RuleText
{
    public static string Literal(double v, Ty type) => type switch
    {
        Ty.Bool => v != 0 ? "true" : "false",
        Ty.Int => ((long)v).ToString(CultureInfo.InvariantCulture),
        _ => v.ToString("R", CultureInfo.InvariantCulture) + "f",
    };

    public static string Write(Node n) => n switch
    {
        Lit l => l.Value < 0 ? $"({Literal(l.Value, l.T)})" : Literal(l.Value, l.T),
        Var v => v.Name,
        Neg x => $"(-{Write(x.X)})",
        Not x => $"(!{Write(x.X)})",
        Bin b => $"({Write(b.L)} {b.Op} {Write(b.R)})",
        Fn f => $"{f.Spelling}({string.Join(", ", f.Args.Select(Write))})",
        Cond c => $"({Write(c.C)} ? {Write(c.A)} : {Write(c.B)})",
        ToFloat c => $"((float){Write(c.X)})",
        _ => throw new System.ArgumentOutOfRangeException(nameof(n)),
    };

    public static void Write(StringBuilder w, Statement s, string indent)
    {
        switch (s)
        {
            case Local l:
                var type = l.T switch { Ty.Bool => "bool", Ty.Int => "int", _ => "float" };
                w.Append(indent).Append(type).Append(' ').Append(l.Name);
                if (l.Value is not null) w.Append(" = ").Append(Write(l.Value));
                w.Append(";\n");
                break;
            case Set a:
                w.Append(indent).Append(a.Name).Append(' ').Append(a.Op).Append(' ').Append(Write(a.Value)).Append(";\n");
                break;
            case If i:
                w.Append(indent).Append("if (").Append(Write(i.C)).Append(")\n");
                Block(w, i.Then, indent);
                var otherwise = i.Else;
                while (otherwise is { Length: 1 } && otherwise[0] is If chained)
                {
                    w.Append(indent).Append("else if (").Append(Write(chained.C)).Append(")\n");
                    Block(w, chained.Then, indent);
                    otherwise = chained.Else;
                }
                if (otherwise is not null)
                {
                    w.Append(indent).Append("else\n");
                    Block(w, otherwise, indent);
                }
                break;
        }
    }

    static void Block(StringBuilder w, Statement[] body, string indent)
    {
        w.Append(indent).Append("{\n");
        foreach (var s in body) Write(w, s, indent + "    ");
        w.Append(indent).Append("}\n");
    }
}
