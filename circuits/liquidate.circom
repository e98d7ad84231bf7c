pragma circom 2.1.6;

include "circomlib/circuits/comparators.circom";
include "circomlib/circuits/poseidon.circom";
include "circomlib/circuits/bitify.circom";
include "widths.circom";
include "bits.circom";
include "quadtree.circom";
include "account_state.circom";
include "account_settle.circom";
include "margin.circom";
// CeilFee, MinOf and LIQ_EQUITY_BITS.
include "liquidation.circom";

// LiquidateStep(ACC_LEVELS, M): LIQUIDATE on the account-state leaf
// (circuits/lib/account_state.circom) and the quaternary account tree — one
// step of a liquidation: `lots` of the account's position in `market` move to
// the insurance fund (index 0) at the mark, with a capped liquidation fee to
// the fund (exchange/domain/liquidation.py states the same rules in Python).
//
// Proves, for the hidden leaf of `account` in oldAccRoot and the fund's leaf
// in the root after the account's update:
//   * funding first: both accounts pay their pending funding,
//     settled = balance - sum_m s_m (funding[m] - checkpoint[m]), and both
//     new leaves carry checkpoints = the public funding indices; everything
//     below uses the settled balances;
//   * account != 0 (the fund is never liquidated), account < 4^ACC_LEVELS;
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
//   * both leaves are rewritten (same key, order root and nonce) with fresh
//     blindings; newAccRoot is the result.
// Every written balance and position is range-checked.
//
// Not proved here (the verifier's job, verifier/statements/liquidate.py):
// prices are the batch's signed marks, funding the current funding indices,
// the fractions are genesis', roots chain, continuation is used only as
// stated, and every account flagged by the last health sweep is liquidated.
// Preconditions (hold for trees only written by darkpool circuits): the fund
// exists at index 0; stored positions and checkpoints were range-checked when written.
template LiquidateStep(ACC_LEVELS, M) {
    assert(ACC_LEVELS >= 1 && ACC_LEVELS <= 16);
    assert(M >= 1 && M <= 16);

    // Public inputs, in this order (verifier.statements.liquidate.PUBLIC_NAMES).
    signal input oldAccRoot;
    signal input newAccRoot;
    signal input account;
    signal input market;
    signal input continuation;
    signal input closedAll;
    signal input flatAfter;
    signal input prices[M];
    signal input funding[M];
    signal input imfBps[M];
    signal input mmfBps[M];
    signal input liqFeeBps[M];

    // Private: the liquidated account's leaf (AccountBook.opening names).
    signal input pubX;
    signal input pubY;
    signal input balance;
    signal input positions[M];
    signal input checkpoints[M];
    signal input orderRoot;
    signal input nonce;
    signal input blindingOld;
    signal input blindingNew;
    signal input accSiblings[ACC_LEVELS][3];
    // Private: the insurance fund (index 0), in the root after the account's update.
    signal input fundPubX;
    signal input fundPubY;
    signal input fundBalance;
    signal input fundPositions[M];
    signal input fundCheckpoints[M];
    signal input fundOrderRoot;
    signal input fundNonce;
    signal input fundBlindingOld;
    signal input fundBlindingNew;
    signal input fundSiblings[ACC_LEVELS][3];
    // Private: the step.
    signal input lots;
    signal input feeRaw;
    signal input fee;
    signal input prevFeeRaw;
    signal input prevFee;

    // ---- public parameters ----
    component priceRange[M];
    component fundingRange[M];
    component bpsRange[M][3];
    for (var m = 0; m < M; m++) {
        priceRange[m] = RangeCheck(PRICE_BITS());
        priceRange[m].in <== prices[m];
        fundingRange[m] = SignedRangeCheck(FUNDING_BITS());
        fundingRange[m].in <== funding[m];
        bpsRange[m][0] = RangeCheck(BPS_BITS());
        bpsRange[m][0].in <== imfBps[m];
        bpsRange[m][1] = RangeCheck(BPS_BITS());
        bpsRange[m][1].in <== mmfBps[m];
        bpsRange[m][2] = RangeCheck(BPS_BITS());
        bpsRange[m][2].in <== liqFeeBps[m];
    }
    continuation * (continuation - 1) === 0;
    // Both rewritten leaves take the current funding indices as checkpoints.
    component fundingHash = Poseidon(M);
    fundingHash.inputs <== funding;

    signal accountInv;
    accountInv <-- account != 0 ? 1 / account : 0;
    account * accountInv === 1;
    // Num2Bits range-checks account < 4^ACC_LEVELS; the bits address its leaf.
    component accountBits = Num2Bits(2 * ACC_LEVELS);
    accountBits.in <== account;

    component sel = OneHot(M);
    sel.sel <== market;

    // ---- open both leaves and settle their funding ----
    component acc = SettledAccount(M);
    acc.pubX <== pubX;
    acc.pubY <== pubY;
    acc.balance <== balance;
    acc.positions <== positions;
    acc.checkpoints <== checkpoints;
    acc.orderRoot <== orderRoot;
    acc.nonce <== nonce;
    acc.blinding <== blindingOld;
    acc.funding <== funding;
    component fund = SettledAccount(M);
    fund.pubX <== fundPubX;
    fund.pubY <== fundPubY;
    fund.balance <== fundBalance;
    fund.positions <== fundPositions;
    fund.checkpoints <== fundCheckpoints;
    fund.orderRoot <== fundOrderRoot;
    fund.nonce <== fundNonce;
    fund.blinding <== fundBlindingOld;
    fund.funding <== funding;

    // ---- eligibility at the marks, after funding ----
    // eqM range-checks the settled balance (BALANCE_BITS) and the positions.
    component eqM = Equity(M);
    eqM.balance <== acc.settledBalance;
    eqM.positions <== positions;
    eqM.prices <== prices;
    eqM.bps <== mmfBps;
    component eqI = Equity(M);
    eqI.balance <== acc.settledBalance;
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

    // fundEq range-checks the fund's settled balance and positions.
    component fundEq = Equity(M);
    fundEq.balance <== fund.settledBalance;
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

    // ---- new balances and positions ----
    signal newBalance;
    newBalance <== acc.settledBalance + cover + movedValue - fee;
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
    fundNewBalance <== fund.settledBalance - cover - movedValue + fee;
    component balRange = SignedRangeCheck(BALANCE_BITS());
    balRange.in <== newBalance;
    component fundBalRange = SignedRangeCheck(BALANCE_BITS());
    fundBalRange.in <== fundNewBalance;

    // ---- new leaves: checkpoints = funding, same key, order root and nonce ----
    component newPosHash = Poseidon(M);
    newPosHash.inputs <== newPositions;
    component newLeaf = AccountStateLeaf();
    newLeaf.pubX <== pubX;
    newLeaf.pubY <== pubY;
    newLeaf.balance <== newBalance;
    newLeaf.positionsHash <== newPosHash.out;
    newLeaf.checkpointsHash <== fundingHash.out;
    newLeaf.orderRoot <== orderRoot;
    newLeaf.nonce <== nonce;
    newLeaf.blinding <== blindingNew;

    component fundNewPosHash = Poseidon(M);
    fundNewPosHash.inputs <== fundNewPositions;
    component fundNewLeaf = AccountStateLeaf();
    fundNewLeaf.pubX <== fundPubX;
    fundNewLeaf.pubY <== fundPubY;
    fundNewLeaf.balance <== fundNewBalance;
    fundNewLeaf.positionsHash <== fundNewPosHash.out;
    fundNewLeaf.checkpointsHash <== fundingHash.out;
    fundNewLeaf.orderRoot <== fundOrderRoot;
    fundNewLeaf.nonce <== fundNonce;
    fundNewLeaf.blinding <== fundBlindingNew;

    // ---- tree: the account at its index, then the fund at index 0 ----
    component accBefore = QuadRootFromPath(ACC_LEVELS);
    accBefore.leaf <== acc.leaf;
    accBefore.bits <== accountBits.out;
    accBefore.siblings <== accSiblings;
    oldAccRoot === accBefore.root;
    component accAfter = QuadRootFromPath(ACC_LEVELS);
    accAfter.leaf <== newLeaf.leaf;
    accAfter.bits <== accountBits.out;
    accAfter.siblings <== accSiblings;

    component fundBefore = QuadRootFromPath(ACC_LEVELS);
    component fundAfter = QuadRootFromPath(ACC_LEVELS);
    fundBefore.leaf <== fund.leaf;
    fundAfter.leaf <== fundNewLeaf.leaf;
    for (var b = 0; b < 2 * ACC_LEVELS; b++) {
        fundBefore.bits[b] <== 0;
        fundAfter.bits[b] <== 0;
    }
    fundBefore.siblings <== fundSiblings;
    fundAfter.siblings <== fundSiblings;
    fundBefore.root === accAfter.root;
    newAccRoot === fundAfter.root;
}
