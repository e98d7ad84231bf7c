pragma circom 2.1.6;

include "circomlib/circuits/poseidon.circom";
include "widths.circom";
include "bits.circom";
include "merkle.circom";
include "account.circom";
include "margin.circom";

// Widths of the running totals of a solvency proof, named once here and in
// verifier/statements/solvency_chunk.py (a test checks the two agree).
// An account tree holds at most 2^32 leaves (verifier.merkle.MAX_DEPTH), so
//   |sum balance|   <= 2^32 * 2^95 = 2^127 < 2^129;
//   |sum position|  <= 2^32 * 2^47 = 2^79  < 2^81;
//   sum deficit     <= 2^32 * 2^96 = 2^128 < 2^130;
//   |equity|        <  2^95 + 13 * 2^87 < 2^96 < 2^99  (13 = MAX_MARKETS).
// A chunk that would push a total outside its width has no witness, and all
// widths are far below r, so the totals never wrap however many chunks chain.
function SOLVENCY_EQUITY_BITS() { return 100; }       // signed, per account
function SOLVENCY_SUM_BALANCE_BITS() { return 130; }  // signed running balance sum
function SOLVENCY_SUM_POSITION_BITS() { return 82; }  // signed running position sum per market
function SOLVENCY_DEFICIT_BITS() { return 130; }      // unsigned running deficit sum

// SolvencyTotalsCommitment(M): the hidden running totals passed from one chunk
// to the next, C = Poseidon(sumBalance, Poseidon(sumPositions[M]), deficit, fund, salt)
// exactly as verifier.statements.solvency_chunk.totals_commitment. Hash only.
template SolvencyTotalsCommitment(M) {
    signal input balance;
    signal input positions[M];
    signal input deficit;
    signal input fund;
    signal input salt;
    signal output out;

    component ph = Poseidon(M);
    ph.inputs <== positions;
    component h = Poseidon(5);
    h.inputs[0] <== balance;
    h.inputs[1] <== ph.out;
    h.inputs[2] <== deficit;
    h.inputs[3] <== fund;
    h.inputs[4] <== salt;
    out <== h.out;
}

// SolvencyChunk(CHUNK_HEIGHT, M): SOLVENCY CHUNK over the K = 2^CHUNK_HEIGHT
// consecutive accounts chunkIndex*K .. chunkIndex*K + K - 1.
//
// Proves, for hidden account leaves (isEmpty[k] ? 0 : AccountLeaf(...)):
//   * subRoot is the root of the complete height-CHUNK_HEIGHT subtree of those leaves;
//   * an empty slot has balance 0 and positions 0 (so it adds nothing below);
//   * new totals = prev totals + this chunk's sum of balances, sum of positions
//     per market and sum of max(-equity, 0) at the public mark prices;
//     fund = EQUITY at the marks of this chunk's account 0 if isFirst (index 0
//     is the insurance fund; its positions count, not just its cash), else
//     carried over unchanged, and account 0's own shortfall is not a trader
//     deficit (a negative fund already fails deficit <= fund);
//   * isFirst: prev totals are all 0, prevCommit = 0 and chunkIndex = 0;
//     else prevCommit = C(prev totals, prevSalt);
//   * isLast: nextCommit = 0 and the open* inputs equal the new totals;
//     else nextCommit = C(new totals, nextSalt) and every open* input is 0.
// Every balance, position and equity is range-checked (signed), every new
// total with the SOLVENCY_* widths, prices with PRICE_BITS.
//
// Not proved here (the verifier's job, see check_solvency): that the chunks
// are 0..n-1 in order with exactly one first and one last, that their
// commitments chain, that the subroots rebuild the published account root,
// and that the opened totals are solvent.
template SolvencyChunk(CHUNK_HEIGHT, M) {
    assert(CHUNK_HEIGHT >= 0 && CHUNK_HEIGHT <= 16);
    assert(M >= 1 && M <= 16);
    var K = 1 << CHUNK_HEIGHT;

    // Public inputs, in this order (prover/statements/solvency_chunk.PUBLIC).
    signal input chunkIndex;
    signal input subRoot;
    signal input prevCommit;
    signal input nextCommit;
    signal input isFirst;
    signal input isLast;
    signal input prices[M];
    signal input openBalance;
    signal input openPositions[M];
    signal input openDeficit;
    signal input openFund;

    // Private: the accounts of the chunk.
    signal input isEmpty[K];
    signal input pubX[K];
    signal input pubY[K];
    signal input balance[K];
    signal input positions[K][M];
    signal input nonce[K];
    signal input blinding[K];
    // Private: the running totals after the previous chunk and both salts.
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
    for (var m = 0; m < M; m++) {
        priceRange[m] = RangeCheck(PRICE_BITS());
        priceRange[m].in <== prices[m];
    }

    // ---- leaves and subtree root ----
    component accountLeaf[K];
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
        // (or debt) in a slot whose leaf is forced to 0.
        isEmpty[k] * balance[k] === 0;
        for (var m = 0; m < M; m++) { isEmpty[k] * positions[k][m] === 0; }

        accountLeaf[k] = AccountLeaf(M);
        accountLeaf[k].pubX <== pubX[k];
        accountLeaf[k].pubY <== pubY[k];
        accountLeaf[k].balance <== balance[k];
        accountLeaf[k].positions <== positions[k];
        accountLeaf[k].nonce <== nonce[k];
        accountLeaf[k].blinding <== blinding[k];
        leaf[k] <== (1 - isEmpty[k]) * accountLeaf[k].leaf;

        // Equity range-checks balance (BALANCE_BITS) and positions (POSITION_BITS);
        // the margin weights are unused here, so bps = 0.
        equity[k] = Equity(M);
        equity[k].balance <== balance[k];
        equity[k].positions <== positions[k];
        equity[k].prices <== prices;
        for (var m = 0; m < M; m++) { equity[k].bps[m] <== 0; }

        // deficit_k = max(-equity, 0) = neg * |equity|.
        equityRange[k] = SignedRangeCheck(SOLVENCY_EQUITY_BITS());
        equityRange[k].in <== equity[k].equity;
        accountDeficit[k] <== equityRange[k].neg * equityRange[k].abs;

        sumBalance += balance[k];
        for (var m = 0; m < M; m++) { sumPositions[m] += positions[k][m]; }
        if (k == 0) {
            countedDeficit0 <== (1 - isFirst) * accountDeficit[0];
            sumDeficit += countedDeficit0;
        } else {
            sumDeficit += accountDeficit[k];
        }
    }

    component tree = MerkleSubtreeRoot(CHUNK_HEIGHT);
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
    // isFirst ? equity of account 0 at the marks : prevFund.
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
