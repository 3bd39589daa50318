'use strict';
// tokenvault.Client: promise-based calls over the vault's gRPC API
// (proto/tokenvault/v1/tokenvault.proto). Thin: no keys, no cryptography.

const crypto = require('crypto');
const fs = require('fs');
const grpc = require('@grpc/grpc-js');

const { ItemError, VaultError, RETRYABLE_CODES } = require('./errors');
const { loadServices } = require('./proto');
const { batchesOf, runStream } = require('./stream');

/** Items per request the server accepts at most (vault/service/limits.h). */
const SERVER_ITEMS_MAX = 1000;

const REVEAL = Object.freeze({ full: 'REVEAL_FULL', masked: 'REVEAL_MASKED', none: 'REVEAL_NONE' });

const DEFAULTS = Object.freeze({
  deadlineMs: 10000,
  retries: 3,
  backoffMs: 100,
  maxBackoffMs: 5000,
  batchSize: 500,
  maxInFlight: 4,
});

/**
 * Reads a PEM given as a path or as bytes.
 * @param {string|Buffer} source file path or PEM bytes.
 * @param {string} what which file, for the error message.
 * @returns {Buffer} the PEM bytes.
 * @throws {Error} naming the file when it cannot be read.
 */
function readPem(source, what) {
  if (Buffer.isBuffer(source)) return source;
  try {
    return fs.readFileSync(source);
  } catch (err) {
    throw new Error(`tokenvault: cannot read the ${what} file ${source}: ${err.code || err.message}`);
  }
}

/**
 * A fresh request id: 32 hex digits, echoed by the server and audited.
 * @returns {string}
 */
function newRequestId() {
  return crypto.randomUUID().replace(/-/g, '');
}

/**
 * Sleeps |ms| milliseconds.
 * @param {number} ms
 * @returns {Promise<void>}
 */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Checks that |n| is an integer in [lo, hi].
 * @param {string} name option name, for the error.
 * @param {number} n value.
 * @param {number} lo lowest allowed.
 * @param {number} hi highest allowed.
 * @returns {number} n.
 * @throws {RangeError} when it is not.
 */
function checkInt(name, n, lo, hi) {
  if (!Number.isInteger(n) || n < lo || n > hi) {
    throw new RangeError(`tokenvault: ${name} must be an integer in [${lo}, ${hi}], got ${n}`);
  }
  return n;
}

/**
 * Maps the caller's reveal level to the proto enum.
 * @param {string} reveal "full", "masked" or "none" (any case).
 * @returns {string} the enum name.
 * @throws {RangeError} for anything else.
 */
function revealEnum(reveal) {
  const e = REVEAL[String(reveal).toLowerCase()];
  if (!e) throw new RangeError(`tokenvault: reveal must be "full", "masked" or "none", got ${reveal}`);
  return e;
}

/**
 * Strips an enum prefix: "KEY_STATE_ACTIVE" -> "ACTIVE".
 * @param {string} value enum name from the server.
 * @param {string} prefix its prefix.
 * @returns {string}
 */
function stripPrefix(value, prefix) {
  return typeof value === 'string' && value.startsWith(prefix) ? value.slice(prefix.length) : String(value);
}

/**
 * One item's outcome as the public Result shape.
 * @param {any} status ItemStatus message.
 * @param {string} text token or value ("" on failure).
 * @param {number} index position in the caller's input.
 * @returns {import('../index').Result}
 */
function toResult(status, text, index) {
  const s = status || { code: 0, name: 'OK', message: '' };
  return { index, text, code: s.code, name: s.name, message: s.message, ok: s.code === 0 };
}

/**
 * Public shape of a DataKeyInfo.
 * @param {any} k DataKeyInfo message.
 * @returns {import('../index').DataKey}
 */
function toDataKey(k) {
  return {
    namespace: k.namespace,
    version: k.version,
    state: stripPrefix(k.state, 'KEY_STATE_'),
    createdAtMs: k.created_at_unix_ms,
    kekVersion: k.kek_version,
  };
}

/**
 * Public shape of a RotationProposal.
 * @param {any} p RotationProposal message.
 * @returns {import('../index').Proposal}
 */
function toProposal(p) {
  return {
    proposalId: p.proposal_id,
    proposedBy: p.proposed_by,
    approvedBy: p.approved_by,
    state: stripPrefix(p.state, 'PROPOSAL_STATE_'),
    proposedAtMs: p.proposed_at_unix_ms,
    expiresAtMs: p.expires_at_unix_ms,
    reason: p.reason,
  };
}

/**
 * Throws ItemError for the first failed result.
 * @param {import('../index').Result[]} results
 * @returns {string[]} every result's text when all succeeded.
 * @throws {ItemError}
 */
function textsOrThrow(results) {
  for (const r of results) {
    if (!r.ok) throw new ItemError(r.index, r.code, r.name, r.message);
  }
  return results.map((r) => r.text);
}

/** A connection to one vault. */
class Client {
  /**
   * @param {string} target "host:port".
   * @param {import('../index').ClientOptions} [options] TLS files (ca, cert,
   *   key: paths or PEM Buffers) for mutual TLS — the only mode a production
   *   vault accepts — or insecure: true for a --dev vault on loopback;
   *   deadlineMs per call, retries/backoffMs/maxBackoffMs for idempotent
   *   calls on UNAVAILABLE, batchSize (items per request), maxInFlight
   *   (stream batches unanswered at most), protoDir, serverName, onRetry.
   * @throws {Error|RangeError} for missing TLS files or out-of-range options.
   */
  constructor(target, options = {}) {
    if (typeof target !== 'string' || target === '') throw new TypeError('tokenvault: target must be "host:port"');
    const o = { ...DEFAULTS, ...options };
    this._deadlineMs = checkInt('deadlineMs', o.deadlineMs, 1, 2 ** 31);
    this._retries = checkInt('retries', o.retries, 0, 100);
    this._backoffMs = checkInt('backoffMs', o.backoffMs, 0, 600000);
    this._maxBackoffMs = checkInt('maxBackoffMs', o.maxBackoffMs, 0, 600000);
    this._batchSize = checkInt('batchSize', o.batchSize, 1, SERVER_ITEMS_MAX);
    this._maxInFlight = checkInt('maxInFlight', o.maxInFlight, 1, 1024);
    this._onRetry = typeof o.onRetry === 'function' ? o.onRetry : null;

    let creds;
    if (o.insecure) {
      if (o.ca || o.cert || o.key) throw new Error('tokenvault: insecure: true cannot be combined with TLS files');
      creds = grpc.credentials.createInsecure();
    } else {
      if (!(o.ca && o.cert && o.key)) {
        throw new Error('tokenvault: mutual TLS needs ca, cert and key (or insecure: true for a --dev vault)');
      }
      creds = grpc.credentials.createSsl(readPem(o.ca, 'CA'), readPem(o.key, 'client key'),
        readPem(o.cert, 'client certificate'));
    }
    this.secure = !o.insecure;
    const channelOptions = { ...(o.channelOptions || {}) };
    if (o.serverName) {
      channelOptions['grpc.ssl_target_name_override'] = o.serverName;
      channelOptions['grpc.default_authority'] = o.serverName;
    }
    const { TokenVault, Health } = loadServices(o.protoDir);
    this._stub = new TokenVault(target, creds, channelOptions);
    this._health = new Health(target, creds, { ...channelOptions, channelOverride: this._stub.getChannel() });
  }

  /**
   * Closes the connection; calls in progress fail with CANCELLED or UNAVAILABLE.
   * @returns {void}
   */
  close() {
    this._stub.close();
  }

  // -- plumbing ---------------------------------------------------------

  /**
   * One unary call, repeated with exponential backoff on UNAVAILABLE when
   * |idempotent|.
   * @param {any} stub grpc-js client.
   * @param {string} method method name on the stub.
   * @param {object} request request message.
   * @param {boolean} idempotent whether repeating it is safe.
   * @param {number} [deadlineMs] per-attempt deadline; the client's default when absent.
   * @returns {Promise<any>} the response message.
   * @throws {VaultError} when the call (every attempt) failed.
   */
  async _unary(stub, method, request, idempotent, deadlineMs) {
    const attempts = 1 + (idempotent ? this._retries : 0);
    const ms = deadlineMs === undefined ? this._deadlineMs : checkInt('deadlineMs', deadlineMs, 1, 2 ** 31);
    for (let attempt = 1; ; attempt++) {
      try {
        return await new Promise((resolve, reject) => {
          stub[method](request, { deadline: Date.now() + ms }, (err, resp) => (err ? reject(err) : resolve(resp)));
        });
      } catch (err) {
        if (typeof err.code !== 'number') throw err; // not a gRPC status: a bug or bad argument, as is
        const ve = VaultError.fromGrpc(err, this.secure);
        if (!RETRYABLE_CODES.includes(ve.code) || attempt >= attempts) {
          ve.attempts = attempt;
          throw ve;
        }
        const delayMs = Math.min(this._backoffMs * 2 ** (attempt - 1), this._maxBackoffMs);
        if (this._onRetry) this._onRetry({ method, attempt, delayMs, error: ve });
        await sleep(delayMs);
      }
    }
  }

  /**
   * Splits |items| into requests of at most batchSize and calls |method| for
   * each, in order.
   * @param {string} method method name.
   * @param {string[]} items values or tokens.
   * @param {(batch: string[], requestId: string) => object} makeRequest builds a request.
   * @param {(resp: any) => any[]} pick the per-item list of a response.
   * @param {boolean} idempotent see _unary.
   * @param {{requestId?: string, deadlineMs?: number}} opts
   * @returns {Promise<any[]>} the per-item messages, in input order.
   */
  async _batched(method, items, makeRequest, pick, idempotent, opts) {
    if (!Array.isArray(items)) throw new TypeError('tokenvault: items must be an array of strings');
    items.forEach((v, i) => {
      if (typeof v !== 'string') throw new TypeError(`tokenvault: item ${i} is not a string`);
    });
    const out = [];
    const batches = Math.ceil(items.length / this._batchSize); // none for no items: nothing to ask
    for (let b = 0; b < batches; b++) {
      const batch = items.slice(b * this._batchSize, (b + 1) * this._batchSize);
      const base = opts.requestId || newRequestId();
      const requestId = batches === 1 || !opts.requestId ? base : `${base}.${b}`;
      const resp = await this._unary(this._stub, method, makeRequest(batch, requestId), idempotent, opts.deadlineMs);
      const got = pick(resp);
      if (got.length !== batch.length) {
        throw new Error(`tokenvault: ${method} answered ${got.length} results for ${batch.length} items`);
      }
      out.push(...got);
    }
    return out;
  }

  /**
   * The expiry and metadata fields of a tokenize request.
   * @param {import('../index').TokenizeOptions} opts
   * @returns {object}
   */
  static _tokenizeExtras(opts) {
    const extra = { metadata: opts.metadata || {} };
    if (opts.ttlSeconds !== undefined && opts.expiresAtMs !== undefined) {
      throw new Error('tokenvault: give ttlSeconds or expiresAtMs, not both');
    }
    if (opts.ttlSeconds !== undefined) extra.ttl_seconds = checkInt('ttlSeconds', opts.ttlSeconds, 1, 2 ** 53);
    if (opts.expiresAtMs !== undefined) {
      extra.expires_at_unix_ms = checkInt('expiresAtMs', opts.expiresAtMs, 1, 2 ** 53);
    }
    return extra;
  }

  // -- data -------------------------------------------------------------

  /**
   * Tokenizes |values| in |namespace|: one Result per value, in order (the
   * token in `text` when `ok`). Large inputs are sent in batches of
   * batchSize. Not retried: outside a convergent namespace a repeat would
   * mint new tokens. Batches before a failed one have taken effect.
   * @param {string} namespace e.g. "pan".
   * @param {string[]} values
   * @param {import('../index').TokenizeOptions} [opts]
   * @returns {Promise<import('../index').Result[]>}
   * @throws {VaultError} when a whole call fails (unknown namespace, permission, ...).
   */
  async tokenizeItems(namespace, values, opts = {}) {
    const extra = Client._tokenizeExtras(opts);
    const raw = await this._batched('Tokenize', values,
      (batch, requestId) => ({ request_id: requestId, namespace, values: batch, ...extra }),
      (resp) => resp.results, false, opts);
    return raw.map((r, i) => toResult(r.status, r.token, i));
  }

  /**
   * Tokens for |values|, in order.
   * @param {string} namespace
   * @param {string[]} values
   * @param {import('../index').TokenizeOptions} [opts]
   * @returns {Promise<string[]>}
   * @throws {ItemError} for the first value that failed; {VaultError} as tokenizeItems.
   */
  async tokenize(namespace, values, opts = {}) {
    return textsOrThrow(await this.tokenizeItems(namespace, values, opts));
  }

  /**
   * Values for |tokens| at the reveal level: "full" (needs the
   * detokenize:full permission and, by policy, a reason — audited),
   * "masked" (the default: e.g. the last four digits of a PAN) or "none"
   * (only checks the token resolves). Retried on UNAVAILABLE.
   * @param {string} namespace
   * @param {string[]} tokens
   * @param {import('../index').DetokenizeOptions} [opts]
   * @returns {Promise<import('../index').Result[]>}
   * @throws {VaultError}
   */
  async detokenizeItems(namespace, tokens, opts = {}) {
    const reveal = revealEnum(opts.reveal || 'masked');
    const raw = await this._batched('Detokenize', tokens,
      (batch, requestId) => ({ request_id: requestId, namespace, tokens: batch, reveal, reason: opts.reason || '' }),
      (resp) => resp.results, true, opts);
    return raw.map((r, i) => toResult(r.status, r.value, i));
  }

  /**
   * Values for |tokens|, in order.
   * @param {string} namespace
   * @param {string[]} tokens
   * @param {import('../index').DetokenizeOptions} [opts]
   * @returns {Promise<string[]>}
   * @throws {ItemError} for the first token that failed; {VaultError} as detokenizeItems.
   */
  async detokenize(namespace, tokens, opts = {}) {
    return textsOrThrow(await this.detokenizeItems(namespace, tokens, opts));
  }

  /**
   * Bulk tokenisation over TokenizeStream: pulls |values| (any iterable or
   * async iterable of strings) lazily in batches of batchSize, keeps at most
   * maxInFlight batches unanswered, and yields one Result per value in
   * order. No deadline unless opts.deadlineMs; never retried. Stopping the
   * iteration early cancels the call.
   * @param {string} namespace
   * @param {Iterable<string>|AsyncIterable<string>} values
   * @param {import('../index').TokenizeStreamOptions} [opts]
   * @returns {AsyncGenerator<import('../index').Result>}
   * @throws {VaultError} (from the iterator) when the call fails.
   */
  tokenizeStream(namespace, values, opts = {}) {
    const extra = Client._tokenizeExtras(opts);
    const base = opts.requestId || newRequestId();
    return this._stream('TokenizeStream', values, opts,
      (batch, seq) => ({ request_id: `${base}.${seq}`.slice(-64), namespace, values: batch, ...extra }),
      (r, i) => toResult(r.status, r.token, i));
  }

  /**
   * Bulk detokenisation over DetokenizeStream; as tokenizeStream, with the
   * reveal level and reason of detokenizeItems.
   * @param {string} namespace
   * @param {Iterable<string>|AsyncIterable<string>} tokens
   * @param {import('../index').DetokenizeStreamOptions} [opts]
   * @returns {AsyncGenerator<import('../index').Result>}
   * @throws {VaultError} (from the iterator) when the call fails.
   */
  detokenizeStream(namespace, tokens, opts = {}) {
    const reveal = revealEnum(opts.reveal || 'masked');
    const base = opts.requestId || newRequestId();
    return this._stream('DetokenizeStream', tokens, opts,
      (batch, seq) => ({
        request_id: `${base}.${seq}`.slice(-64), namespace, tokens: batch, reveal, reason: opts.reason || '',
      }),
      (r, i) => toResult(r.status, r.value, i));
  }

  /**
   * Opens a streaming call and hands it to runStream.
   * @param {string} method TokenizeStream or DetokenizeStream.
   * @param {Iterable<string>|AsyncIterable<string>} items
   * @param {{batchSize?: number, maxInFlight?: number, deadlineMs?: number}} opts
   * @param {(batch: string[], seq: number) => object} makeRequest
   * @param {(item: any, index: number) => object} convert
   * @returns {AsyncGenerator<import('../index').Result>}
   */
  _stream(method, items, opts, makeRequest, convert) {
    if (items == null || (typeof items[Symbol.iterator] !== 'function' &&
        typeof items[Symbol.asyncIterator] !== 'function')) {
      throw new TypeError('tokenvault: stream input must be an iterable or async iterable of strings');
    }
    const size = opts.batchSize === undefined ? this._batchSize
      : checkInt('batchSize', opts.batchSize, 1, SERVER_ITEMS_MAX);
    const inFlight = opts.maxInFlight === undefined ? this._maxInFlight
      : checkInt('maxInFlight', opts.maxInFlight, 1, 1024);
    const callOpts = opts.deadlineMs === undefined ? {}
      : { deadline: Date.now() + checkInt('deadlineMs', opts.deadlineMs, 1, 2 ** 31) };
    const self = this;
    // Lazy: the call is opened when the caller starts iterating.
    return (async function* stream() {
      const call = self._stub[method](callOpts);
      yield* runStream(call, batchesOf(items, size), makeRequest, convert, inFlight, self.secure);
    }());
  }

  /**
   * Deletes |tokens|: one Result per token (ENGINE_NOT_FOUND for an unknown
   * one). Retried on UNAVAILABLE (deleting twice leaves the same state).
   * @param {string} namespace
   * @param {string[]} tokens
   * @param {{reason?: string, requestId?: string, deadlineMs?: number}} [opts]
   * @returns {Promise<import('../index').Result[]>}
   * @throws {VaultError}
   */
  async delete(namespace, tokens, opts = {}) {
    const raw = await this._batched('DeleteTokens', tokens,
      (batch, requestId) => ({ request_id: requestId, namespace, tokens: batch, reason: opts.reason || '' }),
      (resp) => resp.results, true, opts);
    return raw.map((s, i) => toResult(s, '', i));
  }

  /**
   * Right to erasure: removes every token of |value| in |namespace| and its
   * stored ciphertext. Retried on UNAVAILABLE (a repeat erases nothing more).
   * @param {string} namespace
   * @param {string} value the plaintext value.
   * @param {{reason?: string, requestId?: string, deadlineMs?: number}} [opts]
   * @returns {Promise<number>} how many tokens were erased.
   * @throws {VaultError}
   */
  async erase(namespace, value, opts = {}) {
    if (typeof value !== 'string') throw new TypeError('tokenvault: value must be a string');
    const resp = await this._unary(this._stub, 'EraseValue',
      { request_id: opts.requestId || newRequestId(), namespace, value, reason: opts.reason || '' },
      true, opts.deadlineMs);
    return resp.tokens_erased;
  }

  /**
   * What the vault knows about each token (never its value): status,
   * creation and expiry times, data key version, metadata.
   * @param {string} namespace
   * @param {string[]} tokens
   * @param {{requestId?: string, deadlineMs?: number}} [opts]
   * @returns {Promise<import('../index').TokenInfo[]>}
   * @throws {VaultError}
   */
  async info(namespace, tokens, opts = {}) {
    const raw = await this._batched('GetTokenInfo', tokens,
      (batch, requestId) => ({ request_id: requestId, namespace, tokens: batch }),
      (resp) => resp.results, true, opts);
    return raw.map((r, i) => ({
      ...toResult(r.status, '', i),
      createdAtMs: r.created_at_unix_ms,
      expiresAtMs: r.expires_at_unix_ms,
      keyVersion: r.key_version,
      metadata: { ...r.metadata },
    }));
  }

  // -- keys -------------------------------------------------------------

  /**
   * Data key versions of |namespace| ("" or absent: every namespace the
   * caller may read).
   * @param {string} [namespace]
   * @param {{requestId?: string, deadlineMs?: number}} [opts]
   * @returns {Promise<import('../index').DataKey[]>}
   * @throws {VaultError}
   */
  async listKeys(namespace = '', opts = {}) {
    const resp = await this._unary(this._stub, 'ListKeys',
      { request_id: opts.requestId || newRequestId(), namespace }, true, opts.deadlineMs);
    return resp.keys.map(toDataKey);
  }

  /**
   * Makes a new active data key version for |namespace|; older versions
   * become decrypt-only, so every token keeps resolving. Not retried.
   * @param {string} namespace
   * @param {{reason?: string, requestId?: string, deadlineMs?: number}} [opts]
   * @returns {Promise<import('../index').DataKey>} the new active version.
   * @throws {VaultError}
   */
  async rotateDataKey(namespace, opts = {}) {
    const resp = await this._unary(this._stub, 'RotateDataKey',
      { request_id: opts.requestId || newRequestId(), namespace, reason: opts.reason || '' }, false, opts.deadlineMs);
    return toDataKey(resp.key);
  }

  /**
   * Proposes a rotation of the HSM key-encryption key; a second, different
   * security officer must approve it. Not retried.
   * @param {{reason?: string, requestId?: string, deadlineMs?: number}} [opts]
   * @returns {Promise<import('../index').Proposal>}
   * @throws {VaultError}
   */
  async proposeKekRotation(opts = {}) {
    const resp = await this._unary(this._stub, 'ProposeKekRotation',
      { request_id: opts.requestId || newRequestId(), reason: opts.reason || '' }, false, opts.deadlineMs);
    return toProposal(resp.proposal);
  }

  /**
   * Approves proposal |proposalId| (PERMISSION_DENIED for its proposer).
   * Not retried.
   * @param {string} proposalId
   * @param {{requestId?: string, deadlineMs?: number}} [opts]
   * @returns {Promise<import('../index').Proposal>}
   * @throws {VaultError}
   */
  async approveKekRotation(proposalId, opts = {}) {
    const resp = await this._unary(this._stub, 'ApproveKekRotation',
      { request_id: opts.requestId || newRequestId(), proposal_id: String(proposalId) }, false, opts.deadlineMs);
    return toProposal(resp.proposal);
  }

  /**
   * Current KEK version, rewrap progress, and pending and recent proposals.
   * @param {{requestId?: string, deadlineMs?: number}} [opts]
   * @returns {Promise<import('../index').RotationStatus>}
   * @throws {VaultError}
   */
  async rotationStatus(opts = {}) {
    const resp = await this._unary(this._stub, 'GetRotationStatus',
      { request_id: opts.requestId || newRequestId() }, true, opts.deadlineMs);
    return {
      kekVersion: resp.kek_version,
      dataKeysPendingRewrap: resp.data_keys_pending_rewrap,
      proposals: resp.proposals.map(toProposal),
    };
  }

  // -- service ----------------------------------------------------------

  /**
   * The standard gRPC health check.
   * @param {string} [service] "" (the whole server) or "tokenvault.v1.TokenVault".
   * @param {{deadlineMs?: number}} [opts]
   * @returns {Promise<string>} "SERVING", "NOT_SERVING", ...
   * @throws {VaultError}
   */
  async health(service = '', opts = {}) {
    const resp = await this._unary(this._health, 'Check', { service }, true, opts.deadlineMs);
    return resp.status;
  }

  /**
   * Who the vault thinks the caller is (principal from the client
   * certificate) and its roles.
   * @param {{requestId?: string, deadlineMs?: number}} [opts]
   * @returns {Promise<import('../index').Identity>}
   * @throws {VaultError}
   */
  async whoami(opts = {}) {
    const resp = await this._unary(this._stub, 'WhoAmI', { request_id: opts.requestId || newRequestId() },
      true, opts.deadlineMs);
    return {
      principal: resp.principal,
      identitySource: resp.identity_source,
      authenticated: resp.authenticated,
      transportSecurity: resp.transport_security,
      roles: [...resp.roles],
    };
  }
}

module.exports = { Client, SERVER_ITEMS_MAX };
