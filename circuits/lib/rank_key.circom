pragma circom 2.1.6;

include "circomlib/circuits/comparators.circom";
include "widths.circom";
include "bits.circom";
include "margin.circom";

// AdlRankKey(M): the auto-deleveraging (ADL) rank key of one account, the ONE
// copy used by circuits/deleverage.circom (the counterparty's published key)
// and circuits/adl_walk.circom (every account of a ranking chunk), so both
// compute it identically (verifier.statements.deleverage.rank_key):
//   key = 1 + floor(10^4 * N / E)  if E > 0,  else 0,
// with N = sum_m |positions[m]| * prices[m] (notional) and E = balance +
// sum_m positions[m] * prices[m] (equity), balance already funding-settled.
// The division is witnessed: quotient q in [0, 2^MARGIN_BITS) and remainder
// 0 <= rem <= E - 1 with 10^4 * N = q * E + rem (enforced only when E > 0;
// otherwise q and rem are free in range and key = 0).
// Range-checks balance (BALANCE_BITS, signed) and positions (POSITION_BITS,
// signed) through Equity. |E| < 2^99 for in-range inputs (widths.circom), so
// the signed check of E with EQ_BITS = 100 (LIQ_EQUITY_BITS) is exact.
// Preconditions: prices[m] < 2^PRICE_BITS (range-checked by the statement).
template AdlRankKey(M) {
    var EQ_BITS = 100;
    signal input balance;
    signal input positions[M];
    signal input prices[M];
    signal input quotient;
    signal input remainder;
    signal output key;

    // weightedNotional = 10^4 * N (bps = BPS_DENOM in every market).
    component eq = Equity(M);
    eq.balance <== balance;
    eq.positions <== positions;
    eq.prices <== prices;
    for (var m = 0; m < M; m++) {
        eq.bps[m] <== BPS_DENOM();
    }
    component sign = SignedRangeCheck(EQ_BITS);
    sign.in <== eq.equity;
    component zero = IsZero();
    zero.in <== eq.equity;
    signal positive;
    positive <== (1 - sign.neg) * (1 - zero.out);
    component qRange = RangeCheck(MARGIN_BITS());
    qRange.in <== quotient;
    component rRange = RangeCheck(EQ_BITS);
    rRange.in <== remainder;
    component rBelow = RangeCheck(EQ_BITS);
    rBelow.in <== positive * (eq.equity - 1 - remainder);
    signal qTimesE;
    qTimesE <== quotient * eq.equity;
    positive * (eq.weightedNotional - qTimesE - remainder) === 0;
    key <== positive * (quotient + 1);
}
