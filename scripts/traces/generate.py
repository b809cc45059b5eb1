#!/usr/bin/env python3
"""Seeded synthetic invocation traces for `modeldeck simulate`: CSV lines `timestamp,endpoint,duration_ms`.

Shapes follow what Shahrad et al. report for Azure Functions ("Serverless in the Wild", USENIX ATC 2020):
most applications are invoked rarely (about half at most once an hour), timers make many of them
periodic, others come in bursts, and busy ones follow the day; execution times are skewed, roughly
log-normal, mostly under a second.

  rare      Poisson arrivals, one every --mean-gap (default 40m) on average
  periodic  one every --period (default 10m), each shifted by up to ±--jitter (default 30s)
  bursty    bursts of 1..--burst (default 6) concurrent requests, bursts --mean-gap apart (default 15m)
  diurnal   Poisson arrivals whose rate follows the day: --peak-rate per minute at 14:00 UTC, near zero at 02:00
  mix       many endpoints of all four shapes, merged in time order (use --lines for a large trace)

Examples:
  scripts/traces/generate.py periodic --hours 48 --seed 1 > fixtures/traces/periodic.csv
  scripts/traces/generate.py mix --lines 10000000 --seed 7 -o /tmp/trace-10m.csv
Python 3 standard library only; the same arguments and seed always give the same trace.
"""
import argparse
import heapq
import math
import random
import sys

START = 1_800_000_000  # 2027-01-15 08:00 UTC, a fixed epoch so traces are reproducible


def seconds(text):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    for unit in ("ms", "s", "m", "h", "d"):
        if text.endswith(unit) and text[: -len(unit)].replace(".", "", 1).isdigit():
            return float(text[: -len(unit)]) * units[unit]
    raise argparse.ArgumentTypeError(f"'{text}' is not a duration; use e.g. 30s, 10m, 2h")


def durations(rng, median_ms, sigma=0.6):
    mu = math.log(median_ms)
    while True:
        yield max(1, min(900_000, int(rng.lognormvariate(mu, sigma))))


def rare(rng, start, end, mean_gap):
    t = start + rng.expovariate(1 / mean_gap)
    while t < end:
        yield t
        t += rng.expovariate(1 / mean_gap)


def periodic(rng, start, end, period, jitter):
    k = 1
    phase = rng.uniform(0, period)
    while True:
        t = start + phase + (k - 1) * period + rng.uniform(-jitter, jitter)
        if t >= end:
            return
        if t >= start:
            yield t
        k += 1


def bursty(rng, start, end, mean_gap, burst):
    t = start + rng.expovariate(1 / mean_gap)
    while t < end:
        for _ in range(rng.randint(1, burst)):
            yield t + rng.uniform(0, 0.2)  # within 200 ms: concurrent
        t += 0.2 + rng.expovariate(1 / mean_gap)


def diurnal(rng, start, end, peak_rate):
    # Thinning (Lewis–Shedler): candidates at the peak rate, kept with probability rate(t) / peak.
    peak = peak_rate / 60
    t = start
    while True:
        t += rng.expovariate(peak)
        if t >= end:
            return
        hour = (t % 86400) / 3600
        level = 0.5 * (1 + math.cos((hour - 14) / 24 * 2 * math.pi))  # 1 at 14:00, 0 at 02:00
        if rng.random() < 0.02 + 0.98 * level:
            yield t


def endpoint_stream(shape, rng, name, start, end, args):
    if shape == "rare":
        times = rare(rng, start, end, args.mean_gap or 2400)
    elif shape == "periodic":
        times = periodic(rng, start, end, args.period, args.jitter)
    elif shape == "bursty":
        times = sorted(bursty(rng, start, end, args.mean_gap or 900, args.burst))
    else:
        times = diurnal(rng, start, end, args.peak_rate)
    lengths = durations(rng, args.median_ms)
    for t in times:
        yield (round(t, 3), name, next(lengths))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("shape", choices=["rare", "periodic", "bursty", "diurnal", "mix"])
    parser.add_argument("--hours", type=float, default=24)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--endpoint", default=None, help="endpoint name (default: the shape)")
    parser.add_argument("--mean-gap", type=seconds, default=None)
    parser.add_argument("--period", type=seconds, default=600)
    parser.add_argument("--jitter", type=seconds, default=30)
    parser.add_argument("--burst", type=int, default=6)
    parser.add_argument("--peak-rate", type=float, default=2.0, help="requests per minute at the daily peak")
    parser.add_argument("--median-ms", type=float, default=200)
    parser.add_argument("--lines", type=int, default=None, help="mix: stop after this many lines")
    parser.add_argument("-o", "--output", default="-")
    args = parser.parse_args()
    for name, value in (("--hours", args.hours), ("--burst", args.burst), ("--peak-rate", args.peak_rate),
                        ("--median-ms", args.median_ms), ("--period", args.period)):
        if value <= 0:
            parser.error(f"{name} must be above zero")

    rng = random.Random(args.seed)
    start = START
    if args.shape == "mix":
        # Enough endpoints and hours for --lines: a busy diurnal endpoint gives ~1,400 lines a day at 2/min peak.
        end = start + 3600 * (args.hours if args.lines is None else max(args.hours, 24 * 30))
        count = 40 if args.lines is None else max(40, args.lines // 10_000)
        streams = []
        for index in range(count):
            shape = ("rare", "periodic", "bursty", "diurnal")[index % 4]
            endpoint_rng = random.Random(rng.getrandbits(64))
            streams.append(endpoint_stream(shape, endpoint_rng, f"{shape}-{index}", start, end, args))
        lines = heapq.merge(*streams)
    else:
        end = start + args.hours * 3600
        lines = endpoint_stream(args.shape, rng, args.endpoint or args.shape, start, end, args)

    out = sys.stdout if args.output == "-" else open(args.output, "w")
    with out:
        out.write("timestamp,endpoint,duration_ms\n")
        written = 0
        for t, name, ms in lines:
            out.write(f"{t:.3f},{name},{ms}\n")
            written += 1
            if args.lines is not None and written >= args.lines:
                break
    if args.lines is not None and written < args.lines:
        print(f"only {written} lines in {args.hours} hours; raise --hours", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
