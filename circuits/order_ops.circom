pragma circom 2.1.6;

include "circomlib/circuits/comparators.circom";
include "circomlib/circuits/poseidon.circom";
include "circomlib/circuits/bitify.circom";
include "widths.circom";
include "bits.circom";
include "quadtree.circom";
include "account_state.circom";
include "order_slots.circom";
include "signature.circom";

// OrderOps(ACC_LEVELS, SLOT_LEVELS, M, K, ORDER_TAG, CANCEL_TAG) — VALID ORDER SLOT OPS.
//
// Authorises orders once, where fills find them: proves that the account tree
// moved from oldAccRoot to newAccRoot by applying, in order, up to K slot
// operations. Each active op names an order h = Poseidon(ORDER_TAG, account,
// orderId, market, side, size, limit, expiry, flags, salt) of an account other
// than 0, with 1 <= orderId < 2^ORDER_ID_BITS, and its slot s = orderId mod
// 4^SLOT_LEVELS in the account's order slot tree, which held either
//   (fresh) nothing (leaf 0) or an order with a smaller id (it is replaced), or
//   (same)  Poseidon(orderId, filled, h) for this very h (cancel only);
// and:
//   place  (isCancel = 0): the account's key signed h; the slot becomes
//          Poseidon(orderId, 0, h). Placing an order twice is impossible.
//   cancel (isCancel = 1): the account's key signed Poseidon(CANCEL_TAG, h);
//          the slot becomes Poseidon(orderId, size, h), so the order can never
//          fill again (nor be placed again).
// Both are public, per op: places[j] = h for a place, cancels[j] = h for a
// cancel, 0 otherwise, so the verifier can match every placed order with the
// `order` entry that published it (time priority, no private orders) and
// every cancel entry with its execution.
// The touched account's funding is settled (balance -= sum s_m (F_m - F_last_m),
// checkpoints := funding) and the result range-checked. Inactive ops
// (active = 0, after the active ones) change nothing and publish 0, 0.
// Preconditions: leaves were written by darkpool circuits (balance, positions,
// checkpoints range-checked when written).
template OrderOps(ACC_LEVELS, SLOT_LEVELS, M, K, ORDER_TAG, CANCEL_TAG) {
    assert(K >= 1 && M >= 1 && ACC_LEVELS >= 1 && SLOT_LEVELS >= 1);
    assert(2 * SLOT_LEVELS <= ORDER_ID_BITS());

    // ---- public inputs (declaration order = public signal order) ----
    signal input oldAccRoot;
    signal input newAccRoot;
    signal input batchId;
    signal input funding[M];
    signal input cancels[K];
    signal input places[K];

    // ---- private: one op per slot ----
    signal input active[K];
    signal input isCancel[K];
    signal input account[K];
    signal input orderId[K];
    signal input market[K];
    signal input side[K];
    signal input size[K];
    signal input limitPrice[K];
    signal input expiry[K];
    signal input reduceOnly[K];
    signal input salt[K];
    signal input oldId[K];
    signal input oldFilled[K];
    signal input oldH[K];
    signal input slotSiblings[K][SLOT_LEVELS][3];
    signal input pubX[K];
    signal input pubY[K];
    signal input balance[K];
    signal input positions[K][M];
    signal input checkpoints[K][M];
    signal input orderRoot[K];
    signal input nonce[K];
    signal input blindingOld[K];
    signal input blindingNew[K];
    signal input accSiblings[K][ACC_LEVELS][3];
    signal input sigR8x[K];
    signal input sigR8y[K];
    signal input sigS[K];

    signal batchIdSquare;
    batchIdSquare <== batchId * batchId;

    component rFunding[M];
    for (var m = 0; m < M; m++) {
        rFunding[m] = SignedRangeCheck(FUNDING_BITS());
        rFunding[m].in <== funding[m];
    }
    component fundingHash = Poseidon(M);
    fundingHash.inputs <== funding;

    signal accRoot[K + 1];
    accRoot[0] <== oldAccRoot;
    component op[K];
    for (var j = 0; j < K; j++) {
        if (j > 0) {
            active[j] * (1 - active[j - 1]) === 0;
        }
        op[j] = SlotOp(ACC_LEVELS, SLOT_LEVELS, M, ORDER_TAG, CANCEL_TAG);
        op[j].accRootIn <== accRoot[j];
        op[j].funding <== funding;
        op[j].fundingHash <== fundingHash.out;
        op[j].active <== active[j];
        op[j].isCancel <== isCancel[j];
        op[j].account <== account[j];
        op[j].orderId <== orderId[j];
        op[j].market <== market[j];
        op[j].side <== side[j];
        op[j].size <== size[j];
        op[j].limitPrice <== limitPrice[j];
        op[j].expiry <== expiry[j];
        op[j].reduceOnly <== reduceOnly[j];
        op[j].salt <== salt[j];
        op[j].oldId <== oldId[j];
        op[j].oldFilled <== oldFilled[j];
        op[j].oldH <== oldH[j];
        op[j].slotSiblings <== slotSiblings[j];
        op[j].pubX <== pubX[j];
        op[j].pubY <== pubY[j];
        op[j].balance <== balance[j];
        op[j].positions <== positions[j];
        op[j].checkpoints <== checkpoints[j];
        op[j].orderRoot <== orderRoot[j];
        op[j].nonce <== nonce[j];
        op[j].blindingOld <== blindingOld[j];
        op[j].blindingNew <== blindingNew[j];
        op[j].accSiblings <== accSiblings[j];
        op[j].sigR8x <== sigR8x[j];
        op[j].sigR8y <== sigR8y[j];
        op[j].sigS <== sigS[j];
        cancels[j] === op[j].cancelled;
        places[j] === op[j].placed;
        accRoot[j + 1] <== op[j].accRootOut;
    }
    newAccRoot === accRoot[K];
}

// SlotOp(ACC_LEVELS, SLOT_LEVELS, M, ORDER_TAG, CANCEL_TAG): one op of
// OrderOps (see there). Outputs the new account root, `cancelled`
// (= isCancel * h, 0 for places and inactive ops) and `placed`
// (= (active - isCancel) * h, 0 for cancels and inactive ops).
// Preconditions: funding signed-range-checked; fundingHash = Poseidon(funding).
template SlotOp(ACC_LEVELS, SLOT_LEVELS, M, ORDER_TAG, CANCEL_TAG) {
    signal input accRootIn;
    signal input funding[M];
    signal input fundingHash;
    signal input active;
    signal input isCancel;
    signal input account;
    signal input orderId;
    signal input market;
    signal input side;
    signal input size;
    signal input limitPrice;
    signal input expiry;
    signal input reduceOnly;
    signal input salt;
    signal input oldId;
    signal input oldFilled;
    signal input oldH;
    signal input slotSiblings[SLOT_LEVELS][3];
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
    signal input sigR8x;
    signal input sigR8y;
    signal input sigS;
    signal output accRootOut;
    signal output cancelled;
    signal output placed;

    component activeBool = IsBool();
    activeBool.in <== active;
    component cancelBool = IsBool();
    cancelBool.in <== isCancel;
    isCancel * (1 - active) === 0;

    // ---- never account 0; ids from 1 ----
    component fund = IsZero();
    fund.in <== account;
    active * fund.out === 0;
    component accBits = Num2Bits(2 * ACC_LEVELS);
    accBits.in <== account;
    component idBits = Num2Bits(ORDER_ID_BITS());
    idBits.in <== orderId;
    component idZero = IsZero();
    idZero.in <== orderId;
    active * idZero.out === 0;
    component oldIdBits = Num2Bits(ORDER_ID_BITS());
    oldIdBits.in <== oldId;
    component rSize = RangeCheck(SIZE_BITS());
    rSize.in <== size;

    component commitment = OrderHash(ORDER_TAG);
    commitment.account <== account;
    commitment.orderId <== orderId;
    commitment.market <== market;
    commitment.side <== side;
    commitment.size <== size;
    commitment.limitPrice <== limitPrice;
    commitment.expiry <== expiry;
    commitment.flags <== reduceOnly;
    commitment.salt <== salt;
    signal h;
    h <== commitment.h;

    // ---- the slot before: empty / older id (fresh), or this order (same) ----
    component oldEmpty = IsZero();
    oldEmpty.in <== oldId;
    component oldSlot = SlotLeaf();
    oldSlot.orderId <== oldId;
    oldSlot.filled <== oldFilled;
    oldSlot.h <== oldH;
    signal oldLeaf;
    oldLeaf <== (1 - oldEmpty.out) * oldSlot.leaf;

    component same = IsZero();
    same.in <== oldId - orderId;
    signal sameActive;
    sameActive <== active * same.out;
    sameActive * (oldH - h) === 0;
    // Only a cancel may find its own order in the slot: placing twice would reset `filled`.
    sameActive * (1 - isCancel) === 0;
    // Fresh: oldId < orderId (both < 2^ORDER_ID_BITS, so the difference - 1 wraps if not).
    signal freshActive;
    freshActive <== active - sameActive;
    component older = RangeCheck(ORDER_ID_BITS());
    older.in <== freshActive * (orderId - oldId - 1);

    component newSlot = SlotLeaf();
    newSlot.orderId <== orderId;
    newSlot.filled <== isCancel * size;
    newSlot.h <== h;
    component slotUpdate = ConditionalQuadUpdate(SLOT_LEVELS);
    slotUpdate.enabled <== active;
    slotUpdate.oldRoot <== orderRoot;
    slotUpdate.oldLeaf <== oldLeaf;
    slotUpdate.newLeaf <== newSlot.leaf;
    for (var b = 0; b < 2 * SLOT_LEVELS; b++) {
        slotUpdate.bits[b] <== idBits.out[b];
    }
    slotUpdate.siblings <== slotSiblings;

    // ---- the owner signed h (place) or Poseidon(CANCEL_TAG, h) (cancel) ----
    component cancelMsg = Poseidon(2);
    cancelMsg.inputs[0] <== CANCEL_TAG;
    cancelMsg.inputs[1] <== h;
    component sig = SignatureCheck();
    sig.enabled <== active;
    sig.Ax <== pubX;
    sig.Ay <== pubY;
    sig.R8x <== sigR8x;
    sig.R8y <== sigR8y;
    sig.S <== sigS;
    sig.msg <== h + isCancel * (cancelMsg.out - h);
    cancelled <== isCancel * h;
    // isCancel implies active (both boolean), so active - isCancel is 1 exactly for a place.
    placed <== (active - isCancel) * h;

    // ---- funding settlement and the leaf update ----
    component pay = FundingPayment(M);
    pay.positions <== positions;
    pay.checkpoints <== checkpoints;
    pay.funding <== funding;
    signal newBalance;
    newBalance <== balance - pay.payment;
    component rBal = SignedRangeCheck(BALANCE_BITS());
    rBal.in <== newBalance;

    component posHash = Poseidon(M);
    posHash.inputs <== positions;
    component oldCkHash = Poseidon(M);
    oldCkHash.inputs <== checkpoints;
    component oldAcc = AccountStateLeaf();
    oldAcc.pubX <== pubX;
    oldAcc.pubY <== pubY;
    oldAcc.balance <== balance;
    oldAcc.positionsHash <== posHash.out;
    oldAcc.checkpointsHash <== oldCkHash.out;
    oldAcc.orderRoot <== orderRoot;
    oldAcc.nonce <== nonce;
    oldAcc.blinding <== blindingOld;
    component newAcc = AccountStateLeaf();
    newAcc.pubX <== pubX;
    newAcc.pubY <== pubY;
    newAcc.balance <== newBalance;
    newAcc.positionsHash <== posHash.out;
    newAcc.checkpointsHash <== fundingHash;
    newAcc.orderRoot <== slotUpdate.newRoot;
    newAcc.nonce <== nonce;
    newAcc.blinding <== blindingNew;

    component accUpdate = ConditionalQuadUpdate(ACC_LEVELS);
    accUpdate.enabled <== active;
    accUpdate.oldRoot <== accRootIn;
    accUpdate.oldLeaf <== oldAcc.leaf;
    accUpdate.newLeaf <== newAcc.leaf;
    accUpdate.bits <== accBits.out;
    accUpdate.siblings <== accSiblings;
    accRootOut <== accUpdate.newRoot;
}
