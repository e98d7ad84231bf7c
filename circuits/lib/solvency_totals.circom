pragma circom 2.1.6;

include "circomlib/circuits/poseidon.circom";

// The running totals of a solvency proof (SOLVENCY WALK, circuits/solvency_walk.circom):
// their widths and their commitment from one chunk to the next.
//
// Widths, named once here and in the verifier's solvency totals
// (EQUITY_BITS etc.; tests/circuits/test_solvency_walk.py checks the two agree).
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
// exactly as the verifier's totals_commitment. Hash only.
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
