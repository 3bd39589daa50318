"""Bulk (de)tokenisation over the bidirectional streaming methods, as a
generator of per-item results in input order.

Memory stays bounded whatever the input size: the input is pulled lazily
in batches, at most |window| batches are sent and not yet answered (gRPC
consumes the request iterator on its own thread, which waits here), and a
batch's answer is only taken when the caller asks for its items — a slow
consumer therefore stops the writer (the server, too, reads one message
only after answering the previous one)."""
import collections
import threading

import grpc

from tokenvault.errors import VaultError

_POLL_S = 0.1  # how often a waiting writer checks whether the call ended


def batches_of(items, size):
    """Groups an iterable of strings into lists of at most |size|."""
    batch = []
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise TypeError("tokenvault: item %d is not a string (%s)" % (index, type(item).__name__))
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Writer:
    """The request side: one message per batch, at most |window| unanswered."""

    def __init__(self, batches, make_request, window):
        self.sent = collections.deque()  # batches sent, oldest first
        self.failure = None              # an exception from the caller's input
        self.stopped = threading.Event()
        self.call = None
        self._slots = threading.Semaphore(window)
        self._batches = batches
        self._make_request = make_request

    def requests(self):
        seq = 0
        try:
            for batch in self._batches:
                while not self._slots.acquire(timeout=_POLL_S):
                    if self.stopped.is_set():
                        return
                if self.stopped.is_set():
                    return
                self.sent.append(batch)
                yield self._make_request(batch, seq)
                seq += 1
        except Exception as e:  # the caller's input failed: stop the call, report that error
            self.failure = e
            self.stopped.set()
            if self.call is not None:
                self.call.cancel()

    def answered(self):
        """The batch the next response answers; frees a slot."""
        batch = self.sent.popleft() if self.sent else None
        self._slots.release()
        return batch


def run_stream(method, batches, make_request, convert, window, secure, timeout):
    """Opens the stream |method| and yields convert(result, index, item) for
    every item, in order. Raises VaultError when the call fails (after the
    results that had arrived), the input's own error when reading it
    failed, and cancels the call when the caller stops early."""
    writer = _Writer(batches, make_request, window)
    call = method(writer.requests(), timeout=timeout)
    writer.call = call
    index = 0
    try:
        for resp in call:
            batch = writer.answered()
            if batch is None or len(resp.results) != len(batch):
                raise RuntimeError("tokenvault: stream answer has %d results for a batch of %s"
                                   % (len(resp.results), len(batch) if batch else "none"))
            for result, item in zip(resp.results, batch):
                yield convert(result, index, item)
                index += 1
        if writer.failure is not None:
            raise writer.failure
        if writer.sent:
            raise RuntimeError("tokenvault: stream ended before every batch was answered")
    except grpc.RpcError as e:
        if writer.failure is not None:
            raise writer.failure from None
        raise VaultError.from_rpc(e, secure) from None
    finally:
        writer.stopped.set()
        call.cancel()
