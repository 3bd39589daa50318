'use strict';
// Errors the client throws. None of them ever carries a value or a token:
// the server's messages never contain one, and the client adds none.

const grpc = require('@grpc/grpc-js');

/** gRPC status number -> name ("UNAVAILABLE"), from grpc-js's own table. */
const GRPC_CODE_NAMES = Object.freeze(
  Object.fromEntries(Object.entries(grpc.status).map(([name, code]) => [code, name])));

/** Codes on which an idempotent call is repeated: the server was not reached
 * or went away, so repeating cannot double an effect the caller did not want. */
const RETRYABLE_CODES = Object.freeze([grpc.status.UNAVAILABLE]);

/**
 * The whole call failed (authentication, authorisation, limits, malformed
 * request, server unreachable). `code` is the gRPC status number, `codeName`
 * its name ("PERMISSION_DENIED"), `details` the server's explanation.
 */
class VaultError extends Error {
  /**
   * @param {number} code gRPC status number (grpc.status).
   * @param {string} details the server's message (or grpc-js's, for transport errors).
   * @param {import('@grpc/grpc-js').Metadata} [metadata] trailing metadata, if any.
   * @param {string} [hint] what the caller can do about it, appended to the message.
   */
  constructor(code, details, metadata, hint) {
    const codeName = GRPC_CODE_NAMES[code] || `CODE_${code}`;
    super(`${codeName}: ${details}${hint ? ` (${hint})` : ''}`);
    this.name = 'VaultError';
    this.code = code;
    this.codeName = codeName;
    this.details = details;
    this.metadata = metadata;
  }

  /**
   * Wraps a grpc-js ServiceError (or anything thrown while calling).
   * @param {any} err the error grpc-js passed to the callback or emitted.
   * @param {boolean} secure whether the channel uses TLS (for the hint).
   * @returns {VaultError}
   */
  static fromGrpc(err, secure) {
    if (err instanceof VaultError) return err;
    const code = typeof err.code === 'number' ? err.code : grpc.status.UNKNOWN;
    const details = typeof err.details === 'string' && err.details ? err.details : String(err.message || err);
    let hint;
    if (code === grpc.status.UNAVAILABLE) {
      hint = secure
        ? 'is the vault running at this target, and do the CA, client certificate and key match its PKI?'
        : 'is the vault running at this target? A non --dev vault needs mutual TLS';
    } else if (code === grpc.status.DEADLINE_EXCEEDED) {
      hint = 'the call took longer than its deadline; raise deadlineMs or use the streaming methods for bulk work';
    }
    return new VaultError(code, details, err.metadata, hint);
  }
}

/**
 * One item of a batch failed. `index` is its position in the caller's input,
 * `code` the vault's stable numeric status (204), `codeName` its stable
 * symbolic name ("FORMAT_LUHN"), `statusMessage` the server's explanation.
 */
class ItemError extends Error {
  /**
   * @param {number} index position of the item in the caller's input.
   * @param {number} code stable numeric status (tv_status).
   * @param {string} codeName stable symbolic name, e.g. "FORMAT_LUHN".
   * @param {string} statusMessage human-readable explanation; never holds the value.
   */
  constructor(index, code, codeName, statusMessage) {
    super(`item ${index}: ${codeName} (${code}): ${statusMessage}`);
    this.name = 'ItemError';
    this.index = index;
    this.code = code;
    this.codeName = codeName;
    this.statusMessage = statusMessage;
  }
}

module.exports = { VaultError, ItemError, GRPC_CODE_NAMES, RETRYABLE_CODES };
