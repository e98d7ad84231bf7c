// darkpool self-check, the pure part: parse an account opening and hash leaf -> root.
// Shared by the page (selfcheck.js) and tests/exchange/test_explorer_slots.py, which runs
// this file in node on openings built by the Python verifier and compares the results.
// Mirrors, and must stay in step with (the recycling-order "slots" ledger, the only one):
//   verifier/account_state.account_state_leaf (8 inputs: pub x, pub y, balance,
//   H(positions), H(checkpoints), order root, nonce, blinding) and
//   verifier/quadtree.quad_root (4 children per node; per level the index digit
//   (i >> 2l) & 3 is the node's position among the three listed siblings),
//   as verifier/inclusion_slots.py checks them.
// No I/O: the caller passes Poseidon (circomlibjs, BigInt in and out).
"use strict";
(function (root) {
  const R = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;

  class InputError extends Error {}

  function big(value, what) {
    if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
    if (typeof value === "string" && /^-?(0|[1-9][0-9]{0,77})$/.test(value)) return BigInt(value);
    throw new InputError(`${what} must be an integer, got ${JSON.stringify(value)}`.slice(0, 120));
  }
  function canonical(value, what) {
    const n = big(value, what);
    if (n < 0n || n >= R) throw new InputError(`${what} is not a field element in [0, r)`);
    return n;
  }
  function signed(value, bits, what) {
    const n = big(value, what);
    const half = 1n << (bits - 1n);
    if (n < -half || n >= half) throw new InputError(`${what} does not fit in a signed ${bits}-bit range`);
    return ((n % R) + R) % R;
  }
  function unsigned(value, bits, what) {
    const n = big(value, what);
    if (n < 0n || n >= 1n << bits) throw new InputError(`${what} is not an unsigned ${bits}-bit integer`);
    return n;
  }
  function signedList(o, name, bits) {
    if (!Array.isArray(o[name])) throw new InputError(`opening.${name} must be a list`);
    if (o[name].length < 1 || o[name].length > 16) throw new InputError(`opening.${name} must cover 1..16 markets`);
    return {
      raw: o[name].map((p, i) => big(p, `${name}[${i}]`)),
      field: o[name].map((p, i) => signed(p, bits, `${name}[${i}]`)),
    };
  }

  // cfg: {depth (quaternary levels), balanceBits, positionBits, nonceBits, fundingBits}
  //      (BigInt bit widths).
  function parseOpening(obj, cfg) {
    if (!obj || typeof obj !== "object") throw new InputError("the opening file is not a JSON object");
    const o = obj.opening && typeof obj.opening === "object" ? obj.opening : obj;
    const pub = o.pubkey && typeof o.pubkey === "object" ? { x: o.pubkey.x, y: o.pubkey.y } : { x: o.pub_x, y: o.pub_y };
    if (!Array.isArray(obj.siblings)) throw new InputError("the opening file has no siblings list");
    const quaternary = obj.siblings.length > 0 && obj.siblings.every((s) => Array.isArray(s));
    if (!quaternary) {
      throw new InputError("this exchange's account tree is quaternary (slots ledger): each path step lists the 3 other children, this opening has a binary path");
    }
    if (obj.siblings.length !== cfg.depth) {
      throw new InputError(`the path has ${obj.siblings.length} levels; this exchange's account tree has ${cfg.depth} (4 children per node)`);
    }
    const siblings = obj.siblings.map((s, i) => {
      if (s.length !== 3) throw new InputError(`siblings[${i}] must list the three other children`);
      return s.map((v, k) => canonical(v, `siblings[${i}][${k}]`));
    });
    const account = unsigned(obj.account !== undefined ? obj.account : obj.index, 64n, "account");
    if (account >= 1n << BigInt(2 * cfg.depth)) {
      throw new InputError(`account index ${account} is outside this exchange's account tree`);
    }
    const positions = signedList(o, "positions", cfg.positionBits);
    const op = {
      state: "slots",
      account,
      root: canonical(obj.root, "root"),
      siblings,
      statedLeaf: obj.leaf === undefined || obj.leaf === null ? null : canonical(obj.leaf, "leaf"),
      pubX: canonical(pub.x, "pub_x"),
      pubY: canonical(pub.y, "pub_y"),
      balanceRaw: big(o.balance, "balance"),
      balance: signed(o.balance, cfg.balanceBits, "balance"),
      positionsRaw: positions.raw,
      positions: positions.field,
      nonce: unsigned(o.nonce, cfg.nonceBits, "nonce"),
      blinding: canonical(o.blinding, "blinding"),
    };
    const checkpoints = signedList(o, "checkpoints", cfg.fundingBits);
    if (checkpoints.field.length !== positions.field.length) throw new InputError("one funding checkpoint per market");
    op.checkpointsRaw = checkpoints.raw;
    op.checkpoints = checkpoints.field;
    op.orderRoot = canonical(o.order_root, "order_root");
    return op;
  }

  // The opening's leaf and the root its path reaches: {leaf, root} (BigInt).
  function hashOpening(poseidon, op) {
    const leaf = poseidon([op.pubX, op.pubY, op.balance, poseidon(op.positions), poseidon(op.checkpoints),
      op.orderRoot, op.nonce, op.blinding]);
    let node = leaf;
    op.siblings.forEach((others, level) => {
      const position = Number((op.account >> BigInt(2 * level)) & 3n);
      const children = others.slice();
      children.splice(position, 0, node);
      node = poseidon(children);
    });
    return { leaf, root: node };
  }

  const api = { R, InputError, parseOpening, hashOpening };
  root.darkpoolInclusion = api;
  if (typeof module === "object" && module.exports) module.exports = api;
})(globalThis);
