#!/usr/bin/env python3
"""Cold-start bursts against a running local gateway (`modeldeck serve` or `modeldeck daemon`).

Each round sends CONCURRENCY requests at once to an endpoint whose instances have scaled to zero (give it
a short idle_timeout and max_instances >= CONCURRENCY), then waits for them to scale to zero again.
Prints how many requests failed (with each distinct error) and the cold and warm latency percentiles
the gateway reported through X-ModelDeck-Cold-Start.

    python3 scripts/bench/cold-start-burst.py --port 8765 --endpoint sentiment --rounds 60 --concurrency 8 --idle 1.6
"""
import argparse
import collections
import json
import threading
import time
import urllib.error
import urllib.request


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--endpoint", default="sentiment")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--idle", type=float, default=1.6, help="seconds between rounds (longer than the idle timeout)")
    args = parser.parse_args()

    url = f"http://127.0.0.1:{args.port}/endpoints/{args.endpoint}/invoke"
    failures = collections.Counter()
    latencies = {"cold": [], "warm": []}
    lock = threading.Lock()

    def one():
        request = urllib.request.Request(url, data=json.dumps({"text": "great"}).encode(),
                                         headers={"Content-Type": "application/json"})
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                kind = "cold" if response.headers.get("X-ModelDeck-Cold-Start") == "true" else "warm"
                response.read()
                with lock:
                    latencies[kind].append((time.monotonic() - started) * 1000)
        except urllib.error.HTTPError as error:
            with lock:
                failures[f"{error.code} {error.read().decode(errors='replace')[:200]}"] += 1
        except OSError as error:
            with lock:
                failures[str(error)] += 1

    for _ in range(args.rounds):
        threads = [threading.Thread(target=one) for _ in range(args.concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        time.sleep(args.idle)

    total = args.rounds * args.concurrency
    print(f"{total} requests in {args.rounds} rounds of {args.concurrency}: {sum(failures.values())} failed")
    for message, count in failures.most_common():
        print(f"  {count} × {message}")
    for kind, values in latencies.items():
        if values:
            values.sort()
            pick = lambda p: values[min(len(values) - 1, int(p / 100 * len(values)))]
            print(f"{kind}: n={len(values)} p50={pick(50):.0f} ms p95={pick(95):.0f} ms p99={pick(99):.0f} ms")


if __name__ == "__main__":
    main()
