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
include "rank_key.circom";
// LIQ_EQUITY_BITS (shared with LIQUIDATE).
include "liquidation.circom";

// DeleverageStep(ACC_LEVELS, M): AUTO-DELEVERAGING (ADL) on the account-state
// leaf and the quaternary account tree — one trade of an ADL: `lots` of the
// bankrupt account's position in `market` are closed against `counterparty`,
// who holds the opposite side, at the public bankruptcy `price`
// (verifier/statements/deleverage.py states the sequence rules; the ranking
// and the bankruptcy price are docs/ledger.md's "Auto-deleveraging").
//
// Proves, in this order of tree updates (each on the root the previous left):
//   1. the fund (index 0), only when first = 1: funding settled, and the fund
//      pays ALL its positive equity, cover = max(fund equity, 0), into the
//      bankrupt account; the bankrupt's equity after funding E satisfies
//      E + cover < 0 (the fund cannot cover: otherwise this is a liquidation),
//      and shortfall = -(E + cover) >= 1 is the public bad debt. When
//      first = 0 the fund is not touched (its witness is ignored);
//   2. the bankrupt account (`bankrupt` != 0): funding settled, its positions
//      before the trade are the public bankruptPositions[M]; it trades
//      moved = sign(s_b) * lots toward zero, balance += moved * price;
//   3. the counterparty (!= bankrupt; may be the fund): funding settled; its
//      position s_c in `market` has the opposite sign of s_b; it takes the
//      other side (position += moved, balance -= moved * price).
//      1 <= lots <= min(|s_b|, |s_c|) and lots equals one of them (each trade
//      closes as much as the smaller side holds); counterpartyClosed =
//      (s_c + moved == 0);
//      rankKey is the counterparty's ADL rank key BEFORE the trade, at the
//      marks after funding: with notional N = sum |s| * P and equity E_c,
//      rankKey = 1 + floor(10^4 * N / E_c) if E_c > 0, else 0 (leverage in
//      bps, plus one, so every positive-equity account ranks above those with
//      equity <= 0).
// Every touched leaf is rewritten (same key, order root and nonce) with
// checkpoints = the public funding indices and a fresh blinding; every written
// balance and position is range-checked.
//
// Not proved here (the verifier's job): prices are the batch's signed marks,
// funding the current indices, `price` the bankruptcy price of the market
// (from the step-0 shortfall and positions), trades follow the ranking
// (rank keys descending, ties by lower index, the fund last), markets in
// ascending order, roots chain, and the bankrupt ends flat.
// Preconditions (hold for trees only written by darkpool circuits): stored
// positions and checkpoints were range-checked when written.
template DeleverageStep(ACC_LEVELS, M) {
    assert(ACC_LEVELS >= 1 && ACC_LEVELS <= 16);
    assert(M >= 1 && M <= 16);

    // Public inputs, in this order (verifier.statements.deleverage.PUBLIC_NAMES).
    signal input oldAccRoot;
    signal input newAccRoot;
    signal input bankrupt;
    signal input counterparty;
    signal input market;
    signal input first;
    signal input shortfall;
    signal input lots;
    signal input price;
    signal input rankKey;
    signal input counterpartyClosed;
    signal input bankruptPositions[M];
    signal input prices[M];
    signal input funding[M];

    // Private: the bankrupt account's leaf (AccountBook.opening names, positions public).
    signal input pubX;
    signal input pubY;
    signal input balance;
    signal input checkpoints[M];
    signal input orderRoot;
    signal input nonce;
    signal input blindingOld;
    signal input blindingNew;
    signal input accSiblings[ACC_LEVELS][3];
    // Private: the counterparty, in the root after the bankrupt's update.
    signal input cpPubX;
    signal input cpPubY;
    signal input cpBalance;
    signal input cpPositions[M];
    signal input cpCheckpoints[M];
    signal input cpOrderRoot;
    signal input cpNonce;
    signal input cpBlindingOld;
    signal input cpBlindingNew;
    signal input cpSiblings[ACC_LEVELS][3];
    // Private: the insurance fund (index 0) in oldAccRoot (used only when first = 1).
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
    // Private: floor(10^4 * N / E_c) and its remainder (rank key division).
    signal input keyQuotient;
    signal input keyRemainder;

    // ---- public parameters ----
    component priceRange[M];
    component fundingRange[M];
    for (var m = 0; m < M; m++) {
        priceRange[m] = RangeCheck(PRICE_BITS());
        priceRange[m].in <== prices[m];
        fundingRange[m] = SignedRangeCheck(FUNDING_BITS());
        fundingRange[m].in <== funding[m];
    }
    component tradePriceRange = RangeCheck(PRICE_BITS());
    tradePriceRange.in <== price;
    first * (first - 1) === 0;
    component fundingHash = Poseidon(M);
    fundingHash.inputs <== funding;

    // bankrupt != 0, counterparty != bankrupt; both < 4^ACC_LEVELS (their bits address leaves).
    signal bankruptInv;
    bankruptInv <-- bankrupt != 0 ? 1 / bankrupt : 0;
    bankrupt * bankruptInv === 1;
    signal pairInv;
    pairInv <-- counterparty != bankrupt ? 1 / (counterparty - bankrupt) : 0;
    (counterparty - bankrupt) * pairInv === 1;
    component bankruptBits = Num2Bits(2 * ACC_LEVELS);
    bankruptBits.in <== bankrupt;
    component cpBits = Num2Bits(2 * ACC_LEVELS);
    cpBits.in <== counterparty;

    component sel = OneHot(M);
    sel.sel <== market;

    // ---- open the three leaves and settle their funding ----
    component acc = SettledAccount(M);
    acc.pubX <== pubX;
    acc.pubY <== pubY;
    acc.balance <== balance;
    acc.positions <== bankruptPositions;
    acc.checkpoints <== checkpoints;
    acc.orderRoot <== orderRoot;
    acc.nonce <== nonce;
    acc.blinding <== blindingOld;
    acc.funding <== funding;
    component cp = SettledAccount(M);
    cp.pubX <== cpPubX;
    cp.pubY <== cpPubY;
    cp.balance <== cpBalance;
    cp.positions <== cpPositions;
    cp.checkpoints <== cpCheckpoints;
    cp.orderRoot <== cpOrderRoot;
    cp.nonce <== cpNonce;
    cp.blinding <== cpBlindingOld;
    cp.funding <== funding;
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

    // ---- step 1 (first = 1): the fund pays all it can; the rest is the shortfall ----
    // eqB range-checks the bankrupt's settled balance and positions (bps unused).
    component eqB = Equity(M);
    eqB.balance <== acc.settledBalance;
    eqB.positions <== bankruptPositions;
    eqB.prices <== prices;
    for (var m = 0; m < M; m++) {
        eqB.bps[m] <== 0;
    }
    component fundEq = Equity(M);
    fundEq.balance <== fund.settledBalance;
    fundEq.positions <== fundPositions;
    fundEq.prices <== prices;
    for (var m = 0; m < M; m++) {
        fundEq.bps[m] <== 0;
    }
    component fundSign = SignedRangeCheck(LIQ_EQUITY_BITS());
    fundSign.in <== fundEq.equity;
    signal fundEquityPos;
    fundEquityPos <== fundEq.equity - fundSign.neg * fundEq.equity;
    signal cover;
    cover <== first * fundEquityPos;
    // shortfall = -(E + cover) >= 1 when first = 1.
    component short = RangeCheck(LIQ_EQUITY_BITS());
    short.in <== first * (0 - eqB.equity - fundEquityPos - 1);
    first * (shortfall + eqB.equity + fundEquityPos) === 0;

    // ---- steps 2 and 3: the trade ----
    component pickS = Select(M);
    pickS.values <== bankruptPositions;
    pickS.onehot <== sel.out;
    component pickC = Select(M);
    pickC.values <== cpPositions;
    pickC.onehot <== sel.out;
    component bSign = SignedRangeCheck(POSITION_BITS());
    bSign.in <== pickS.out;
    component cSign = SignedRangeCheck(POSITION_BITS());
    cSign.in <== pickC.out;
    // Opposite sides: exactly one is negative (both are non-zero: lots >= 1 bounds both).
    bSign.neg + cSign.neg === 1;
    component lotsMin = RangeCheck(POSITION_BITS());
    lotsMin.in <== lots - 1;
    component lotsB = RangeCheck(POSITION_BITS());
    lotsB.in <== bSign.abs - lots;
    component lotsC = RangeCheck(POSITION_BITS());
    lotsC.in <== cSign.abs - lots;
    // lots = min(|s_b|, |s_c|).
    (bSign.abs - lots) * (cSign.abs - lots) === 0;
    component closed = IsZero();
    closed.in <== cSign.abs - lots;
    counterpartyClosed === closed.out;

    signal moved;
    moved <== (1 - 2 * bSign.neg) * lots;
    signal movedValue;
    movedValue <== moved * price;

    // ---- the counterparty's rank key, before the trade (circuits/lib/rank_key.circom) ----
    component key = AdlRankKey(M);
    key.balance <== cp.settledBalance;
    key.positions <== cpPositions;
    key.prices <== prices;
    key.quotient <== keyQuotient;
    key.remainder <== keyRemainder;
    rankKey === key.key;

    // ---- new balances and positions ----
    signal newBalance;
    newBalance <== acc.settledBalance + cover + movedValue;
    signal cpNewBalance;
    cpNewBalance <== cp.settledBalance - movedValue;
    signal fundNewBalance;
    fundNewBalance <== fund.settledBalance - cover;
    component balRange = SignedRangeCheck(BALANCE_BITS());
    balRange.in <== newBalance;
    component cpBalRange = SignedRangeCheck(BALANCE_BITS());
    cpBalRange.in <== cpNewBalance;
    component fundBalRange = SignedRangeCheck(BALANCE_BITS());
    fundBalRange.in <== fundNewBalance;

    signal newPositions[M];
    signal cpNewPositions[M];
    signal signedMove[M];
    component newPosRange[M];
    component cpPosRange[M];
    for (var m = 0; m < M; m++) {
        signedMove[m] <== sel.out[m] * moved;
        newPositions[m] <== bankruptPositions[m] - signedMove[m];
        cpNewPositions[m] <== cpPositions[m] + signedMove[m];
        newPosRange[m] = SignedRangeCheck(POSITION_BITS());
        newPosRange[m].in <== newPositions[m];
        cpPosRange[m] = SignedRangeCheck(POSITION_BITS());
        cpPosRange[m].in <== cpNewPositions[m];
    }

    // ---- new leaves: checkpoints = funding, same key, order root and nonce ----
    component fundNewLeaf = AccountStateLeaf();
    fundNewLeaf.pubX <== fundPubX;
    fundNewLeaf.pubY <== fundPubY;
    fundNewLeaf.balance <== fundNewBalance;
    fundNewLeaf.positionsHash <== fund.positionsHash;
    fundNewLeaf.checkpointsHash <== fundingHash.out;
    fundNewLeaf.orderRoot <== fundOrderRoot;
    fundNewLeaf.nonce <== fundNonce;
    fundNewLeaf.blinding <== fundBlindingNew;

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

    component cpNewPosHash = Poseidon(M);
    cpNewPosHash.inputs <== cpNewPositions;
    component cpNewLeaf = AccountStateLeaf();
    cpNewLeaf.pubX <== cpPubX;
    cpNewLeaf.pubY <== cpPubY;
    cpNewLeaf.balance <== cpNewBalance;
    cpNewLeaf.positionsHash <== cpNewPosHash.out;
    cpNewLeaf.checkpointsHash <== fundingHash.out;
    cpNewLeaf.orderRoot <== cpOrderRoot;
    cpNewLeaf.nonce <== cpNonce;
    cpNewLeaf.blinding <== cpBlindingNew;

    // ---- tree: the fund (first = 1), then the bankrupt, then the counterparty ----
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
    first * (fundBefore.root - oldAccRoot) === 0;
    signal rootFunded;
    rootFunded <== oldAccRoot + first * (fundAfter.root - oldAccRoot);

    component accBefore = QuadRootFromPath(ACC_LEVELS);
    accBefore.leaf <== acc.leaf;
    accBefore.bits <== bankruptBits.out;
    accBefore.siblings <== accSiblings;
    rootFunded === accBefore.root;
    component accAfter = QuadRootFromPath(ACC_LEVELS);
    accAfter.leaf <== newLeaf.leaf;
    accAfter.bits <== bankruptBits.out;
    accAfter.siblings <== accSiblings;

    component cpBefore = QuadRootFromPath(ACC_LEVELS);
    cpBefore.leaf <== cp.leaf;
    cpBefore.bits <== cpBits.out;
    cpBefore.siblings <== cpSiblings;
    accAfter.root === cpBefore.root;
    component cpAfter = QuadRootFromPath(ACC_LEVELS);
    cpAfter.leaf <== cpNewLeaf.leaf;
    cpAfter.bits <== cpBits.out;
    cpAfter.siblings <== cpSiblings;
    newAccRoot === cpAfter.root;
}
