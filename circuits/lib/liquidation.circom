pragma circom 2.1.6;

include "widths.circom";
include "bits.circom";

// Gadgets of the liquidation statements (LIQUIDATE, DELEVERAGE).
// Width of a signed equity (|equity| < 2^96, widths.circom) and of an
// unsigned equity-sized difference; mirrored in verifier/statements/deleverage.py.
function LIQ_EQUITY_BITS() { return 100; }

// CeilFee(): fee = ceil(notional * bps / BPS_DENOM), proven as
// 0 <= BPS_DENOM * fee - notional * bps <= BPS_DENOM - 1, fee < 2^FEE_BITS.
// Preconditions: notional < 2^(POSITION_BITS + PRICE_BITS), bps < 2^BPS_BITS.
template CeilFee() {
    signal input notional;
    signal input bps;
    signal input fee;
    signal scaled;
    scaled <== notional * bps;
    component r = RangeCheck(FEE_BITS());
    r.in <== fee;
    component lo = RangeCheck(BPS_BITS());
    lo.in <== BPS_DENOM() * fee - scaled;
    component hi = RangeCheck(BPS_BITS());
    hi.in <== BPS_DENOM() - 1 - (BPS_DENOM() * fee - scaled);
}

// MinOf(B): proves out = min(a, b) for integers a, b in [0, 2^B) (precondition).
template MinOf(B) {
    signal input a;
    signal input b;
    signal input out;
    component la = RangeCheck(B);
    la.in <== a - out;
    component lb = RangeCheck(B);
    lb.in <== b - out;
    (out - a) * (out - b) === 0;
}
