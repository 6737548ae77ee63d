using System;
using System.Linq;
using OptDsl.Runtime.Backends.Portable;
using OptDsl.Tests.Catalog;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptDsl.Tests.Runtime;

/// <summary><c>Matrix.Row*</c> / <c>Matrix.Column*</c> against the same reductions written with torch on the matrix view.</summary>
public class RowColumnReductionTests
{

    [Theory]
    [InlineData(new long[] { 6, 9 })]
    [InlineData(new long[] { 4, 3, 5 })]   // rows are the first dimension, columns the other 15 elements
    [InlineData(new long[] { 0, 5 })]      // empty
    [InlineData(new long[] { 7 })]         // a vector: a matrix of one column
    public void Row_and_column_reductions_read_the_matrix_view(long[] shape)
    {
        using var kept = KeptScalars.Rent();
        var p = new Parameter(TestData.Normal(shape, 1));
        var g = TestData.Normal(shape, 2);
        long rows = shape[0], columns = shape.Skip(1).Aggregate(1L, (a, b) => a * b);
        var m = g.reshape(rows, columns);
        var centred = m - m.mean(new long[] { 1 }, keepdim: true);
        var rowNorm = centred.Squared().sum(1, keepdim: true).sqrt();
        var expected = p.detach().reshape(rows, columns) - ((centred / rowNorm.add(kept[1e-6], ScalarCalls.One)).Plus(m.sum(0, keepdim: true).mul(kept[0.01])).Plus(m.sum(1, keepdim: true).mul(kept[0.001])) - m.mean(new long[] { 0 }, keepdim: true) * m.Squared().sum(0, keepdim: true).sqrt()).mul(kept[0.1]);

        using var opt = new RowColumnProbe(new[] { p });
        p.grad = g;
        opt.step();
        Assert.True(p.reshape(rows, columns).allclose(expected, rtol: 1e-12, atol: 1e-14));
    }

    [Fact]
    public void Row_and_column_work_needs_at_least_a_vector()
    {
        var e = Assert.Throws<ArgumentException>(() => new RowColumnProbe(new[] { new Parameter(torch.tensor(1.0f)) }));
        Assert.Contains("Matrix.RowSum", e.Message);
        Assert.Contains("fewer than 1 dimension", e.Message);
    }
}
