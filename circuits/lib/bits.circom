pragma circom 2.1.6;

include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";

// RangeCheck(B): proves 0 <= in < 2^B (as an integer, i.e. in's canonical
// representative). Precondition: B <= 252 so that the bit decomposition is unique.
template RangeCheck(B) {
    assert(B > 0 && B <= 252);
    signal input in;
    component bits = Num2Bits(B);
    bits.in <== in;
}

// SignedRangeCheck(B): proves `in` encodes a signed integer x with
// -2^(B-1) <= x < 2^(B-1), where negative x is represented as r + x.
// Outputs `neg` (1 iff x < 0) and `abs` (= |x| as a field element).
template SignedRangeCheck(B) {
    assert(B > 1 && B <= 252);
    signal input in;
    signal output neg;
    signal output abs;

    component bits = Num2Bits(B);
    bits.in <== in + (1 << (B - 1));
    // The top bit of x + 2^(B-1) is 1 iff x >= 0.
    neg <== 1 - bits.out[B - 1];
    // abs = x if x >= 0, else -x.
    abs <== in - 2 * neg * in;
}

// AssertLeq(B): proves a <= b for integers a, b in [0, 2^B).
// Range-checks both operands itself (unlike circomlib's LessEqThan), then
// proves b - a in [0, 2^B): if a > b the difference wraps to r - (a - b) >= 2^B.
template AssertLeq(B) {
    assert(B > 0 && B <= 251);
    signal input a;
    signal input b;
    component ra = RangeCheck(B);
    ra.in <== a;
    component rb = RangeCheck(B);
    rb.in <== b;
    component diff = RangeCheck(B);
    diff.in <== b - a;
}

// AssertLeqChecked(B): proves a <= b. Precondition: the caller has already
// range-checked a and b into [0, 2^B). Cheaper form of AssertLeq.
template AssertLeqChecked(B) {
    assert(B > 0 && B <= 251);
    signal input a;
    signal input b;
    component diff = RangeCheck(B);
    diff.in <== b - a;
}

// IsBool: constrains in to {0, 1}.
template IsBool() {
    signal input in;
    in * (in - 1) === 0;
}

// DivRemConst(NB, D): proves n = q * D + rem with 0 <= rem < D and
// 0 <= q < 2^NB, i.e. q = floor(n / D). Outputs q. Precondition: n < 2^NB * D
// holds for every honest input (otherwise no witness exists); NB + log2(D) < 252
// so q * D + rem cannot wrap.
template DivRemConst(NB, D) {
    assert(D > 1 && NB > 0 && NB <= 200);
    signal input n;
    signal output q;
    signal rem;

    q <-- n \ D;
    rem <-- n % D;
    n === q * D + rem;

    component rq = RangeCheck(NB);
    rq.in <== q;
    // rem < D  <=>  rem in [0, 2^k) and D - 1 - rem in [0, 2^k) for 2^k >= D.
    var k = 1;
    while ((1 << k) < D) { k++; }
    component rr = RangeCheck(k);
    rr.in <== rem;
    component rr2 = RangeCheck(k);
    rr2.in <== D - 1 - rem;
}

// OneHot(M): proves `sel` is an integer in [0, M) and outputs its one-hot
// vector `out` (out[i] = 1 iff sel == i; exactly one is 1).
template OneHot(M) {
    assert(M > 0);
    signal input sel;
    signal output out[M];
    var sum = 0;
    var weighted = 0;
    for (var i = 0; i < M; i++) {
        out[i] <-- (sel == i) ? 1 : 0;
        out[i] * (out[i] - 1) === 0;
        sum += out[i];
        weighted += i * out[i];
    }
    sum === 1;
    weighted === sel;
}

// Select(M): out = values[sel] given the one-hot vector of sel
// (precondition: `onehot` is the output of OneHot(M)).
template Select(M) {
    signal input values[M];
    signal input onehot[M];
    signal output out;
    signal terms[M];
    var acc = 0;
    for (var i = 0; i < M; i++) {
        terms[i] <== values[i] * onehot[i];
        acc += terms[i];
    }
    out <== acc;
}
