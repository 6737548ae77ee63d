using System;
using System.Collections.Generic;
using System.Linq;

namespace OptDsl.Generators.Tests.Differential;

/// <summary>
/// Shrinks a random rule that disagrees with the interpreter to a small one that still does: drops a statement, or
/// puts one arm of an if in its place, while the rule keeps failing, until no single change does. A change that makes
/// the rule invalid (a local read after its declaration was dropped) is not kept, as it fails to compile rather than
/// to agree. Run with OPTDSL_DIFFERENTIAL_SHRINK=1; the failure message then ends with the smallest rule.
/// </summary>
static class Shrinker
{
    public static RandomRule Shrink(RandomRule rule, Func<RandomRule, bool> fails)
    {
        var current = rule;
        for (bool progress = true; progress;)
        {
            progress = false;
            foreach (var body in Smaller(current.Body))
            {
                var candidate = current with
                {
                    Body = body,
                    Source = RuleGenerator.Declaration(current.ClassName, current.WholeTensor && !current.Phased, body.ToList()),
                };
                if (!fails(candidate)) continue;
                current = candidate;
                progress = true;
                break;
            }
        }
        return current;
    }

    /// <summary>Every body one change smaller than <paramref name="body"/>, the largest cuts first.</summary>
    static IEnumerable<Statement[]> Smaller(Statement[] body)
    {
        for (int i = 0; i < body.Length; i++)
        {
            yield return body.Where((_, k) => k != i).ToArray();
            if (body[i] is not If branch) continue;
            yield return Replace(body, i, branch.Then);
            if (branch.Else is { } otherwise) yield return Replace(body, i, otherwise);
            foreach (var then in Smaller(branch.Then)) yield return Replace(body, i, new Statement[] { branch with { Then = then } });
            if (branch.Else is { } arm)
                foreach (var smaller in Smaller(arm)) yield return Replace(body, i, new Statement[] { branch with { Else = smaller } });
        }
    }

    static Statement[] Replace(Statement[] body, int at, Statement[] with) => body.Take(at).Concat(with).Concat(body.Skip(at + 1)).ToArray();
}
