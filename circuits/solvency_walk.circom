pragma circom 2.1.6;

include "circomlib/circuits/poseidon.circom";
include "widths.circom";
include "bits.circom";
include "margin.circom";
include "account_settle.circom";
include "quad_subtree.circom";
// SolvencyTotalsCommitment and the SOLVENCY_* widths.
include "solvency_totals.circom";

// SolvencyWalk(CHUNK_LEVELS, M): one chunk of a solvency proof on the account
// state (8-input leaf, quaternary account tree), over the K = 4^CHUNK_LEVELS
// consecutive accounts chunkIndex*K .. chunkIndex*K + K - 1, at the public
// mark prices and funding indices.
//
// Proves, for hidden account leaves (isEmpty[k] ? 0 : AccountStateLeaf(...)):
//   * subRoot is the root of the complete CHUNK_LEVELS-level quaternary
//     subtree of those leaves;
//   * an empty slot has balance 0 and positions 0 (so it adds nothing below);
//   * every account's funding is settled in the sums (the leaves are only
//     read): settled_k = balance_k - sum_m s_km (funding_m - checkpoint_km);
//   * new totals = prev totals + this chunk's sum of settled balances, sum of
//     positions per market and sum of max(-equity, 0), equity = settled +
//     sum_m s_km * prices_m; fund = equity of this chunk's account 0 if
//     isFirst (index 0 is the insurance fund; its positions and funding
//     count, not just its cash), else carried over unchanged, and account 0's
//     own shortfall is not a trader deficit (a negative fund already fails
//     deficit <= fund);
//   * isFirst: prev totals are all 0, prevCommit = 0 and chunkIndex = 0;
//     else prevCommit = C(prev totals, prevSalt);
//   * isLast: nextCommit = 0 and the open* inputs equal the new totals;
//     else nextCommit = C(new totals, nextSalt) and every open* input is 0.
// Every settled balance, position and equity is range-checked (signed),
// every new total with the SOLVENCY_* widths, prices with PRICE_BITS,
// funding with FUNDING_BITS (signed).
//
// Funding conserves money exactly (a lot's long and short side are opened at
// one checkpoint), so the settled balances sum to the total collateral
// whether or not each account has settled yet.
//
// Not proved here (the verifier's job, see verifier.statements.solvency_walk):
// that the chunks are 0..n-1 in order with exactly one first and one last,
// that their commitments chain, that the subroots rebuild the published
// account root (verifier.quadtree.quad_root_from_subroots), that every chunk
// used the same prices and funding, and that the opened totals are solvent.
// Preconditions: leaves were written by darkpool circuits (checkpoints signed
// FUNDING_BITS).
template SolvencyWalk(CHUNK_LEVELS, M) {
    assert(CHUNK_LEVELS >= 0 && CHUNK_LEVELS <= 8);
    assert(M >= 1 && M <= 16);
    var K = 1 << (2 * CHUNK_LEVELS);

    // ---- public inputs (declaration order = public signal order) ----
    signal input chunkIndex;
    signal input subRoot;
    signal input prevCommit;
    signal input nextCommit;
    signal input isFirst;
    signal input isLast;
    signal input prices[M];
    signal input funding[M];
    signal input openBalance;
    signal input openPositions[M];
    signal input openDeficit;
    signal input openFund;

    // ---- private: the accounts of the chunk ----
    signal input isEmpty[K];
    signal input pubX[K];
    signal input pubY[K];
    signal input balance[K];
    signal input positions[K][M];
    signal input checkpoints[K][M];
    signal input orderRoot[K];
    signal input nonce[K];
    signal input blinding[K];
    // ---- private: the running totals after the previous chunk and both salts ----
    signal input prevBalance;
    signal input prevPositions[M];
    signal input prevDeficit;
    signal input prevFund;
    signal input prevSalt;
    signal input nextSalt;

    isFirst * (isFirst - 1) === 0;
    isLast * (isLast - 1) === 0;
    // The first chunk starts at account 0 (the insurance fund); this also binds
    // chunkIndex into the constraints so a proof cannot be replayed with another.
    isFirst * chunkIndex === 0;

    component priceRange[M];
    component fundingRange[M];
    for (var m = 0; m < M; m++) {
        priceRange[m] = RangeCheck(PRICE_BITS());
        priceRange[m].in <== prices[m];
        fundingRange[m] = SignedRangeCheck(FUNDING_BITS());
        fundingRange[m].in <== funding[m];
    }

    // ---- leaves, funding settlement and subtree root ----
    component account[K];
    component equity[K];
    component equityRange[K];
    signal leaf[K];
    signal accountDeficit[K];
    var sumBalance = prevBalance;
    var sumPositions[M];
    for (var m = 0; m < M; m++) { sumPositions[m] = prevPositions[m]; }
    var sumDeficit = prevDeficit;
    // Account 0's deficit counts only when this is not the first chunk.
    signal countedDeficit0;

    for (var k = 0; k < K; k++) {
        isEmpty[k] * (isEmpty[k] - 1) === 0;
        // An empty slot holds nothing: without this a prover could hide value
        // (or debt) in a slot whose leaf is forced to 0. With no positions its
        // funding payment is 0 whatever its checkpoints.
        isEmpty[k] * balance[k] === 0;
        for (var m = 0; m < M; m++) { isEmpty[k] * positions[k][m] === 0; }

        account[k] = SettledAccount(M);
        account[k].pubX <== pubX[k];
        account[k].pubY <== pubY[k];
        account[k].balance <== balance[k];
        account[k].positions <== positions[k];
        account[k].checkpoints <== checkpoints[k];
        account[k].orderRoot <== orderRoot[k];
        account[k].nonce <== nonce[k];
        account[k].blinding <== blinding[k];
        account[k].funding <== funding;
        leaf[k] <== (1 - isEmpty[k]) * account[k].leaf;

        // Equity range-checks the settled balance (BALANCE_BITS) and the
        // positions (POSITION_BITS); the margin weights are unused, so bps = 0.
        equity[k] = Equity(M);
        equity[k].balance <== account[k].settledBalance;
        equity[k].positions <== positions[k];
        equity[k].prices <== prices;
        for (var m = 0; m < M; m++) { equity[k].bps[m] <== 0; }

        // deficit_k = max(-equity, 0) = neg * |equity|.
        equityRange[k] = SignedRangeCheck(SOLVENCY_EQUITY_BITS());
        equityRange[k].in <== equity[k].equity;
        accountDeficit[k] <== equityRange[k].neg * equityRange[k].abs;

        sumBalance += account[k].settledBalance;
        for (var m = 0; m < M; m++) { sumPositions[m] += positions[k][m]; }
        if (k == 0) {
            countedDeficit0 <== (1 - isFirst) * accountDeficit[0];
            sumDeficit += countedDeficit0;
        } else {
            sumDeficit += accountDeficit[k];
        }
    }

    component tree = QuadSubtreeRoot(CHUNK_LEVELS);
    tree.leaves <== leaf;
    subRoot === tree.root;

    // ---- new running totals ----
    signal newBalance;
    signal newPositions[M];
    signal newDeficit;
    signal newFund;
    newBalance <== sumBalance;
    for (var m = 0; m < M; m++) { newPositions[m] <== sumPositions[m]; }
    newDeficit <== sumDeficit;
    // prevFund is forced to 0 in the first chunk (below), so this is
    // isFirst ? equity of account 0 at the marks after funding : prevFund.
    newFund <== prevFund + isFirst * equity[0].equity;

    component balanceRange = SignedRangeCheck(SOLVENCY_SUM_BALANCE_BITS());
    balanceRange.in <== newBalance;
    component positionRange[M];
    for (var m = 0; m < M; m++) {
        positionRange[m] = SignedRangeCheck(SOLVENCY_SUM_POSITION_BITS());
        positionRange[m].in <== newPositions[m];
    }
    component deficitRange = RangeCheck(SOLVENCY_DEFICIT_BITS());
    deficitRange.in <== newDeficit;
    component fundRange = SignedRangeCheck(SOLVENCY_EQUITY_BITS());
    fundRange.in <== newFund;

    // ---- commitment chain ----
    // First chunk: nothing came before.
    isFirst * prevBalance === 0;
    for (var m = 0; m < M; m++) { isFirst * prevPositions[m] === 0; }
    isFirst * prevDeficit === 0;
    isFirst * prevFund === 0;

    component prevC = SolvencyTotalsCommitment(M);
    prevC.balance <== prevBalance;
    prevC.positions <== prevPositions;
    prevC.deficit <== prevDeficit;
    prevC.fund <== prevFund;
    prevC.salt <== prevSalt;
    // isFirst ? 0 : C(prev totals, prevSalt)
    prevCommit === (1 - isFirst) * prevC.out;

    component nextC = SolvencyTotalsCommitment(M);
    nextC.balance <== newBalance;
    nextC.positions <== newPositions;
    nextC.deficit <== newDeficit;
    nextC.fund <== newFund;
    nextC.salt <== nextSalt;
    // isLast ? 0 : C(new totals, nextSalt)
    nextCommit === (1 - isLast) * nextC.out;

    // Opening: the totals in the last chunk, zeros elsewhere.
    openBalance === isLast * newBalance;
    for (var m = 0; m < M; m++) { openPositions[m] === isLast * newPositions[m]; }
    openDeficit === isLast * newDeficit;
    openFund === isLast * newFund;
}
