'use strict';
// Bulk (de)tokenisation over the bidirectional streaming methods, exposed as
// an async iterator of per-item results in input order.
//
// Memory stays bounded whatever the input size: the input is pulled lazily
// in batches, at most |maxInFlight| batches are written and not yet answered,
// and a batch's answer is only taken off the queue when the caller asks for
// its items — a slow consumer therefore stops the writer (the server, too,
// reads one message only after answering the previous one).

const { VaultError } = require('./errors');

/**
 * Groups an (async) iterable of strings into arrays of at most |size|.
 * @param {Iterable<string>|AsyncIterable<string>} items the caller's input.
 * @param {number} size items per batch, >= 1.
 * @returns {AsyncGenerator<string[]>} the batches, lazily.
 * @throws {TypeError} (from the generator) when an item is not a string.
 */
async function* batchesOf(items, size) {
  let batch = [];
  let index = 0;
  for await (const item of items) {
    if (typeof item !== 'string') throw new TypeError(`tokenvault: item ${index} is not a string`);
    index++;
    batch.push(item);
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/**
 * Runs one streaming call: writes one request per batch, yields each item of
 * each response, in order, as |convert(item, index)|.
 * @param {import('@grpc/grpc-js').ClientDuplexStream<any, any>} call the open call.
 * @param {AsyncIterable<string[]>} batches input batches.
 * @param {(batch: string[], seq: number) => object} makeRequest builds a request message.
 * @param {(item: any, index: number) => object} convert builds one public result.
 * @param {number} maxInFlight batches written and not yet consumed, >= 1.
 * @param {boolean} secure whether the channel uses TLS (for error hints).
 * @returns {AsyncGenerator<object>} the results; throws VaultError when the
 *   call fails (after yielding what had arrived), and cancels the call when
 *   the caller stops early.
 */
async function* runStream(call, batches, makeRequest, convert, maxInFlight, secure) {
  const expected = []; // item counts of the batches written, oldest first
  const responses = [];
  let ended = false;
  let failure = null;
  let stopped = false;
  let wakeReader = () => {};
  let wakeWriter = () => {};

  call.on('data', (resp) => { responses.push(resp); wakeReader(); });
  call.on('end', () => { ended = true; wakeReader(); });
  call.on('error', (err) => {
    if (!failure) failure = VaultError.fromGrpc(err, secure);
    ended = true;
    wakeReader();
  });

  /**
   * Writes the batches, waiting while maxInFlight are unanswered; ends the
   * sending side after the last one. Stops when the call ended or the
   * caller stopped iterating.
   * @returns {Promise<void>} rejects when the caller's input fails.
   */
  const pump = async () => {
    let seq = 0;
    for await (const batch of batches) {
      while (expected.length >= maxInFlight && !stopped && !ended) {
        await new Promise((resolve) => { wakeWriter = resolve; });
      }
      if (stopped || ended) return;
      expected.push(batch.length);
      call.write(makeRequest(batch, seq++));
    }
    if (!stopped && !ended) call.end();
  };
  pump().catch((err) => { // the caller's input failed: stop the call, report that error
    if (!failure) failure = err;
    ended = true;
    call.cancel();
    wakeReader();
  });

  let index = 0;
  try {
    for (;;) {
      while (responses.length === 0 && !ended) {
        await new Promise((resolve) => { wakeReader = resolve; });
      }
      if (responses.length > 0) {
        const resp = responses.shift();
        const count = expected.shift();
        wakeWriter();
        if (count === undefined || resp.results.length !== count) {
          throw new Error(`tokenvault: stream answer has ${resp.results.length} results for a batch of ${count}`);
        }
        for (const item of resp.results) yield convert(item, index++);
        continue;
      }
      if (failure) throw failure;
      if (expected.length > 0) throw new Error('tokenvault: stream ended before every batch was answered');
      return;
    }
  } finally {
    stopped = true;
    wakeWriter();
    if (!ended) call.cancel();
  }
}

module.exports = { batchesOf, runStream };
