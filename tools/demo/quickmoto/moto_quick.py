"""moto server with two of its hot spots made cheap, for rollwave's benchmarks only.

The demo starts this instead of .venv/bin/moto_server with --quick-moto, which the rollout
benchmark sets (tools/demo/bench_test.go); every test runs moto as released.

Why: profiled with py-spy (--gil) during the 200-host rollout benchmark, moto spent about 70 % of
its CPU reading the clock and 14 % building JSONPath parsers, and fell minutes behind the fleet:
  - SQS reads the time through moto.core.utils.unix_time, which builds two datetimes and imports
    datetime.UTC on every call. It does so twice per message whenever it counts a queue's
    messages, and it counts them (three times) for each message it receives and each it sends,
    to read one static attribute (Queue.attributes): a queue of a few hundred jobs costs
    thousands of clock reads per call.
  - EventBridge builds a new JSONPath parser (PLY tables) for each of the eight paths of its
    default input template, for every event it delivers to a queue.

Neither change alters what moto answers: unix_time() without an argument is time.time(), the same
instant; a JSONPath expression is parsed once per distinct text and reused (find does not change
it).

A third change makes SQS answer what SQS would under load: moto serves requests in threads, and its
SQS changes a queue's messages without a lock (a delete rebuilds the list from a copy; a receive
iterates sets that other requests change). In 1,000-host rollouts it lost acknowledged deletes and
sends (a deleted message came back two minutes later; a sent one never arrived) and failed
receives after counting them. Here every SQS call holds one lock, released while a long poll
waits, so that the calls take turns, as they do anyway on moto's one core (Python's GIL).
"""

import functools
import sys
import threading
import time

import jsonpath_ng.ext
import moto.core.utils
import moto.sqs.models
from moto.server import main

_unix_time = moto.core.utils.unix_time


def unix_time(dt=None):
    return time.time() if dt is None else _unix_time(dt)


def unix_time_millis(dt=None):
    return unix_time(dt) * 1000.0


moto.sqs.models.unix_time = unix_time
moto.sqs.models.unix_time_millis = unix_time_millis
jsonpath_ng.ext.parse = functools.lru_cache(maxsize=256)(jsonpath_ng.ext.parse)

_sqs_lock = threading.RLock()


def _locked(f):
    @functools.wraps(f)
    def call(*args, **kwargs):
        with _sqs_lock:
            return f(*args, **kwargs)

    return call


for _name in (
    "create_queue", "get_queue_url", "list_queues", "get_queue", "delete_queue",
    "get_queue_attributes", "set_queue_attributes", "send_message", "send_message_batch",
    "receive_message", "delete_message", "delete_message_batch", "change_message_visibility",
    "change_message_visibility_batch", "purge_queue", "list_dead_letter_source_queues",
    "tag_queue", "untag_queue", "list_queue_tags",
):
    setattr(moto.sqs.models.SQSBackend, _name, _locked(getattr(moto.sqs.models.SQSBackend, _name)))

_wait_for_messages = moto.sqs.models.Queue.wait_for_messages


def wait_for_messages(self, timeout):
    # A long poll waits without the lock, for the sends that end its wait (receive_message holds
    # it once: it is never called under another SQS call).
    _sqs_lock.release()
    try:
        _wait_for_messages(self, timeout)
    finally:
        _sqs_lock.acquire()


moto.sqs.models.Queue.wait_for_messages = wait_for_messages

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
