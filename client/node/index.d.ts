// Type declarations for the tokenvault Node.js client (hand-written; the
// implementation is plain CommonJS in lib/). Nothing here ever carries a
// value or a token except Result.text.

/// <reference types="node" />

/** Options of a Client. Give ca, cert and key (mutual TLS), or insecure. */
export interface ClientOptions {
  /** CA certificate that signed the vault's server certificate: path or PEM bytes. */
  ca?: string | Buffer;
  /** This client's certificate (its identity, e.g. SAN URI spiffe://bank/crm): path or PEM. */
  cert?: string | Buffer;
  /** This client's private key: path or PEM. */
  key?: string | Buffer;
  /** Plaintext, for a `tokenvaultd --dev` vault on loopback only. */
  insecure?: boolean;
  /** Name to check the server certificate against when it differs from the target host. */
  serverName?: string;
  /** Deadline of each unary call attempt, in milliseconds. Default 10000. */
  deadlineMs?: number;
  /** Repeats of an idempotent call that failed with UNAVAILABLE. Default 3. */
  retries?: number;
  /** First backoff before a repeat; doubles each time. Default 100 ms. */
  backoffMs?: number;
  /** Cap on one backoff. Default 5000 ms. */
  maxBackoffMs?: number;
  /** Items per request; larger inputs are split. 1..1000, default 500. */
  batchSize?: number;
  /** Stream batches written and not yet consumed, at most. Default 4. */
  maxInFlight?: number;
  /** Directory holding tokenvault/v1/tokenvault.proto and grpc/health/v1/health.proto. */
  protoDir?: string;
  /** Called before each repeat of an idempotent call (logging, metrics). */
  onRetry?: (info: RetryInfo) => void;
  /** Extra grpc-js channel options. */
  channelOptions?: Record<string, string | number>;
}

export interface RetryInfo {
  /** gRPC method name, e.g. "Detokenize". */
  method: string;
  /** The attempt that failed, from 1. */
  attempt: number;
  /** How long the client waits before the next attempt. */
  delayMs: number;
  error: VaultError;
}

/** Options every call accepts. */
export interface CallOptions {
  /** Client-chosen id, echoed and audited (at most 64 printable ASCII bytes). */
  requestId?: string;
  /** Deadline of this call (each attempt), in milliseconds. */
  deadlineMs?: number;
}

export interface TokenizeOptions extends CallOptions {
  /** Tokens expire this many seconds from now. */
  ttlSeconds?: number;
  /** Tokens expire at this Unix time in milliseconds. */
  expiresAtMs?: number;
  /** Labels stored with each token; never personal data. */
  metadata?: Record<string, string>;
}

export type Reveal = 'full' | 'masked' | 'none';

export interface DetokenizeOptions extends CallOptions {
  /** Default "masked". "full" needs detokenize:full and usually a reason. */
  reveal?: Reveal;
  /** Why the caller needs the value; audited. */
  reason?: string;
}

export interface StreamOptions {
  batchSize?: number;
  maxInFlight?: number;
  /** Deadline of the whole stream; none by default. */
  deadlineMs?: number;
  /** Prefix of the per-batch request ids ("<id>.<batch>"). */
  requestId?: string;
}

export interface TokenizeStreamOptions extends StreamOptions {
  ttlSeconds?: number;
  expiresAtMs?: number;
  metadata?: Record<string, string>;
}

export interface DetokenizeStreamOptions extends StreamOptions {
  reveal?: Reveal;
  reason?: string;
}

export interface ReasonOptions extends CallOptions {
  reason?: string;
}

/** One item's outcome. */
export interface Result {
  /** Position of the item in the caller's input. */
  index: number;
  /** The token or value ("" when the item failed, or for reveal "none"). */
  text: string;
  /** Stable numeric status (tv_status); 0 = OK. */
  code: number;
  /** Stable symbolic name: "OK", "FORMAT_LUHN", "ENGINE_NOT_FOUND", ... */
  name: string;
  /** For humans; never contains the value. */
  message: string;
  ok: boolean;
}

export interface TokenInfo extends Result {
  createdAtMs: number;
  /** 0 = never. */
  expiresAtMs: number;
  /** Data key version that encrypted the value. */
  keyVersion: number;
  metadata: Record<string, string>;
}

export type KeyState = 'ACTIVE' | 'DECRYPT_ONLY' | 'RETIRED' | 'DESTROYED' | 'UNSPECIFIED';

export interface DataKey {
  namespace: string;
  version: number;
  state: KeyState;
  createdAtMs: number;
  /** Version of the HSM key that wraps it. */
  kekVersion: number;
}

export type ProposalState = 'PENDING' | 'APPROVED' | 'EXPIRED' | 'UNSPECIFIED';

export interface Proposal {
  proposalId: string;
  proposedBy: string;
  /** "" while pending. */
  approvedBy: string;
  state: ProposalState;
  proposedAtMs: number;
  expiresAtMs: number;
  reason: string;
}

export interface RotationStatus {
  kekVersion: number;
  dataKeysPendingRewrap: number;
  proposals: Proposal[];
}

export interface Identity {
  /** SAN URI, else SAN DNS, else CN of the client certificate; "" in --dev. */
  principal: string;
  identitySource: string;
  authenticated: boolean;
  /** "tls" or "insecure". */
  transportSecurity: string;
  roles: string[];
}

/** A connection to one vault. Every method returns a promise (streams: an async iterator). */
export class Client {
  /** @param target "host:port" */
  constructor(target: string, options?: ClientOptions);
  /** Whether the channel uses TLS. */
  readonly secure: boolean;
  close(): void;

  /** One Result per value, in order; not retried. */
  tokenizeItems(namespace: string, values: string[], opts?: TokenizeOptions): Promise<Result[]>;
  /** Tokens for values; rejects with ItemError for the first failed value. */
  tokenize(namespace: string, values: string[], opts?: TokenizeOptions): Promise<string[]>;
  /** One Result per token, in order; retried on UNAVAILABLE. */
  detokenizeItems(namespace: string, tokens: string[], opts?: DetokenizeOptions): Promise<Result[]>;
  /** Values for tokens; rejects with ItemError for the first failed token. */
  detokenize(namespace: string, tokens: string[], opts?: DetokenizeOptions): Promise<string[]>;
  /** Bulk tokenisation: one Result per value, in order, bounded memory. */
  tokenizeStream(namespace: string, values: Iterable<string> | AsyncIterable<string>,
    opts?: TokenizeStreamOptions): AsyncGenerator<Result, void, undefined>;
  /** Bulk detokenisation: one Result per token, in order, bounded memory. */
  detokenizeStream(namespace: string, tokens: Iterable<string> | AsyncIterable<string>,
    opts?: DetokenizeStreamOptions): AsyncGenerator<Result, void, undefined>;
  /** Deletes tokens; one Result per token. */
  delete(namespace: string, tokens: string[], opts?: ReasonOptions): Promise<Result[]>;
  /** Right to erasure: removes every token of value; resolves to how many. */
  erase(namespace: string, value: string, opts?: ReasonOptions): Promise<number>;
  /** What the vault knows about each token (never its value). */
  info(namespace: string, tokens: string[], opts?: CallOptions): Promise<TokenInfo[]>;

  listKeys(namespace?: string, opts?: CallOptions): Promise<DataKey[]>;
  /** Resolves to the new active version. */
  rotateDataKey(namespace: string, opts?: ReasonOptions): Promise<DataKey>;
  proposeKekRotation(opts?: ReasonOptions): Promise<Proposal>;
  approveKekRotation(proposalId: string, opts?: CallOptions): Promise<Proposal>;
  rotationStatus(opts?: CallOptions): Promise<RotationStatus>;

  /** "SERVING", "NOT_SERVING", ... */
  health(service?: string, opts?: { deadlineMs?: number }): Promise<string>;
  whoami(opts?: CallOptions): Promise<Identity>;
}

/** The whole call failed. */
export class VaultError extends Error {
  /** gRPC status number; compare with status.PERMISSION_DENIED etc. */
  readonly code: number;
  /** gRPC status name, e.g. "PERMISSION_DENIED". */
  readonly codeName: string;
  /** The server's explanation (grpc-js's for transport errors). */
  readonly details: string;
  readonly metadata?: unknown;
  /** How many attempts were made (set on errors from unary calls). */
  attempts?: number;
}

/** One item of a batch failed (thrown by tokenize/detokenize). */
export class ItemError extends Error {
  /** Position of the item in the caller's input. */
  readonly index: number;
  /** Stable numeric status, e.g. 204. */
  readonly code: number;
  /** Stable symbolic name, e.g. "FORMAT_LUHN". */
  readonly codeName: string;
  readonly statusMessage: string;
}

/** gRPC status numbers by name. */
export const status: Readonly<Record<string, number>>;

/** Items per request the server accepts at most. */
export const SERVER_ITEMS_MAX: number;

/** The directory the proto files are loaded from (see README). */
export function findProtoDir(protoDir?: string): string;
