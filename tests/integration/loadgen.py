"""Load clients for the crash, backup and full-store tests: devices that
keep an outbox, push batches of new zones, remember which batch was acked
when, and resend unacked batches with the same ids (protocol/PROTOCOL.md).

Not a test file (run.py collects test_*.py only).

    c = OutboxClient(srv, token, "t03", ops_per_batch=2, pace=0.05)
    c.start(); ...; c.stop(); c.join()
    c.batches     {bid: [ops]}            every batch ever made
    c.acked       {bid: (monotonic s, dup)} first ack seen
    c.nondup      {bid: number of dup:false acks seen}   (exactly once: <= 1)
    c.pending()   bids made and not acked yet
    c.flush(deadline)  resend pending batches until all are acked
    pull_all(srv, token) -> ({(c, id): fields}, duplicates, store id)
"""
import os
import threading
import time

from harness import batch, op, sync

SITE = "s1"


class OutboxClient(threading.Thread):
    """A device pushing batches of new zone records in a loop.

    Unacked batches (connection errors, 429, 503, per-batch UNAVAILABLE)
    stay in the outbox and go out again, same batch id, before new work.
    """

    def __init__(self, srv, token, name, ops_per_batch=2, pace=0.05,
                 per_request=4, max_batches=None):
        super().__init__(daemon=True, name="outbox-" + name)
        self.srv, self.token, self.tag = srv, token, name
        self.ops_per_batch, self.pace = ops_per_batch, pace
        self.per_request = per_request
        self.max_batches = max_batches
        self.batches = {}
        self.order = []
        self.acked = {}
        self.nondup = {}
        self.unavailable = 0   # per-batch UNAVAILABLE acks seen
        self.errors = []       # things that must never happen
        self.requests = 0
        self._n = 0
        self._halt = threading.Event()
        self._mu = threading.Lock()

    # -- outbox
    def new_batch(self):
        with self._mu:
            bid = os.urandom(16)
            ops = []
            for _ in range(self.ops_per_batch):
                self._n += 1
                ops.append(op("zone", "%s-%06d" % (self.tag, self._n),
                              {"site": SITE, "name": "%s %d" % (self.tag,
                                                                self._n)}))
            self.batches[bid] = ops
            self.order.append(bid)
            return bid

    def pending(self):
        with self._mu:
            return [b for b in self.order if b not in self.acked]

    def send(self, bids, timeout=5):
        """One request carrying these batches; records the acks.  Returns
        the number acked by it (0 on any whole-request failure)."""
        body = [batch(self.batches[b], bid=b) for b in bids]
        self.requests += 1
        try:
            r = sync(self.srv, self.token, push=body, timeout=timeout)
        except Exception:
            return 0   # connection refused/reset: the server is down
        if r.status != 200 or not isinstance(r.body, dict):
            return 0   # 429, 503 ...: nothing of it was applied
        acks = r.body.get("acks") or []
        if len(acks) != len(bids):
            self.errors.append("%d batches sent, %d acks: %r"
                               % (len(bids), len(acks), r.body))
            return 0
        got, now = 0, time.monotonic()
        with self._mu:
            for b, a in zip(bids, acks):
                n = len(self.batches[b])
                if a.get("batch") != b:
                    self.errors.append("ack for another batch: %r" % a)
                elif a.get("err") == "UNAVAILABLE":
                    self.unavailable += 1
                    if a.get("applied") != 0 or a.get("dup"):
                        self.errors.append("UNAVAILABLE with work: %r" % a)
                elif a.get("err") or a.get("rej") or a.get("applied") != n:
                    self.errors.append("batch not fully applied: %r" % a)
                else:
                    if not a.get("dup"):
                        self.nondup[b] = self.nondup.get(b, 0) + 1
                    if b not in self.acked:
                        self.acked[b] = (now, bool(a.get("dup")))
                        got += 1
        return got

    # -- the loop
    def run(self):
        while not self._halt.is_set():
            pend = self.pending()
            if pend:
                bids = pend[:self.per_request]
            elif self.max_batches is not None and \
                    len(self.order) >= self.max_batches:
                break
            else:
                bids = [self.new_batch()]
            if not self.send(bids):
                self._halt.wait(0.02)
            self._halt.wait(self.pace)

    def stop(self):
        self._halt.set()

    def flush(self, deadline, chunk=32):
        """Resend every pending batch (same ids) until all are acked or
        the monotonic deadline passes.  Returns the pending left."""
        while time.monotonic() < deadline:
            pend = self.pending()
            if not pend:
                return []
            if not self.send(pend[:chunk], timeout=10):
                time.sleep(0.05)
        return self.pending()


def pull_all(srv, token, limit=10000, pages=200):
    """Every record the token may pull, paging all buckets.
    Returns ({(c, id): fields}, [(c, id) seen twice], store id)."""
    recs, dups, cursors, store = {}, [], {}, None
    for _ in range(pages):
        r = sync(srv, token, pull=cursors, limit=limit, timeout=30)
        assert r.status == 200 and isinstance(r.body, dict), \
            "pull: expected 200, got %r" % r
        store = r.body.get("store")
        more = False
        for name, b in (r.body.get("buckets") or {}).items():
            for rec in b.get("recs", []):
                k = (rec["c"], rec["id"])
                if k in recs:
                    dups.append(k)
                recs[k] = rec["f"]
            for c, i in b.get("gone", []):
                recs.pop((c, i), None)
            cursors[name] = b["cursor"]
            more = more or bool(b.get("more"))
        if not more:
            return recs, dups, store
    raise AssertionError("pull did not end in %d pages" % pages)
