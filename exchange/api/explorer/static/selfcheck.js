// darkpool self-check: leaf -> root -> published root, computed in the trader's browser.
// Mirrors verifier/encoding.account_leaf, verifier/merkle.compute_root and
// verifier/auth.request_message (keep in step with them; tests/exchange/test_explorer.py
// checks a real opening against this code). Never sends the key, the balance or the blinding.
"use strict";
(function () {
  const R = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;
  const root = document.getElementById("selfcheck");
  const cfg = {
    authTag: BigInt(root.dataset.authTag),
    depth: Number(root.dataset.depth),
    balanceBits: BigInt(root.dataset.balanceBits),
    positionBits: BigInt(root.dataset.positionBits),
    nonceBits: BigInt(root.dataset.nonceBits),
  };
  const $ = (id) => document.getElementById(id);

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

  function parseOpening(obj) {
    if (!obj || typeof obj !== "object") throw new InputError("the opening file is not a JSON object");
    const o = obj.opening && typeof obj.opening === "object" ? obj.opening : obj;
    const pub = o.pubkey && typeof o.pubkey === "object" ? { x: o.pubkey.x, y: o.pubkey.y } : { x: o.pub_x, y: o.pub_y };
    if (!Array.isArray(o.positions)) throw new InputError("opening.positions must be a list");
    if (!Array.isArray(obj.siblings)) throw new InputError("the opening file has no siblings list");
    const account = obj.account !== undefined ? obj.account : obj.index;
    return {
      account: unsigned(account, 64n, "account"),
      root: canonical(obj.root, "root"),
      siblings: obj.siblings.map((s, i) => canonical(s, `siblings[${i}]`)),
      statedLeaf: obj.leaf === undefined || obj.leaf === null ? null : canonical(obj.leaf, "leaf"),
      pubX: canonical(pub.x, "pub_x"),
      pubY: canonical(pub.y, "pub_y"),
      balanceRaw: big(o.balance, "balance"),
      balance: signed(o.balance, cfg.balanceBits, "balance"),
      positionsRaw: o.positions.map((p, i) => big(p, `positions[${i}]`)),
      positions: o.positions.map((p, i) => signed(p, cfg.positionBits, `positions[${i}]`)),
      nonce: unsigned(o.nonce, cfg.nonceBits, "nonce"),
      blinding: canonical(o.blinding, "blinding"),
    };
  }

  function show(checks, verdict) {
    const list = $("checks");
    list.textContent = "";
    for (const c of checks) {
      const li = document.createElement("li");
      li.className = c.ok ? "check-ok" : "check-fail";
      li.dataset.check = c.name;
      const badge = document.createElement("span");
      badge.className = "badge " + (c.ok ? "ok" : "fail");
      badge.textContent = c.ok ? "ok" : "FAIL";
      li.append(badge, ` ${c.name}: ${c.detail}`);
      list.append(li);
    }
    const v = $("verdict");
    v.className = verdict.ok ? "badge ok" : "badge fail";
    v.dataset.result = verdict.ok ? "accepted" : "rejected";
    v.textContent = verdict.text;
  }

  function fail(message) {
    $("mine").textContent = "";
    show([], { ok: false, text: `REJECTED: ${message}` });
  }

  async function checkOpening(op, expectedPub) {
    const c = await window.darkpoolCrypto.ready();
    const checks = [];
    if (op.siblings.length !== cfg.depth) {
      throw new InputError(`the path has ${op.siblings.length} siblings; this exchange's account tree has depth ${cfg.depth}`);
    }
    const leaf = c.poseidon([op.pubX, op.pubY, op.balance, c.poseidon(op.positions), op.nonce, op.blinding]);
    if (op.statedLeaf !== null) {
      checks.push({ name: "leaf", ok: leaf === op.statedLeaf,
        detail: leaf === op.statedLeaf ? "your opening hashes to the stated leaf" : "your opening does not hash to the stated leaf" });
    }
    let node = leaf;
    for (let level = 0; level < op.siblings.length; level++) {
      const bit = (op.account >> BigInt(level)) & 1n;
      node = bit ? c.poseidon([op.siblings[level], node]) : c.poseidon([node, op.siblings[level]]);
    }
    checks.push({ name: "path", ok: node === op.root,
      detail: node === op.root ? "leaf and siblings hash to the stated root"
        : `leaf and siblings hash to ${node.toString().slice(0, 16)}…, not the stated root` });
    const r = await fetch(`/explorer/api/account-root?account=${op.account}&root=${op.root}`, { credentials: "omit" });
    if (!r.ok) throw new Error(`the exchange answered ${r.status} to the published-root query`);
    const pub = await r.json();
    checks.push({ name: "published", ok: pub.root_published,
      detail: pub.root_published
        ? `the root is the account root after ledger entry #${pub.entry}${pub.is_latest ? " (the latest)" : " (not the latest: fetch a fresh opening to check the current root)"}`
        : "the root is not an account root the ledger published" });
    const keyOk = pub.pubkey !== null && BigInt(pub.pubkey.x) === op.pubX && BigInt(pub.pubkey.y) === op.pubY;
    checks.push({ name: "key", ok: keyOk,
      detail: pub.pubkey === null ? `the ledger never opened account ${op.account}`
        : keyOk ? `the leaf's key is the key the ledger published for account ${op.account}` : "the leaf's key is not the key published for this account" });
    if (expectedPub) {
      const mine = BigInt(expectedPub.x) === op.pubX && BigInt(expectedPub.y) === op.pubY;
      checks.push({ name: "my key", ok: mine, detail: mine ? "the leaf holds the key of your key file" : "the leaf holds another key than your key file's" });
    }
    const ok = checks.every((x) => x.ok);
    const first = checks.find((x) => !x.ok);
    show(checks, { ok, text: ok ? `ACCEPTED: account ${op.account} is in the published root` : `REJECTED: ${first.name}: ${first.detail}` });
    $("mine").textContent = ok
      ? `Your leaf (shown only here): balance ${op.balanceRaw}, positions [${op.positionsRaw.join(", ")}], nonce ${op.nonce}.`
      : "";
  }

  async function readJsonFile(input, what) {
    const file = input.files && input.files[0];
    if (!file) throw new InputError(`choose a ${what} first`);
    try {
      return JSON.parse(await file.text());
    } catch (e) {
      throw new InputError(`the ${what} is not JSON`);
    }
  }

  async function sha256ModR(text) {
    if (!(window.crypto && crypto.subtle)) throw new Error("this page needs a secure context (https or localhost) for SHA-256");
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
    let n = 0n;
    for (const b of digest) n = (n << 8n) | BigInt(b);
    return n % R;
  }

  function seedOf(keyObj) {
    if (!keyObj || keyObj.kind !== "darkpool-eddsa-key" || typeof keyObj.seed !== "string" || !/^[0-9a-fA-F]{64}$/.test(keyObj.seed)) {
      throw new InputError("not a darkpool key file (expected kind darkpool-eddsa-key and a 32-byte seed)");
    }
    return Uint8Array.from(keyObj.seed.match(/../g).map((h) => parseInt(h, 16)));
  }

  async function withKey() {
    const keyObj = await readJsonFile($("key-file"), "key file");
    const seed = seedOf(keyObj);
    const accountText = $("account").value.trim();
    if (!/^(0|[1-9][0-9]{0,9})$/.test(accountText)) throw new InputError("enter your account index");
    const account = BigInt(accountText);
    const c = await window.darkpoolCrypto.ready();
    const pub = c.publicKey(seed);
    const target = `/v1/accounts/${account}/inclusion`;
    const ts = BigInt(Date.now()); // milliseconds: the request's timestamp and nonce (verifier/auth.py)
    const msg = c.poseidon([cfg.authTag, account, ts, await sha256ModR(`GET ${target}\n`)]);
    const signature = c.sign(seed, msg);
    seed.fill(0);
    const r = await fetch(target, {
      credentials: "omit",
      headers: {
        "X-Darkpool-Account": account.toString(),
        "X-Darkpool-Timestamp": ts.toString(),
        "X-Darkpool-Signature": JSON.stringify(signature),
      },
    });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(`the exchange refused the signed request (${r.status}): ${body.detail || "no detail"}`);
    await checkOpening(parseOpening(body), pub);
  }

  async function withOpening() {
    await checkOpening(parseOpening(await readJsonFile($("opening-file"), "opening file")), null);
  }

  function run(fn) {
    return async () => {
      $("verdict").textContent = "checking…";
      $("verdict").dataset.result = "running";
      try {
        if (!window.darkpoolCrypto) {
          throw new Error("the Poseidon/EdDSA script did not load (see /explorer/static/darkpool-crypto.js)");
        }
        await fn();
      } catch (e) {
        fail(e instanceof InputError ? e.message : `${e.message || e}`);
      }
    };
  }

  $("check-key").addEventListener("click", run(withKey));
  $("check-opening").addEventListener("click", run(withOpening));
  root.dataset.ready = "1";
})();
