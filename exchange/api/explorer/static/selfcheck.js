// darkpool self-check: leaf -> root -> published root, computed in the trader's browser.
// The hashing is inclusion.js (the slots ledger's quaternary tree; tests/exchange/test_explorer_slots.py
// cross-checks it against the Python verifier); the signed request mirrors
// verifier/auth.request_message (tests/exchange/test_explorer.py checks real openings through
// this page). Never sends the key, the balance or the blinding.
"use strict";
(function () {
  const inc = window.darkpoolInclusion; // inclusion.js: parsing and leaf -> root hashing
  const InputError = inc.InputError;
  const root = document.getElementById("selfcheck");
  const cfg = {
    authTag: BigInt(root.dataset.authTag),
    depth: Number(root.dataset.depth),
    balanceBits: BigInt(root.dataset.balanceBits),
    positionBits: BigInt(root.dataset.positionBits),
    nonceBits: BigInt(root.dataset.nonceBits),
    fundingBits: BigInt(root.dataset.fundingBits),
  };
  const $ = (id) => document.getElementById(id);
  const parseOpening = (obj) => inc.parseOpening(obj, cfg);

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
    const { leaf, root: node } = inc.hashOpening(c.poseidon, op);
    if (op.statedLeaf !== null) {
      checks.push({ name: "leaf", ok: leaf === op.statedLeaf,
        detail: leaf === op.statedLeaf ? "your opening hashes to the stated leaf" : "your opening does not hash to the stated leaf" });
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
    const settled = `, funding checkpoints [${op.checkpointsRaw.join(", ")}]`;
    $("mine").textContent = ok
      ? `Your leaf (shown only here): balance ${op.balanceRaw}, positions [${op.positionsRaw.join(", ")}]${settled}, nonce ${op.nonce}.`
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
    return n % inc.R;
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
