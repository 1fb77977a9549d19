#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""bench/demo_vs_bench.py - does `make demo` agree with `make bench`?

  bench/demo_vs_bench.py DEMO_JSON [RESULTS_JSON]

The demo (scripts/demo-vm, perf kernel) runs the phases of make bench's
pool section on the same disk, victim and aggressor, one round each. For
every phase both have, this prints the demo's victim p99 and p99.9 over
alone beside the bench's median and spread (min-max over its rounds, to
the two decimals both print), and whether the demo's falls within it,
give or take what fio can resolve: fio reports a percentile as the
bucket of its latency histogram it falls in, 1/64 of a power of two
wide (16.4 us between 1 and 2 ms, 32.8 us between 2 and 4 ms), and a
ratio X / A is off by up to one bucket of X and one of A (about 0.016
for X and A near 2 ms).
Then the direction: for every pair of phases whose p99.9 spreads in the
bench do not overlap, whether the demo orders them the same way.

RESULTS_JSON defaults to bench/results/results.json beside this script.
Exit status: 0 when the two are comparable (whatever they show), 1 when
they are not (another sizing, flavour or phase length: then it says
which), 2 on unreadable input.
"""
import json
import os
import sys

# demo.json key -> bench config key: what must be equal to compare.
SAME = [
    ("completion_ns", "POOL_COMPLETION_NS"),
    ("hw_queue_depth", "POOL_DEPTH"),
    ("victim_iops", "POOL_VICTIM_IOPS"),
    ("aggressor_qd", "POOL_AGG_QD"),
    ("limit_iops", "POOL_STATIC"),
    ("pool_reserve", "POOL_RESERVE"),
    ("latency_target_us", "POOL_TARGET_US"),
    ("phase_s", "POOL_SECS"),
]
RATIOS = [("p99_over_alone", "victim_p99_ms", "p99 x"),
          ("p999_over_alone", "victim_p999_ms", "p99.9 x")]


def r2(v):
    return round(v, 2)


def fio_bucket_ms(ms):
    """Width of fio's latency histogram bucket holding @ms (ns buckets,
    FIO_IO_U_PLAT_BITS 6: exact below 128 ns, then 64 per power of 2)."""
    ns = int(ms * 1e6)
    if ns < 128:
        return 1e-6
    return 2 ** (ns.bit_length() - 1 - 6) / 1e6


def mismatch(demo, bench):
    cfg = bench.get("config", {})
    why = []
    fl = bench.get("meta", {}).get("flavour")
    if demo.get("flavour") != fl:
        why.append(f"flavour {demo.get('flavour')} vs {fl}")
    for dk, bk in SAME:
        try:
            same = float(demo[dk]) == float(cfg[bk])
        except (KeyError, TypeError, ValueError):
            same = False
        if not same:
            why.append(f"{dk} {demo.get(dk)} vs {bk} {cfg.get(bk)}")
    return why


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    rpath = argv[2] if len(argv) == 3 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "results", "results.json")
    try:
        with open(argv[1]) as f:
            demo = json.load(f)
        with open(rpath) as f:
            bench = json.load(f)
        bph = bench["pool"]["phases"]
        dph = {r["phase"]: r for r in demo["phases"]}
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"demo vs make bench: cannot read the results: {e}")
        return 2
    why = mismatch(demo, bench)
    if why:
        print("demo vs make bench: not comparable: " + ", ".join(why))
        return 1
    meta = bench.get("meta", {})
    nr = bench.get("config", {}).get("ROUNDS", "?")
    print(f"demo vs make bench ({os.path.relpath(rpath)}: {nr} rounds, "
          f"seed {meta.get('seed')}), victim latency over alone; "
          "\"in\": within the bench's spread, give or take fio's "
          "histogram resolution:")
    phases = [p for p in dph if p != "alone" and p in bph]
    alone = dph.get("alone", {})
    inside = total = 0
    for p in phases:
        cells = []
        for k, mk, name in RATIOS:
            d, b = dph[p].get(k), bph[p].get(k)
            if d is None or not isinstance(b, dict):
                continue
            ms, ams = dph[p].get(mk), alone.get(mk)
            tol = (fio_bucket_ms(ms) + ms / ams * fio_bucket_ms(ams)) \
                / ams if ms and ams else 0
            ok = r2(b["min"]) - tol <= r2(d) <= r2(b["max"]) + tol
            total += 1
            inside += ok
            cells.append(f"{name} {r2(d):.2f} vs {r2(b['median']):.2f} "
                         f"({r2(b['min']):.2f}-{r2(b['max']):.2f}) "
                         f"{'in' if ok else 'OUT'}")
        print(f"  {dph[p].get('label', p)[:50]:50}  " + "   ".join(cells))
    # Direction: pairs the bench separates (disjoint p99.9 spreads).
    pairs = same = 0
    wrong = []
    rng = {p: bph[p]["p999_over_alone"] for p in phases
           if isinstance(bph[p].get("p999_over_alone"), dict)
           and dph[p].get("p999_over_alone") is not None}
    names = sorted(rng)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            ra, rb = rng[a], rng[b]
            if r2(ra["max"]) < r2(rb["min"]):
                lo, hi = a, b
            elif r2(rb["max"]) < r2(ra["min"]):
                lo, hi = b, a
            else:
                continue
            pairs += 1
            if dph[lo]["p999_over_alone"] < dph[hi]["p999_over_alone"]:
                same += 1
            else:
                wrong.append(f"{lo} < {hi}")
    print(f"demo vs make bench: {inside} of {total} ratios within the "
          f"bench's spread; p99.9 order as in the bench in {same} of "
          f"{pairs} pairs it separates"
          + (f" (not: {', '.join(wrong)})" if wrong else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
