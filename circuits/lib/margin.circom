pragma circom 2.1.6;

include "widths.circom";
include "bits.circom";

// Equity(M): for an account with signed balance and signed positions[M] at
// mark prices[M], outputs
//   equity   = balance + sum_m positions[m] * prices[m]        (signed, as field)
//   notional = sum_m |positions[m]| * prices[m] * bps[m]       (>= 0)
// Range-checks balance (BALANCE_BITS, signed) and each position
// (POSITION_BITS, signed). Preconditions: prices[m] < 2^PRICE_BITS and
// bps[m] < 2^BPS_BITS (public parameters, range-checked by the statement).
template Equity(M) {
    signal input balance;
    signal input positions[M];
    signal input prices[M];
    signal input bps[M];
    signal output equity;
    signal output weightedNotional;

    component rb = SignedRangeCheck(BALANCE_BITS());
    rb.in <== balance;

    component rp[M];
    signal value[M];
    signal absValue[M];
    signal weighted[M];
    var eq = balance;
    var wn = 0;
    for (var m = 0; m < M; m++) {
        rp[m] = SignedRangeCheck(POSITION_BITS());
        rp[m].in <== positions[m];
        value[m] <== positions[m] * prices[m];
        absValue[m] <== rp[m].abs * prices[m];
        weighted[m] <== absValue[m] * bps[m];
        eq += value[m];
        wn += weighted[m];
    }
    equity <== eq;
    weightedNotional <== wn;
}

// MarginCheck(M): when enabled = 1, proves
//   BPS_DENOM * equity >= sum_m |positions[m]| * prices[m] * bps[m]
// i.e. equity >= margin requirement at the given fractions (IMR with imf_bps,
// MMR with mmf_bps) without division. When enabled = 0 nothing is required.
// Preconditions as Equity(M); enabled is boolean.
template MarginCheck(M) {
    signal input enabled;
    signal input balance;
    signal input positions[M];
    signal input prices[M];
    signal input bps[M];

    component e = Equity(M);
    e.balance <== balance;
    e.positions <== positions;
    e.prices <== prices;
    e.bps <== bps;

    // Honest slack is < 2^111 (see widths.circom); a shortfall wraps to ~r.
    signal slack;
    slack <== enabled * (BPS_DENOM() * e.equity - e.weightedNotional);
    component r = RangeCheck(MARGIN_BITS());
    r.in <== slack;
}
