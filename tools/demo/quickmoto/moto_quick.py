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
"""

import functools
import sys
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

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
