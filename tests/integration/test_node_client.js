'use strict';
// The Node.js client against live tokenvaultd servers started by
// test_node_client.py (run with `node --test`). Environment:
//   TV_NODE_CLIENT    client/node (the package under test)
//   TV_PACKED_CLIENT  the same package unpacked from `npm pack`
//   TV_DEV_TARGET     a --dev vault (plaintext, loopback)
//   TV_MTLS_TARGET    an mTLS vault; TV_CERT_DIR holds ca, crm, officer-a,
//                     officer-b (CA "ca") and rogue (CA "rogue-ca") PEMs
//   TV_CLOSED_TARGET  a loopback port nobody listens on
//   NODE_PATH         node_modules installed by npm ci from the lockfile

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const tv = require(path.join(process.env.TV_NODE_CLIENT, 'lib'));

const DEV = process.env.TV_DEV_TARGET;
const MTLS = process.env.TV_MTLS_TARGET;
const CLOSED = process.env.TV_CLOSED_TARGET;
const CERTS = process.env.TV_CERT_DIR;
const PANS = ['4111111111111111', '5555555555554444', '4012 8888 8888 1881', '6011111111111117'];

/** PEM paths of client |name| under CA |ca|. */
function tlsFiles(name, ca = 'ca') {
  return {
    ca: path.join(CERTS, `${ca}.crt`), cert: path.join(CERTS, `${name}.crt`), key: path.join(CERTS, `${name}.key`),
  };
}

/** |n| distinct 12-digit bank account numbers starting at |from|. */
function accounts(n, from = 0) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(String(100000000000 + from + i));
  return out;
}

/** Collects an async iterator into an array. */
async function collect(iter) {
  const out = [];
  for await (const x of iter) out.push(x);
  return out;
}

/** Asserts |promise| rejects with a VaultError of gRPC code |name| (or one
 * of the names in an array); returns it. */
async function rejectsVault(promise, name) {
  let caught = null;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught, `expected a VaultError ${name}, the call succeeded`);
  assert.ok(caught instanceof tv.VaultError, `expected a VaultError, got ${caught && caught.stack}`);
  const names = Array.isArray(name) ? name : [name];
  assert.ok(names.includes(caught.codeName), `expected ${names.join(' or ')}, got ${caught.message}`);
  assert.equal(caught.code, tv.status[caught.codeName]);
  return caught;
}

describe('--dev vault (plaintext)', () => {
  let c;
  before(() => { c = new tv.Client(DEV, { insecure: true }); });
  after(() => c.close());

  it('health and whoami', async () => {
    assert.equal(await c.health(), 'SERVING');
    assert.equal(await c.health('tokenvault.v1.TokenVault'), 'SERVING');
    const me = await c.whoami();
    assert.equal(me.authenticated, false);
    assert.equal(me.transportSecurity, 'insecure');
  });

  it('round trip, full, masked and none', async () => {
    const tokens = await c.tokenize('pan', PANS);
    assert.equal(tokens.length, PANS.length);
    tokens.forEach((tok, i) => {
      assert.notEqual(tok, PANS[i]);
      assert.equal(tok.length, PANS[i].length, 'format-preserving');
      assert.equal(tok.slice(-4), PANS[i].slice(-4));
    });
    assert.deepEqual(await c.detokenize('pan', tokens, { reveal: 'full', reason: 'node test' }), PANS);
    const masked = await c.detokenize('pan', tokens);
    assert.equal(masked[0], '411111******1111', 'masked is the default reveal');
    masked.forEach((m, i) => assert.notEqual(m, PANS[i]));
    const none = await c.detokenizeItems('pan', tokens, { reveal: 'NONE' });
    assert.ok(none.every((r) => r.ok && r.text === '' && r.name === 'OK'));
    await assert.rejects(c.detokenize('pan', tokens, { reveal: 'everything' }), RangeError);
  });

  it('per-item statuses and ItemError', async () => {
    const res = await c.tokenizeItems('pan', ['4111111111111111', '4111111111111112', '1234']);
    assert.deepEqual(res.map((r) => r.index), [0, 1, 2]);
    assert.equal(res[0].ok, true);
    assert.equal(res[0].code, 0);
    assert.deepEqual([res[1].code, res[1].name, res[1].ok, res[1].text], [204, 'FORMAT_LUHN', false, '']);
    assert.match(res[1].message, /Luhn/);
    assert.match(res[2].name, /^FORMAT_/);
    await assert.rejects(c.tokenize('pan', ['4111111111111111', '4111111111111112']), (err) => {
      assert.ok(err instanceof tv.ItemError);
      assert.deepEqual([err.index, err.code, err.codeName], [1, 204, 'FORMAT_LUHN']);
      assert.match(err.statusMessage, /Luhn/);
      assert.ok(!err.message.includes('4111111111111112'), 'the error never carries the value');
      return true;
    });
    const unknown = await c.detokenizeItems('pan', ['4111119999991111'], { reveal: 'full', reason: 'x' });
    assert.equal(unknown[0].name, 'ENGINE_NOT_FOUND');
    await assert.rejects(c.detokenize('pan', ['4111119999991111']), tv.ItemError);
  });

  it('convergence: the same value gets the same token', async () => {
    const a = await c.tokenize('iban', ['DE89 3704 0044 0532 0130 00', 'GB82WEST12345698765432']);
    const b = await c.tokenize('iban', ['GB82WEST12345698765432', 'DE89 3704 0044 0532 0130 00']);
    assert.deepEqual(b, [a[1], a[0]]);
    const ssn = await c.tokenize('ssn', ['123-45-6789']);
    assert.deepEqual(await c.tokenize('ssn', ['123-45-6789']), ssn);
  });

  it('whole-call errors: VaultError with the gRPC code, not retried', async () => {
    let retries = 0;
    const c2 = new tv.Client(DEV, { insecure: true, onRetry: () => { retries++; } });
    try {
      // NOT_FOUND, or PERMISSION_DENIED where the policy (no grant for it) is checked first
      const err = await rejectsVault(c2.detokenize('nonexistent', ['1']), ['NOT_FOUND', 'PERMISSION_DENIED']);
      assert.match(err.details, /nonexistent/);
      assert.equal(err.attempts, 1);
      assert.equal(retries, 0, 'NOT_FOUND is not retried');
    } finally {
      c2.close();
    }
  });

  it('large inputs are split into batches under the server limit', async () => {
    assert.equal(tv.SERVER_ITEMS_MAX, 1000);
    const values = accounts(2500, 500000);
    const tokens = await c.tokenize('bank_account', values); // default batch 500
    assert.equal(tokens.length, 2500);
    const small = new tv.Client(DEV, { insecure: true, batchSize: 7 });
    try {
      assert.deepEqual(await small.tokenize('bank_account', values.slice(0, 50)), tokens.slice(0, 50));
      assert.deepEqual(await small.detokenize('bank_account', tokens.slice(0, 50), { reveal: 'full', reason: 't' }),
        values.slice(0, 50));
    } finally {
      small.close();
    }
    const one = new tv.Client(DEV, { insecure: true, batchSize: 1000 });
    try { // a single request of 1001 items is refused by the server: batching is what makes 2500 work
      await rejectsVault(one._unary(one._stub, 'Tokenize',
        { request_id: 'x', namespace: 'bank_account', values: accounts(1001), metadata: {} }, false), 'RESOURCE_EXHAUSTED');
    } finally {
      one.close();
    }
    assert.deepEqual(await c.tokenize('pan', []), [], 'no items, no results');
    assert.throws(() => new tv.Client(DEV, { insecure: true, batchSize: 1001 }), RangeError);
    assert.throws(() => new tv.Client(DEV, { insecure: true, batchSize: 0 }), RangeError);
  });

  it('delete and erase', async () => {
    const [a, b] = await c.tokenize('pan', ['5105105105105100', '4000056655665556']);
    const del = await c.delete('pan', [a, '4111119999991111'], { reason: 'customer left' });
    assert.deepEqual(del.map((r) => r.name), ['OK', 'ENGINE_NOT_FOUND']);
    const after1 = await c.detokenizeItems('pan', [a, b], { reveal: 'full', reason: 'x' });
    assert.deepEqual([after1[0].name, after1[0].text], ['ENGINE_DELETED', '']);
    assert.equal(after1[1].text, '4000056655665556');
    assert.equal(await c.erase('pan', '4000056655665556', { reason: 'GDPR art. 17' }), 1);
    assert.equal((await c.detokenizeItems('pan', [b]))[0].name, 'ENGINE_DELETED');
    assert.equal(await c.erase('pan', '4000056655665556'), 0, 'a repeat erases nothing more');
    await assert.rejects(c.erase('pan', 42), TypeError);
  });

  it('token info: times, key version, metadata, TTL', async () => {
    const [tok] = await c.tokenize('bank_account', ['98765432101'], { ttlSeconds: 3600, metadata: { source: 'crm' } });
    const [info, missing] = await c.info('bank_account', [tok, '11111111111']);
    assert.equal(info.ok, true);
    assert.equal(info.keyVersion, 1);
    assert.ok(info.createdAtMs > 1600000000000 && info.createdAtMs <= Date.now() + 60000);
    assert.ok(info.expiresAtMs > info.createdAtMs + 3500000 && info.expiresAtMs < info.createdAtMs + 3700000);
    assert.deepEqual(info.metadata, { source: 'crm' });
    assert.equal(missing.name, 'ENGINE_NOT_FOUND');
    assert.equal(info.text, '', 'info never carries a value');
    await assert.rejects(c.tokenize('pan', ['1'], { ttlSeconds: 5, expiresAtMs: Date.now() + 9000 }), /not both/);
  });

  it('keys: list and rotate; old tokens still resolve', async () => {
    const ns = 'ssn';
    const [tok] = await c.tokenize(ns, ['219-09-9999']);
    const before1 = await c.listKeys(ns);
    assert.deepEqual(before1.map((k) => [k.namespace, k.version, k.state]), [[ns, 1, 'ACTIVE']]);
    const all = await c.listKeys();
    assert.ok(['pan', 'iban', 'bank_account', 'ssn'].every((n) => all.some((k) => k.namespace === n)));
    const rot = await c.rotateDataKey(ns, { reason: 'scheduled' });
    assert.deepEqual([rot.namespace, rot.version, rot.state], [ns, 2, 'ACTIVE']);
    assert.ok(rot.kekVersion >= 1);
    const states = Object.fromEntries((await c.listKeys(ns)).map((k) => [k.version, k.state]));
    // tokenvaultd's rotation worker may already have moved the record and
    // retired version 1 (tests/integration/test_vault_rotation.py).
    assert.ok(['DECRYPT_ONLY', 'RETIRED'].includes(states[1]) && states[2] === 'ACTIVE', JSON.stringify(states));
    assert.deepEqual(await c.detokenize(ns, [tok], { reveal: 'full', reason: 'after rotation' }), ['219-09-9999']);
    const [fresh] = await c.tokenize(ns, ['078-05-1121']);
    assert.equal((await c.info(ns, [fresh]))[0].keyVersion, 2, 'new values use the new version');
    assert.ok([1, 2].includes((await c.info(ns, [tok]))[0].keyVersion), 'version 1, or 2 once re-encrypted');
    await rejectsVault(c.rotateDataKey('nope'), 'NOT_FOUND');
    const st = await c.rotationStatus();
    assert.equal(st.kekVersion, 1);
    assert.deepEqual(st.proposals, []);
  });

  it('streams: thousands of values, in order, round trip', async () => {
    const N = 5000;
    async function* values() { // an async source, as a file reader would be
      for (const v of accounts(N, 700000)) yield v;
    }
    const tok = await collect(c.tokenizeStream('bank_account', values(), { batchSize: 250 }));
    assert.equal(tok.length, N);
    assert.ok(tok.every((r, i) => r.ok && r.index === i && r.text.length === 12));
    assert.deepEqual(tok.slice(0, 3).map((r) => r.text), await c.tokenize('bank_account', accounts(3, 700000)),
      'streams converge with Tokenize');
    const back = await collect(c.detokenizeStream('bank_account', tok.map((r) => r.text),
      { reveal: 'full', reason: 'bulk job' }));
    assert.deepEqual(back.map((r) => r.text), accounts(N, 700000));
    const masked = await collect(c.detokenizeStream('bank_account', tok.slice(0, 10).map((r) => r.text)));
    const ten = accounts(10, 700000);
    assert.ok(masked.every((r, i) => r.ok && r.text !== ten[i] && r.text.endsWith(ten[i].slice(-4))));
  });

  it('streams: per-item statuses and whole-call errors', async () => {
    const res = await collect(c.tokenizeStream('pan', ['4111111111111111', '4111111111111112', '5555555555554444'],
      { batchSize: 2 }));
    assert.deepEqual(res.map((r) => r.name), ['OK', 'FORMAT_LUHN', 'OK']);
    assert.deepEqual(res.map((r) => r.index), [0, 1, 2]);
    const err = await rejectsVault(collect(c.detokenizeStream('zz', ['1'])), ['NOT_FOUND', 'PERMISSION_DENIED']);
    assert.match(err.details, /'zz'/);
    await assert.rejects(collect(c.tokenizeStream('pan', ['4111111111111111', 7])), TypeError);
    assert.throws(() => c.tokenizeStream('pan', 42), TypeError);
  });

  it('streams: bounded in flight, early stop cancels', async () => {
    let pulled = 0;
    function* lazy() {
      for (let i = 0; i < 100000; i++) { pulled++; yield String(200000000000 + i); }
    }
    const it = c.tokenizeStream('bank_account', lazy(), { batchSize: 100, maxInFlight: 2 });
    let seen = 0;
    for await (const r of it) {
      assert.equal(r.ok, true);
      if (++seen === 150) break;
    }
    assert.ok(pulled <= 100 * (2 + 3), `input pulled lazily: ${pulled} of 100000 read for 150 results`);
    assert.equal(await c.health(), 'SERVING', 'the client is usable after an early stop');
  });

  it('streams: a deadline ends a stream that takes too long', async () => {
    function* forever() {
      for (let i = 0; ; i++) yield String(300000000000 + i);
    }
    const t0 = Date.now();
    let seen = 0;
    const err = await rejectsVault((async () => {
      for await (const r of c.tokenizeStream('bank_account', forever(), { batchSize: 10, deadlineMs: 1500 })) {
        assert.equal(r.ok, true);
        seen++;
        await new Promise((resolve) => setTimeout(resolve, 20)); // a slow consumer
      }
    })(), 'DEADLINE_EXCEEDED');
    assert.ok(seen > 0 && seen < 500, `results before the deadline: ${seen}`);
    assert.ok(Date.now() - t0 < 10000);
    assert.match(err.message, /deadline/);
  });

  it('option checks', () => {
    assert.throws(() => new tv.Client(DEV), /mutual TLS needs ca, cert and key/);
    assert.throws(() => new tv.Client(DEV, { ca: '/nonexistent/ca.crt', cert: 'x', key: 'y' }),
      /cannot read the CA file \/nonexistent\/ca.crt/);
    assert.throws(() => new tv.Client(DEV, { insecure: true, ca: 'x' }), /cannot be combined/);
    assert.throws(() => new tv.Client(DEV, { insecure: true, retries: -1 }), RangeError);
    assert.throws(() => new tv.Client(DEV, { insecure: true, protoDir: CERTS }), /not found in/);
  });
});

describe('retries (nobody listening)', () => {
  it('idempotent calls retry with exponential backoff, then UNAVAILABLE', async () => {
    const seen = [];
    const c = new tv.Client(CLOSED, {
      insecure: true, retries: 3, backoffMs: 50, onRetry: (r) => seen.push([r.method, r.attempt, r.delayMs]),
    });
    try {
      const t0 = Date.now();
      const err = await rejectsVault(c.detokenize('pan', ['4111111111111111']), 'UNAVAILABLE');
      assert.equal(err.attempts, 4);
      assert.deepEqual(seen, [['Detokenize', 1, 50], ['Detokenize', 2, 100], ['Detokenize', 3, 200]]);
      assert.ok(Date.now() - t0 >= 350, 'the backoff was waited');
      assert.match(err.message, /is the vault running/);
      seen.length = 0;
      const once = await rejectsVault(c.tokenize('pan', ['4111111111111111']), 'UNAVAILABLE');
      assert.equal(once.attempts, 1, 'Tokenize is not idempotent: no retry');
      assert.deepEqual(seen, []);
    } finally {
      c.close();
    }
  });

  it('backoff is capped by maxBackoffMs', async () => {
    const delays = [];
    const c = new tv.Client(CLOSED, { insecure: true, retries: 4, backoffMs: 10, maxBackoffMs: 30,
      onRetry: (r) => delays.push(r.delayMs) });
    try {
      await rejectsVault(c.whoami(), 'UNAVAILABLE');
      assert.deepEqual(delays, [10, 20, 30, 30]);
    } finally {
      c.close();
    }
  });
});

describe('mTLS vault', () => {
  let crm;
  before(() => { crm = new tv.Client(MTLS, tlsFiles('crm')); });
  after(() => crm.close());

  it('identity from the client certificate', async () => {
    const me = await crm.whoami();
    assert.equal(me.principal, 'spiffe://tokenvault/crm');
    assert.equal(me.authenticated, true);
    assert.equal(me.transportSecurity, 'tls');
    assert.equal(await crm.health(), 'SERVING');
  });

  it('round trip, masked vs full, streams', async () => {
    const tokens = await crm.tokenize('pan', PANS);
    assert.deepEqual(await crm.detokenize('pan', tokens, { reveal: 'full', reason: 'mtls' }), PANS);
    const masked = await crm.detokenize('pan', tokens, { reveal: 'masked' });
    assert.equal(masked[1], '555555******4444');
    const values = accounts(2000, 900000);
    const out = await collect(crm.tokenizeStream('bank_account', values));
    const back = await collect(crm.detokenizeStream('bank_account', out.map((r) => r.text),
      { reveal: 'full', reason: 'x' }));
    assert.deepEqual(back.map((r) => r.text), values);
  });

  it('a masked-only principal is refused a full reveal', async () => {
    let retries = 0;
    const viewer = new tv.Client(MTLS, { ...tlsFiles('viewer'), onRetry: () => { retries++; } });
    try {
      const tokens = await viewer.tokenize('pan', PANS.slice(0, 2));
      assert.deepEqual(await viewer.detokenize('pan', tokens, { reveal: 'masked' }),
        ['411111******1111', '555555******4444']);
      const err = await rejectsVault(viewer.detokenize('pan', tokens, { reveal: 'full', reason: 'curious' }),
        'PERMISSION_DENIED');
      assert.match(err.details, /detokenize:full/);
      assert.equal(err.attempts, 1);
      assert.equal(retries, 0, 'PERMISSION_DENIED is not retried');
      await rejectsVault(viewer.tokenize('iban', ['GB82WEST12345698765432']), 'PERMISSION_DENIED');
    } finally {
      viewer.close();
    }
  });

  it('KEK rotation needs two officers', async () => {
    const a = new tv.Client(MTLS, tlsFiles('officer-a'));
    const b = new tv.Client(MTLS, tlsFiles('officer-b'));
    try {
      const tokens = await a.tokenize('pan', PANS.slice(0, 2));
      const prop = await a.proposeKekRotation({ reason: 'annual' });
      assert.equal(prop.state, 'PENDING');
      assert.equal(prop.proposedBy, 'spiffe://tokenvault/officer-a');
      assert.equal(prop.reason, 'annual');
      const pending = await b.rotationStatus();
      assert.deepEqual(pending.proposals.map((p) => p.proposalId), [prop.proposalId]);
      const self = await rejectsVault(a.approveKekRotation(prop.proposalId), 'PERMISSION_DENIED');
      assert.match(self.details, /SAME_OFFICER/);
      await rejectsVault(b.approveKekRotation('999999'), 'NOT_FOUND');
      const done = await b.approveKekRotation(prop.proposalId);
      assert.deepEqual([done.state, done.approvedBy], ['APPROVED', 'spiffe://tokenvault/officer-b']);
      assert.equal((await a.rotationStatus()).kekVersion, 2);
      assert.deepEqual(await crm.detokenize('pan', tokens, { reveal: 'full', reason: 'after KEK' }), PANS.slice(0, 2));
    } finally {
      a.close();
      b.close();
    }
  });

  it('serverName and PEM buffers', async () => {
    const fs = require('node:fs');
    const files = tlsFiles('crm');
    const port = MTLS.split(':')[1];
    const byName = new tv.Client(`localhost:${port}`, {
      ca: fs.readFileSync(files.ca), cert: fs.readFileSync(files.cert), key: fs.readFileSync(files.key),
    });
    try {
      assert.equal((await byName.whoami()).principal, 'spiffe://tokenvault/crm');
    } finally {
      byName.close();
    }
    const wrong = new tv.Client(MTLS, { ...files, serverName: 'vault.invalid', retries: 0 });
    try { // the server certificate names 127.0.0.1 and localhost only
      await rejectsVault(wrong.whoami({ deadlineMs: 5000 }), 'UNAVAILABLE');
    } finally {
      wrong.close();
    }
    const right = new tv.Client(MTLS, { ...files, serverName: 'localhost' });
    try {
      assert.equal(await right.health(), 'SERVING');
    } finally {
      right.close();
    }
  });

  it('bad TLS gives a clear error', async () => {
    const cases = [
      ['server certificate from an unknown CA', { ...tlsFiles('crm'), ca: path.join(CERTS, 'rogue-ca.crt') }],
      ['client certificate from a foreign CA', tlsFiles('rogue')],
    ];
    for (const [what, files] of cases) {
      const c = new tv.Client(MTLS, { ...files, retries: 1, backoffMs: 10 });
      try {
        const err = await rejectsVault(c.whoami({ deadlineMs: 5000 }), 'UNAVAILABLE');
        assert.match(err.message, /CA, client certificate and key/, `${what}: ${err.message}`);
        assert.equal(err.attempts, 2, `${what}: retried once`);
      } finally {
        c.close();
      }
    }
    const plain = new tv.Client(MTLS, { insecure: true, retries: 0 });
    try {
      const err = await rejectsVault(plain.whoami({ deadlineMs: 5000 }), 'UNAVAILABLE');
      assert.match(err.message, /needs mutual TLS/);
    } finally {
      plain.close();
    }
    assert.throws(() => new tv.Client(MTLS, { ...tlsFiles('crm'), key: path.join(CERTS, 'missing.key') }),
      /cannot read the client key file .*missing\.key: ENOENT/);
  });
});

describe('the packed package', () => {
  it('finds the proto files it carries', async () => {
    const packed = require(path.join(process.env.TV_PACKED_CLIENT, 'lib'));
    assert.equal(packed.findProtoDir(), path.join(process.env.TV_PACKED_CLIENT, 'proto'));
    const c = new packed.Client(DEV, { insecure: true });
    try {
      const [tok] = await c.tokenize('pan', ['4111111111111111']);
      assert.equal((await c.detokenize('pan', [tok], { reveal: 'full', reason: 'packed' }))[0], '4111111111111111');
    } finally {
      c.close();
    }
  });
});
