pragma circom 2.1.6;

include "circomlib/circuits/comparators.circom";
include "circomlib/circuits/poseidon.circom";
include "widths.circom";
include "bits.circom";
include "merkle.circom";
include "account.circom";
include "order.circom";
include "signature.circom";
include "margin.circom";

// SettleBatch(ACC_DEPTH, ORDER_DEPTH, M, N, ORDER_TAG) — VALID BATCH SETTLE.
//
// Proves that the account tree moved from oldAccRoot to newAccRoot and the fill
// tree from oldFillRoot to newFillRoot by applying, in order, up to N fills at
// the public mark prices, and then crediting the batch's fees to the fee
// account (index 0). For every active fill slot:
//   - both orders (buy: side 0, sell: side 1, same market) are committed in the
//     public order list (orderRoot) at distinct indices, and each commitment is
//     signed (EdDSA-Poseidon) by the key stored in the trading account's leaf;
//   - mark <= buy limit, mark >= sell limit, timestamp <= both expiries,
//     1 <= quantity < 2^SIZE_BITS, filledBefore + quantity <= size on each side;
//   - the fill-tree leaves move from (filledBefore == 0 ? 0 : Poseidon(h, filledBefore))
//     to Poseidon(h, filledBefore + quantity), buy then sell;
//   - the buyer pays q*mark + fee and gains q lots, the seller receives q*mark - fee
//     and loses q lots, fee = ceil(q*mark*feeBps[market] / 10000); buyer then
//     seller leaf updated (fresh blinding); both new states meet initial margin.
// Inactive slots (active = 0, all after the active ones) change nothing.
// volume[m] is the total quantity traded in market m.
// Preconditions (hold for trees only ever written by darkpool circuits): the
// fee account at index 0 exists; leaves' old balances/positions were range-checked
// when written (they are re-checked here anyway, cheaply).
template SettleBatch(ACC_DEPTH, ORDER_DEPTH, M, N, ORDER_TAG) {
    assert(N >= 1 && M >= 1);

    // ---- public inputs (declaration order = public signal order) ----
    signal input oldAccRoot;
    signal input newAccRoot;
    signal input oldFillRoot;
    signal input newFillRoot;
    signal input orderRoot;
    signal input batchId;
    signal input timestamp;
    signal input prices[M];
    signal input volume[M];
    signal input feeBps[M];
    signal input imfBps[M];

    // ---- private: fill slots; [i][0] = buy side, [i][1] = sell side ----
    signal input active[N];
    signal input market[N];
    signal input quantity[N];
    signal input account[N][2];
    signal input size[N][2];
    signal input limitPrice[N][2];
    signal input expiry[N][2];
    signal input salt[N][2];
    signal input orderIndex[N][2];
    signal input orderSiblings[N][2][ORDER_DEPTH];
    signal input sigR8x[N][2];
    signal input sigR8y[N][2];
    signal input sigS[N][2];
    signal input filledBefore[N][2];
    signal input fillSiblings[N][2][ORDER_DEPTH];
    signal input pubX[N][2];
    signal input pubY[N][2];
    signal input balance[N][2];
    signal input positions[N][2][M];
    signal input nonce[N][2];
    signal input blindingOld[N][2];
    signal input blindingNew[N][2];
    signal input accSiblings[N][2][ACC_DEPTH];

    // ---- private: the fee account (index 0) ----
    signal input feePubX;
    signal input feePubY;
    signal input feeBalance;
    signal input feePositions[M];
    signal input feeNonce;
    signal input feeBlindingOld;
    signal input feeBlindingNew;
    signal input feeSiblings[ACC_DEPTH];

    // batchId enters no other constraint: bind it so a proof cannot be replayed
    // under another batch id.
    signal batchIdSquare;
    batchIdSquare <== batchId * batchId;

    // Public parameters are range-checked once; every comparison below relies on it.
    component rTime = RangeCheck(TIME_BITS());
    rTime.in <== timestamp;
    component rPrice[M];
    component rFee[M];
    component rImf[M];
    for (var m = 0; m < M; m++) {
        rPrice[m] = RangeCheck(PRICE_BITS());
        rPrice[m].in <== prices[m];
        // Fractions are at most 100% (as in account_op): feeBps, imfBps <= BPS_DENOM.
        rFee[m] = AssertLeq(BPS_BITS());
        rFee[m].a <== feeBps[m];
        rFee[m].b <== BPS_DENOM();
        rImf[m] = AssertLeq(BPS_BITS());
        rImf[m].a <== imfBps[m];
        rImf[m].b <== BPS_DENOM();
    }

    // Roots threaded through the slots: index 2*i is before slot i's buy side,
    // 2*i + 1 between its buy and sell side.
    signal accRoot[2 * N + 1];
    signal fillRoot[2 * N + 1];
    accRoot[0] <== oldAccRoot;
    fillRoot[0] <== oldFillRoot;

    component isActive[N];
    component rQty[N];
    component rQtyMin[N];
    component mkt[N];
    component markSel[N];
    component feeSel[N];
    component feeDiv[N];
    component sameIndex[N];
    component side[N][2];
    signal qty[N];              // active * quantity: zero for inactive slots
    signal qtyByMarket[N][M];   // qty in the slot's market, 0 elsewhere
    signal notional[N];
    signal feeNumerator[N];
    var feeTotal = 0;
    var vol[M];
    for (var m = 0; m < M; m++) { vol[m] = 0; }

    for (var i = 0; i < N; i++) {
        isActive[i] = IsBool();
        isActive[i].in <== active[i];
        // Active slots first, so a batch is a prefix of its slots.
        if (i > 0) {
            active[i] * (1 - active[i - 1]) === 0;
        }

        rQty[i] = RangeCheck(SIZE_BITS());
        rQty[i].in <== quantity[i];
        // active => quantity >= 1
        rQtyMin[i] = RangeCheck(SIZE_BITS());
        rQtyMin[i].in <== active[i] * (quantity[i] - 1);
        qty[i] <== active[i] * quantity[i];

        mkt[i] = OneHot(M);
        mkt[i].sel <== market[i];
        markSel[i] = Select(M);
        markSel[i].values <== prices;
        markSel[i].onehot <== mkt[i].out;
        feeSel[i] = Select(M);
        feeSel[i].values <== feeBps;
        feeSel[i].onehot <== mkt[i].out;
        for (var m = 0; m < M; m++) {
            qtyByMarket[i][m] <== qty[i] * mkt[i].out[m];
            vol[m] += qtyByMarket[i][m];
        }

        // fee = ceil(q * mark * feeBps / BPS_DENOM), charged to each side: rounding
        // up means splitting a trade into small fills can never dodge the fee.
        // q*mark < 2^80, times feeBps < 2^94, so the quotient fits FEE_BITS.
        notional[i] <== qty[i] * markSel[i].out;
        feeNumerator[i] <== notional[i] * feeSel[i].out;
        feeDiv[i] = DivRemConst(FEE_BITS(), BPS_DENOM());
        feeDiv[i].n <== feeNumerator[i] + BPS_DENOM() - 1;
        feeTotal += 2 * feeDiv[i].q;

        // A fill needs two different orders (the sides differ in the commitment,
        // so equal indices could only mean a forged path).
        sameIndex[i] = IsZero();
        sameIndex[i].in <== orderIndex[i][0] - orderIndex[i][1];
        active[i] * sameIndex[i].out === 0;

        for (var s = 0; s < 2; s++) {
            side[i][s] = FillSide(ACC_DEPTH, ORDER_DEPTH, M, s, ORDER_TAG);
            side[i][s].active <== active[i];
            side[i][s].market <== market[i];
            side[i][s].mark <== markSel[i].out;
            side[i][s].quantity <== quantity[i];
            side[i][s].qtyByMarket <== qtyByMarket[i];
            side[i][s].notional <== notional[i];
            side[i][s].fee <== feeDiv[i].q;
            side[i][s].timestamp <== timestamp;
            side[i][s].prices <== prices;
            side[i][s].imfBps <== imfBps;
            side[i][s].orderRoot <== orderRoot;
            side[i][s].fillRootIn <== fillRoot[2 * i + s];
            side[i][s].accRootIn <== accRoot[2 * i + s];

            side[i][s].account <== account[i][s];
            side[i][s].size <== size[i][s];
            side[i][s].limitPrice <== limitPrice[i][s];
            side[i][s].expiry <== expiry[i][s];
            side[i][s].salt <== salt[i][s];
            side[i][s].orderIndex <== orderIndex[i][s];
            side[i][s].orderSiblings <== orderSiblings[i][s];
            side[i][s].sigR8x <== sigR8x[i][s];
            side[i][s].sigR8y <== sigR8y[i][s];
            side[i][s].sigS <== sigS[i][s];
            side[i][s].filledBefore <== filledBefore[i][s];
            side[i][s].fillSiblings <== fillSiblings[i][s];
            side[i][s].pubX <== pubX[i][s];
            side[i][s].pubY <== pubY[i][s];
            side[i][s].balance <== balance[i][s];
            side[i][s].positions <== positions[i][s];
            side[i][s].nonce <== nonce[i][s];
            side[i][s].blindingOld <== blindingOld[i][s];
            side[i][s].blindingNew <== blindingNew[i][s];
            side[i][s].accSiblings <== accSiblings[i][s];

            fillRoot[2 * i + s + 1] <== side[i][s].fillRootOut;
            accRoot[2 * i + s + 1] <== side[i][s].accRootOut;
        }
    }

    for (var m = 0; m < M; m++) {
        volume[m] === vol[m];
    }
    newFillRoot === fillRoot[2 * N];

    // ---- fee account: one update per batch, at index 0 (all path bits 0) ----
    component feeOldBal = SignedRangeCheck(BALANCE_BITS());
    feeOldBal.in <== feeBalance;
    signal feeNewBalance;
    feeNewBalance <== feeBalance + feeTotal;
    component feeNewBal = SignedRangeCheck(BALANCE_BITS());
    feeNewBal.in <== feeNewBalance;

    component feeOldLeaf = AccountLeaf(M);
    feeOldLeaf.pubX <== feePubX;
    feeOldLeaf.pubY <== feePubY;
    feeOldLeaf.balance <== feeBalance;
    feeOldLeaf.positions <== feePositions;
    feeOldLeaf.nonce <== feeNonce;
    feeOldLeaf.blinding <== feeBlindingOld;
    component feeNewLeaf = AccountLeaf(M);
    feeNewLeaf.pubX <== feePubX;
    feeNewLeaf.pubY <== feePubY;
    feeNewLeaf.balance <== feeNewBalance;
    feeNewLeaf.positions <== feePositions;
    feeNewLeaf.nonce <== feeNonce;
    feeNewLeaf.blinding <== feeBlindingNew;

    component feeBefore = MerkleRootFromPath(ACC_DEPTH);
    component feeAfter = MerkleRootFromPath(ACC_DEPTH);
    feeBefore.leaf <== feeOldLeaf.leaf;
    feeAfter.leaf <== feeNewLeaf.leaf;
    for (var d = 0; d < ACC_DEPTH; d++) {
        feeBefore.bits[d] <== 0;
        feeBefore.siblings[d] <== feeSiblings[d];
        feeAfter.bits[d] <== 0;
        feeAfter.siblings[d] <== feeSiblings[d];
    }
    feeBefore.root === accRoot[2 * N];
    newAccRoot === feeAfter.root;
}

// FillSide(ACC_DEPTH, ORDER_DEPTH, M, SIDE, ORDER_TAG): one side (SIDE = 0 buy,
// 1 sell) of one fill slot. When active = 1 proves: the order commitment h is
// in orderRoot at orderIndex and signed by the account's key; limit, expiry and
// size hold; the fill leaf at orderIndex moves from its old value to
// Poseidon(h, filledBefore + quantity) (fillRootIn -> fillRootOut); the account
// leaf at `account` moves to the post-trade state, which meets initial margin
// (accRootIn -> accRootOut). When active = 0 the roots pass through unchanged
// and nothing else is required.
// Preconditions (established by SettleBatch): active boolean; market < M;
// mark, prices < 2^PRICE_BITS; imfBps < 2^BPS_BITS;
// timestamp < 2^TIME_BITS; quantity < 2^SIZE_BITS and >= 1 when active;
// qtyByMarket = active * quantity * onehot(market); notional = active*quantity*mark;
// fee < 2^FEE_BITS.
template FillSide(ACC_DEPTH, ORDER_DEPTH, M, SIDE, ORDER_TAG) {
    signal input active;
    signal input market;
    signal input mark;
    signal input quantity;
    signal input qtyByMarket[M];
    signal input notional;
    signal input fee;
    signal input timestamp;
    signal input prices[M];
    signal input imfBps[M];
    signal input orderRoot;
    signal input fillRootIn;
    signal input accRootIn;

    signal input account;
    signal input size;
    signal input limitPrice;
    signal input expiry;
    signal input salt;
    signal input orderIndex;
    signal input orderSiblings[ORDER_DEPTH];
    signal input sigR8x;
    signal input sigR8y;
    signal input sigS;
    signal input filledBefore;
    signal input fillSiblings[ORDER_DEPTH];
    signal input pubX;
    signal input pubY;
    signal input balance;
    signal input positions[M];
    signal input nonce;
    signal input blindingOld;
    signal input blindingNew;
    signal input accSiblings[ACC_DEPTH];

    signal output fillRootOut;
    signal output accRootOut;

    // +1 for the buyer, -1 for the seller (compile-time constant).
    var SIGN = 1 - 2 * SIDE;

    // ---- order terms ----
    component rSize = RangeCheck(SIZE_BITS());
    rSize.in <== size;
    component rLimit = RangeCheck(PRICE_BITS());
    rLimit.in <== limitPrice;
    component rExpiry = RangeCheck(TIME_BITS());
    rExpiry.in <== expiry;
    component rFilled = RangeCheck(SIZE_BITS());
    rFilled.in <== filledBefore;

    // buy: mark <= limit; sell: limit <= mark. Operands are < 2^PRICE_BITS, so
    // a violated bound wraps the difference far outside the range.
    component limitOk = RangeCheck(PRICE_BITS());
    limitOk.in <== active * SIGN * (limitPrice - mark);
    component notExpired = RangeCheck(TIME_BITS());
    notExpired.in <== active * (expiry - timestamp);
    signal filledAfter;
    filledAfter <== filledBefore + quantity;
    component withinSize = RangeCheck(SIZE_BITS());
    withinSize.in <== active * (size - filledAfter);

    component commitment = OrderCommitment(ORDER_TAG);
    commitment.account <== account;
    commitment.market <== market;
    commitment.side <== SIDE;
    commitment.size <== size;
    commitment.limitPrice <== limitPrice;
    commitment.expiry <== expiry;
    commitment.salt <== salt;
    signal h;
    h <== commitment.h;

    // ---- the order is in the public list ----
    component orderBits = MerkleIndexBits(ORDER_DEPTH);
    orderBits.index <== orderIndex;
    component listed = MerkleRootFromPath(ORDER_DEPTH);
    listed.leaf <== h;
    listed.bits <== orderBits.bits;
    listed.siblings <== orderSiblings;
    active * (listed.root - orderRoot) === 0;

    // ---- fill tree ----
    component fresh = IsZero();
    fresh.in <== filledBefore;
    component oldFillHash = Poseidon(2);
    oldFillHash.inputs[0] <== h;
    oldFillHash.inputs[1] <== filledBefore;
    signal oldFillLeaf;
    oldFillLeaf <== (1 - fresh.out) * oldFillHash.out;
    component newFillHash = Poseidon(2);
    newFillHash.inputs[0] <== h;
    newFillHash.inputs[1] <== filledAfter;
    component fillUpdate = ConditionalMerkleUpdate(ORDER_DEPTH);
    fillUpdate.enabled <== active;
    fillUpdate.oldRoot <== fillRootIn;
    fillUpdate.oldLeaf <== oldFillLeaf;
    fillUpdate.newLeaf <== newFillHash.out;
    fillUpdate.bits <== orderBits.bits;
    fillUpdate.siblings <== fillSiblings;
    fillRootOut <== fillUpdate.newRoot;

    // ---- the account's key signed the order ----
    component sig = SignatureCheck();
    sig.enabled <== active;
    sig.Ax <== pubX;
    sig.Ay <== pubY;
    sig.R8x <== sigR8x;
    sig.R8y <== sigR8y;
    sig.S <== sigS;
    sig.msg <== h;

    // ---- account update ----
    component rOldBal = SignedRangeCheck(BALANCE_BITS());
    rOldBal.in <== balance;
    component rOldPos[M];
    signal newPositions[M];
    for (var m = 0; m < M; m++) {
        rOldPos[m] = SignedRangeCheck(POSITION_BITS());
        rOldPos[m].in <== positions[m];
        newPositions[m] <== positions[m] + SIGN * qtyByMarket[m];
    }
    signal newBalance;
    newBalance <== balance - SIGN * notional - fee;

    component oldLeaf = AccountLeaf(M);
    oldLeaf.pubX <== pubX;
    oldLeaf.pubY <== pubY;
    oldLeaf.balance <== balance;
    oldLeaf.positions <== positions;
    oldLeaf.nonce <== nonce;
    oldLeaf.blinding <== blindingOld;
    component newLeaf = AccountLeaf(M);
    newLeaf.pubX <== pubX;
    newLeaf.pubY <== pubY;
    newLeaf.balance <== newBalance;
    newLeaf.positions <== newPositions;
    newLeaf.nonce <== nonce;
    newLeaf.blinding <== blindingNew;

    component accBits = MerkleIndexBits(ACC_DEPTH);
    accBits.index <== account;
    component accUpdate = ConditionalMerkleUpdate(ACC_DEPTH);
    accUpdate.enabled <== active;
    accUpdate.oldRoot <== accRootIn;
    accUpdate.oldLeaf <== oldLeaf.leaf;
    accUpdate.newLeaf <== newLeaf.leaf;
    accUpdate.bits <== accBits.bits;
    accUpdate.siblings <== accSiblings;
    accRootOut <== accUpdate.newRoot;

    // Post-trade initial margin; also signed-range-checks the new balance and
    // positions (inside Equity), so nothing written can wrap.
    component margin = MarginCheck(M);
    margin.enabled <== active;
    margin.balance <== newBalance;
    margin.positions <== newPositions;
    margin.prices <== prices;
    margin.bps <== imfBps;
}
