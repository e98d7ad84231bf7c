pragma circom 2.1.6;

include "circomlib/circuits/comparators.circom";
include "widths.circom";
include "bits.circom";
include "merkle.circom";
include "account.circom";
include "margin.circom";

// Width of a signed equity (|equity| < 2^96, widths.circom) and of an
// unsigned equity-sized difference; mirrored in verifier/statements/liquidate.py.
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

// LiquidateStep(ACC_DEPTH, M): LIQUIDATE — one step of a liquidation: `lots`
// of the account's position in `market` move to the insurance fund (index 0)
// at the mark, with a capped liquidation fee to the fund
// (exchange/domain/liquidation.py states the same rules in Python).
//
// Proves, for the hidden leaf of `account` in oldAccountRoot and the fund's
// leaf in the root after the account's update:
//   * account != 0 (the fund is never liquidated);
//   * eligibility: continuation = 0 -> BPS_DENOM*equity < sum |s| P mmf (below MMR);
//     continuation = 1 -> BPS_DENOM*equity < sum |s| P imf (the verifier allows
//     it only right after a step of the same account that closed a market and
//     left it below IMR);
//   * insurance cover: if equity < 0 the fund pays cover = -equity into the
//     account, and cover <= max(fund equity, 0) (a larger shortfall is
//     auto-deleveraging, not this statement); equity is then max(equity, 0);
//   * transfer: 1 <= lots <= |s_market|; the account's position moves lots
//     toward zero and its balance by sign(s) * lots * P; the fund takes the
//     opposite (equity-neutral at the mark);
//   * fee = min(ceil(lots * P * liqFeeBps / 10^4), max(equity, 0)) to the fund;
//   * restoredInitial = (after the step, equity >= IMR); if it is 0 the whole
//     market position moved (lots = |s|); if it is 1 and lots > 1, lots - 1
//     would NOT have restored IMR (the step is the smallest that does);
//   * closedAll = 1 - restoredInitial and flatAfter = (every position is 0 after);
//   * both leaves are rewritten with fresh blindings; newAccountRoot is the result.
// Every written balance and position is range-checked.
//
// Not proved here (the verifier's job): prices are the batch's signed marks,
// the fractions are genesis', roots chain through the batch, continuation is
// used only as stated, and every account flagged by the last health sweep is
// liquidated. Funding settlement before the step waits for the account leaf
// with funding checkpoints (DESIGN.md section 3).
template LiquidateStep(ACC_DEPTH, M) {
    assert(ACC_DEPTH >= 1 && ACC_DEPTH <= 32);
    assert(M >= 1 && M <= 16);

    // Public inputs, in this order (prover/statements/liquidate.PUBLIC).
    signal input oldAccountRoot;
    signal input newAccountRoot;
    signal input account;
    signal input market;
    signal input continuation;
    signal input closedAll;
    signal input flatAfter;
    signal input prices[M];
    signal input imfBps[M];
    signal input mmfBps[M];
    signal input liqFeeBps[M];

    // Private: the liquidated account.
    signal input pubX;
    signal input pubY;
    signal input balance;
    signal input positions[M];
    signal input nonce;
    signal input blinding;
    signal input newBlinding;
    signal input siblings[ACC_DEPTH];
    // Private: the insurance fund (index 0), in the root after the account's update.
    signal input fundPubX;
    signal input fundPubY;
    signal input fundBalance;
    signal input fundPositions[M];
    signal input fundNonce;
    signal input fundBlinding;
    signal input fundNewBlinding;
    signal input fundSiblings[ACC_DEPTH];
    // Private: the step.
    signal input lots;
    signal input feeRaw;
    signal input fee;
    signal input prevFeeRaw;
    signal input prevFee;

    // ---- public parameters ----
    component priceRange[M];
    component bpsRange[M][3];
    for (var m = 0; m < M; m++) {
        priceRange[m] = RangeCheck(PRICE_BITS());
        priceRange[m].in <== prices[m];
        bpsRange[m][0] = RangeCheck(BPS_BITS());
        bpsRange[m][0].in <== imfBps[m];
        bpsRange[m][1] = RangeCheck(BPS_BITS());
        bpsRange[m][1].in <== mmfBps[m];
        bpsRange[m][2] = RangeCheck(BPS_BITS());
        bpsRange[m][2].in <== liqFeeBps[m];
    }
    continuation * (continuation - 1) === 0;

    signal accountInv;
    accountInv <-- account != 0 ? 1 / account : 0;
    account * accountInv === 1;

    component sel = OneHot(M);
    sel.sel <== market;

    // ---- eligibility at the marks ----
    component eqM = Equity(M);
    eqM.balance <== balance;
    eqM.positions <== positions;
    eqM.prices <== prices;
    eqM.bps <== mmfBps;
    component eqI = Equity(M);
    eqI.balance <== balance;
    eqI.positions <== positions;
    eqI.prices <== prices;
    eqI.bps <== imfBps;
    signal equity;
    equity <== eqM.equity;

    component belowM = SignedRangeCheck(MARGIN_BITS());
    belowM.in <== BPS_DENOM() * equity - eqM.weightedNotional;
    component belowI = SignedRangeCheck(MARGIN_BITS());
    belowI.in <== BPS_DENOM() * equity - eqI.weightedNotional;
    (1 - continuation) * (1 - belowM.neg) === 0;
    continuation * (1 - belowI.neg) === 0;

    // ---- insurance cover of negative equity ----
    component eqSign = SignedRangeCheck(LIQ_EQUITY_BITS());
    eqSign.in <== equity;
    signal cover;
    cover <== eqSign.neg * eqSign.abs;
    signal equityPos;
    equityPos <== equity + cover;

    component fundEq = Equity(M);
    fundEq.balance <== fundBalance;
    fundEq.positions <== fundPositions;
    fundEq.prices <== prices;
    fundEq.bps <== mmfBps;
    component fundSign = SignedRangeCheck(LIQ_EQUITY_BITS());
    fundSign.in <== fundEq.equity;
    signal fundEquityPos;
    fundEquityPos <== fundEq.equity - fundSign.neg * fundEq.equity;
    component coverOk = RangeCheck(LIQ_EQUITY_BITS());
    coverOk.in <== fundEquityPos - cover;

    // ---- the market and the lots ----
    component pickS = Select(M);
    pickS.values <== positions;
    pickS.onehot <== sel.out;
    component pickP = Select(M);
    pickP.values <== prices;
    pickP.onehot <== sel.out;
    component pickImf = Select(M);
    pickImf.values <== imfBps;
    pickImf.onehot <== sel.out;
    component pickLf = Select(M);
    pickLf.values <== liqFeeBps;
    pickLf.onehot <== sel.out;

    component sSign = SignedRangeCheck(POSITION_BITS());
    sSign.in <== pickS.out;
    component lotsMin = RangeCheck(POSITION_BITS());
    lotsMin.in <== lots - 1;
    component lotsMax = RangeCheck(POSITION_BITS());
    lotsMax.in <== sSign.abs - lots;
    // moved = sign(s) * lots: the account's position shrinks by it, the fund's grows.
    signal moved;
    moved <== (1 - 2 * sSign.neg) * lots;
    signal movedValue;
    movedValue <== moved * pickP.out;
    signal notional;
    notional <== lots * pickP.out;

    // ---- fee, capped at the remaining equity ----
    component feeCeil = CeilFee();
    feeCeil.notional <== notional;
    feeCeil.bps <== pickLf.out;
    feeCeil.fee <== feeRaw;
    component feeMin = MinOf(LIQ_EQUITY_BITS());
    feeMin.a <== feeRaw;
    feeMin.b <== equityPos;
    feeMin.out <== fee;

    // ---- after the step: initial margin, and minimality ----
    signal imfPerLot;
    imfPerLot <== pickP.out * pickImf.out;
    signal imfReleased;
    imfReleased <== lots * imfPerLot;
    component after = SignedRangeCheck(MARGIN_BITS());
    after.in <== BPS_DENOM() * (equityPos - fee) - (eqI.weightedNotional - imfReleased);
    signal restored;
    restored <== 1 - after.neg;
    closedAll === 1 - restored;

    component full = IsZero();
    full.in <== sSign.abs - lots;
    // Not restored -> the whole market position moved.
    closedAll * (1 - full.out) === 0;

    component one = IsZero();
    one.in <== lots - 1;
    component prevCeil = CeilFee();
    prevCeil.notional <== notional - pickP.out;
    prevCeil.bps <== pickLf.out;
    prevCeil.fee <== prevFeeRaw;
    component prevMin = MinOf(LIQ_EQUITY_BITS());
    prevMin.a <== prevFeeRaw;
    prevMin.b <== equityPos;
    prevMin.out <== prevFee;
    component fewer = SignedRangeCheck(MARGIN_BITS());
    fewer.in <== BPS_DENOM() * (equityPos - prevFee)
        - (eqI.weightedNotional - imfReleased + imfPerLot);
    // Restored with lots > 1 -> lots - 1 would not have restored IMR.
    signal mustBeMinimal;
    mustBeMinimal <== restored * (1 - one.out);
    mustBeMinimal * (1 - fewer.neg) === 0;

    // ---- new leaves ----
    signal newBalance;
    newBalance <== balance + cover + movedValue - fee;
    signal newPositions[M];
    signal fundNewPositions[M];
    signal signedMove[M];
    component newPosRange[M];
    component fundPosRange[M];
    component posZero[M];
    var nonzero = 0;
    for (var m = 0; m < M; m++) {
        signedMove[m] <== sel.out[m] * moved;
        newPositions[m] <== positions[m] - signedMove[m];
        fundNewPositions[m] <== fundPositions[m] + signedMove[m];
        newPosRange[m] = SignedRangeCheck(POSITION_BITS());
        newPosRange[m].in <== newPositions[m];
        fundPosRange[m] = SignedRangeCheck(POSITION_BITS());
        fundPosRange[m].in <== fundNewPositions[m];
        posZero[m] = IsZero();
        posZero[m].in <== newPositions[m];
        nonzero += 1 - posZero[m].out;
    }
    component flat = IsZero();
    flat.in <== nonzero;
    flatAfter === flat.out;

    signal fundNewBalance;
    fundNewBalance <== fundBalance - cover - movedValue + fee;
    component balRange = SignedRangeCheck(BALANCE_BITS());
    balRange.in <== newBalance;
    component fundBalRange = SignedRangeCheck(BALANCE_BITS());
    fundBalRange.in <== fundNewBalance;

    component oldLeaf = AccountLeaf(M);
    oldLeaf.pubX <== pubX;
    oldLeaf.pubY <== pubY;
    oldLeaf.balance <== balance;
    oldLeaf.positions <== positions;
    oldLeaf.nonce <== nonce;
    oldLeaf.blinding <== blinding;
    component newLeaf = AccountLeaf(M);
    newLeaf.pubX <== pubX;
    newLeaf.pubY <== pubY;
    newLeaf.balance <== newBalance;
    newLeaf.positions <== newPositions;
    newLeaf.nonce <== nonce;
    newLeaf.blinding <== newBlinding;
    component accUpdate = MerkleUpdate(ACC_DEPTH);
    accUpdate.oldRoot <== oldAccountRoot;
    accUpdate.oldLeaf <== oldLeaf.leaf;
    accUpdate.newLeaf <== newLeaf.leaf;
    accUpdate.index <== account;
    accUpdate.siblings <== siblings;

    component fundOld = AccountLeaf(M);
    fundOld.pubX <== fundPubX;
    fundOld.pubY <== fundPubY;
    fundOld.balance <== fundBalance;
    fundOld.positions <== fundPositions;
    fundOld.nonce <== fundNonce;
    fundOld.blinding <== fundBlinding;
    component fundNew = AccountLeaf(M);
    fundNew.pubX <== fundPubX;
    fundNew.pubY <== fundPubY;
    fundNew.balance <== fundNewBalance;
    fundNew.positions <== fundNewPositions;
    fundNew.nonce <== fundNonce;
    fundNew.blinding <== fundNewBlinding;
    component fundUpdate = MerkleUpdate(ACC_DEPTH);
    fundUpdate.oldRoot <== accUpdate.newRoot;
    fundUpdate.oldLeaf <== fundOld.leaf;
    fundUpdate.newLeaf <== fundNew.leaf;
    fundUpdate.index <== 0;
    fundUpdate.siblings <== fundSiblings;
    newAccountRoot === fundUpdate.newRoot;
}
