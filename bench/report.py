#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""bench/report.py - the results of `make bench`, and the README's table.

  bench/report.py RAW OUTDIR
      Summarise scripts/bench-vm's raw output. RAW is the directory
      bench-vm wrote (fio JSON and logs per section, case and round);
      OUTDIR gets results.json (every per-round value, medians, spread,
      ratios, targets), results.md (the tables, rendered from results.json
      alone) and, when gnuplot is installed, ccdf.png (the victim's
      latency CCDF per isolation phase) and aggressor.png (the aggressor's
      IOPS over time with the limit drawn in). Medians over rounds; spread
      is min..max over rounds.

  bench/report.py --readme README [--results RESULTS_JSON] [--check]
      The benchmark table of README (between the "bench-table" markers)
      rendered from RESULTS_JSON (default: bench/results/results.json next
      to this script). Without --check, README is rewritten (make bench
      does this); with --check, nothing is written and the exit status is
      1, with a diff, if README's table is not exactly what results.json
      gives (make check runs this, selftests/test_bench_readme.sh), and 0
      if it is. --check also compares results.md with results.json. The
      same for README's L2 line (between the "bench-l2" markers) and
      l2.json beside RESULTS_JSON, when that file exists (scripts/bench-l2,
      make bench-l2).

Every figure the README quotes comes from results.json, so a hand-edited
one fails the check.
"""
import difflib
import glob
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import time


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def rounds_of(pattern):
    """{round: path} for files whose name has .r<N>. in it."""
    out = {}
    for p in glob.glob(pattern):
        m = re.search(r"(?:^|\.)r(\d+)\.", os.path.basename(p))
        if m:
            out[int(m.group(1))] = p
    return dict(sorted(out.items()))


def read_stats(js, job=None):
    """The read stats of JOB (default: the first job) of a fio JSON."""
    if not js:
        return None
    jobs = js.get("jobs", [])
    if job is not None:
        jobs = [j for j in jobs if j.get("jobname") == job]
    if not jobs:
        return None
    r = jobs[0]["read"]
    # Total latency (submission to completion), see bench/lib.sh.
    pct = r.get("lat_ns", {}).get("percentile") or r.get("clat_ns", {}).get("percentile", {})

    def p(k):
        v = pct.get(k)
        return v / 1e6 if v is not None else None

    return {
        "iops": r["iops"],
        "bw_bytes": r["bw_bytes"],
        "io_bytes": r["io_bytes"],
        "ios": r["total_ios"],
        "runtime_ms": r["runtime"],
        "p50_ms": p("50.000000"),
        "p99_ms": p("99.000000"),
        "p999_ms": p("99.900000"),
        "mean_ms": r.get("lat_ns", {}).get("mean", 0) / 1e6,
    }


def summ(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals),
            "max": max(vals), "n": len(vals), "values": vals}


def med(s):
    return s["median"] if s else None


def ratio(a, b):
    return a / b if a is not None and b else None


def read_log(path):
    """fio log: [(time_ms, value)]."""
    rows = []
    try:
        with open(path) as f:
            for line in f:
                parts = [x.strip() for x in line.split(",")]
                if len(parts) >= 2:
                    rows.append((int(parts[0]), float(parts[1])))
    except OSError:
        pass
    return rows


def windows_within(rows, target, tol, runtime_ms):
    """Share of full 1 s windows within tol of target. fio stamps each
    averaged entry at the end of its window, counting from the end of the
    ramp; an entry less than 900 ms after the previous one, or after the
    job's runtime, covers a partial window and is left out."""
    full, prev = [], 0
    for t, v in rows:
        if t - prev >= 900 and t <= runtime_ms + 100:
            full.append(v)
        prev = t
    if not full:
        return None, 0, []
    ok = sum(1 for v in full if abs(v - target) <= tol * target)
    return ok / len(full), len(full), full


def full_windows(rows, ms, runtime_ms):
    """The values of an averaged fio log (log_avg_msec=MS) that cover a
    full window: as windows_within() does for 1 s ones."""
    full, prev = [], 0
    for t, v in rows:
        if t - prev >= 0.9 * ms and t <= runtime_ms + ms / 10:
            full.append(v)
        prev = t
    return full


def throttled(d, job, r):
    """Requests of JOB in round R that the limiter held: the difference
    of throttled_reqs in the throttle_stats copies bench-vm saved before
    (.ts0) and after (.ts1) the job; None when they are missing."""
    vals = []
    for suf in ("ts0", "ts1"):
        try:
            with open(os.path.join(d, f"{job}.r{r}.{suf}")) as f:
                st = dict(line.split() for line in f if line.strip())
            vals.append(int(st["throttled_reqs"]))
        except (OSError, ValueError, KeyError):
            return None
    return vals[1] - vals[0]


def fmt(v, nd=2):
    if v is None:
        return "n/a"
    if isinstance(v, int) or (abs(v) >= 100 and nd <= 2):
        return f"{v:.0f}"
    return f"{v:.{nd}f}"


def fspread(s, nd=2):
    if not s:
        return "n/a"
    if s["n"] == 1:
        return fmt(s["median"], nd)
    return f"{fmt(s['median'], nd)} ({fmt(s['min'], nd)}–{fmt(s['max'], nd)})"


def compute(raw):
    """Everything results.json holds, from bench-vm's raw output."""
    meta = load(os.path.join(raw, "meta.json")) or {}
    cfg = dict(re.findall(r"^(\w+)=(.*)$", meta.get("config", ""), re.M))
    cfg = {k: v.strip("'\"") for k, v in cfg.items()}
    res = {"meta": meta, "config": cfg}

    # --- datapath ------------------------------------------------------
    qd = cfg.get("DP_QD", "32")
    dp = {}
    dpr = {r: load(p) for r, p in rounds_of(os.path.join(raw, "dp", "r*.json")).items()}
    targets_run = cfg.get("DP_TARGETS", "raw sim vqos-blk vqos-vqos").split()
    for t in targets_run:
        hi = [read_stats(js, f"{t}-qd{qd}") for js in dpr.values()]
        lo = [read_stats(js, f"{t}-qd1") for js in dpr.values()]
        hi = [x for x in hi if x]
        lo = [x for x in lo if x]
        if not hi and not lo:
            continue
        dp[t] = {
            f"qd{qd}_iops": summ([s["iops"] for s in hi]),
            "qd1_iops": summ([s["iops"] for s in lo]),
            "qd1_p50_us": summ([s["p50_ms"] * 1000 for s in lo if s["p50_ms"]]),
            "qd1_p99_us": summ([s["p99_ms"] * 1000 for s in lo if s["p99_ms"]]),
        }
    res["datapath"] = dp

    def dpm(t, k=f"qd{qd}_iops"):
        return med(dp.get(t, {}).get(k))

    # --- isolation -----------------------------------------------------
    iso = {}
    phases = cfg.get("ISO_PHASES", "alone noqos vqos iomax").split()
    for ph in phases:
        d = os.path.join(raw, "iso", ph)
        js = {r: load(p) for r, p in rounds_of(f"{d}/r*.json").items()}
        v = {r: read_stats(j, "victim") for r, j in js.items()}
        a = {r: read_stats(j, "aggressor") for r, j in js.items()}
        # The aggressor's 100 ms windows (fio's averaged IOPS log), all
        # rounds: how evenly a limit paces it.
        win = []
        for r, s_ in a.items():
            logs = glob.glob(os.path.join(d, f"r{r}.aggressor_iops.*.log"))
            if s_ and logs:
                win += full_windows(read_log(logs[0]), 100, s_["runtime_ms"])
        iso[ph] = {
            "victim_p50_ms": summ([s["p50_ms"] for s in v.values() if s]),
            "victim_p99_ms": summ([s["p99_ms"] for s in v.values() if s]),
            "victim_p999_ms": summ([s["p999_ms"] for s in v.values() if s]),
            "victim_samples": summ([s["ios"] for s in v.values() if s]),
            "aggressor_iops": summ([s["iops"] for s in a.values() if s]),
            "aggressor_100ms_iops": ({"min": min(win), "max": max(win), "n": len(win)}
                                     if win else None),
        }
    res["isolation"] = iso

    def isom(ph, k="victim_p999_ms"):
        return med(iso.get(ph, {}).get(k))

    # --- precision -----------------------------------------------------
    prec = {}
    pd = os.path.join(raw, "prec")
    il, bl = float(cfg.get("PREC_IOPS_LIMIT", 1000)), float(cfg.get("PREC_BPS_LIMIT", 8388608))
    pj = {r: load(p) for r, p in rounds_of(f"{pd}/r*.json").items()}
    for kind, lim, logsuf, scale in (("iops", il, "_iops", 1.0), ("bps", bl, "_bw", 1024.0)):
        ach, share, nwin = [], [], []
        for r, js in pj.items():
            s = read_stats(js, kind)
            if not s:
                continue
            # fio's runtime includes draining the requests still queued
            # when the time is up, which the limiter paces too: bytes
            # count them, total_ios (and so fio's iops) does not.
            if kind == "iops":
                rate = s["io_bytes"] / 4096 / (s["runtime_ms"] / 1000)
            else:
                rate = s["bw_bytes"]
            ach.append(rate / lim)
            logs = glob.glob(f"{pd}/{kind}.r{r}{logsuf}.*.log")
            rows = [(t, v * scale) for t, v in read_log(logs[0])] if logs else []
            sh, n, _ = windows_within(rows, lim, 0.05, s["runtime_ms"])
            if sh is not None:
                share.append(sh)
                nwin.append(n)
        prec[kind] = {"limit": lim, "achieved_over_limit": summ(ach),
                      "windows_within_5pct": summ(share), "windows_per_round": nwin}
    blw = {"limit": cfg.get("PREC_BELOW_LIMIT"), "iops": cfg.get("PREC_BELOW_IOPS"),
          "shallow_burst": cfg.get("PREC_BELOW_SHALLOW")}
    off = [read_stats(js, "below-off") for js in pj.values()]
    for case in ("off", "on", "shallow"):
        st = [read_stats(js, f"below-{case}") for js in pj.values()]
        held = [throttled(pd, f"below-{case}", r) for r in pj]
        blw[case] = {
            "p99_ms": summ([s["p99_ms"] for s in st if s]),
            "p999_ms": summ([s["p999_ms"] for s in st if s]),
            "samples": summ([s["ios"] for s in st if s]),
            "throttled_reqs": summ(held),
        }
        if case != "off":
            blw[case]["p999_over_off"] = summ([ratio(a["p999_ms"], b["p999_ms"])
                                              for a, b in zip(st, off) if a and b])
    prec["below_limit"] = blw
    prec["hol"] = compute_hol(pj, cfg)
    res["precision"] = prec

    # --- costs ----------------------------------------------------------
    cd = os.path.join(raw, "cost")
    cost = {}
    cj = {r: load(p) for r, p in rounds_of(f"{cd}/r*.json").items()}
    offr = {r: read_stats(js, "off") for r, js in cj.items()}
    for k in ("qos", "bpf", "nopool"):
        onr = {r: read_stats(js, k) for r, js in cj.items()}
        cost[k] = {
            "iops": summ([s["iops"] for s in onr.values() if s]),
            "ratio_to_off": summ([ratio(onr[r]["iops"], offr[r]["iops"])
                                  for r in onr if onr[r] and offr.get(r)]),
        }
    cost["off"] = {"iops": summ([s["iops"] for s in offr.values() if s])}
    res["cost"] = cost

    # --- targets (issue #7) ------------------------------------------------
    def tgt(name, value, ok):
        return {"target": name, "value": value,
                "met": None if value is None else bool(ok(value))}

    targets = [
        tgt("vqos IOPS / raw null_blk >= 0.5 (virtio-blk personality)",
            ratio(dpm("vqos-blk"), dpm("raw")), lambda v: v >= 0.5),
        tgt("vqos IOPS / vdpa_sim_blk >= 1.0 (virtio-blk personality)",
            ratio(dpm("vqos-blk"), dpm("sim")), lambda v: v >= 1.0),
        tgt("vqos IOPS / raw null_blk >= 0.5 (vqos personality + virtio_vqos)",
            ratio(dpm("vqos-vqos"), dpm("raw")), lambda v: v >= 0.5),
        tgt("vqos IOPS / vdpa_sim_blk >= 1.0 (vqos personality + virtio_vqos)",
            ratio(dpm("vqos-vqos"), dpm("sim")), lambda v: v >= 1.0),
        tgt("victim p99.9 with aggressor + vqos QoS / alone <= 2.0",
            ratio(isom("vqos"), isom("alone")), lambda v: v <= 2.0),
        tgt("victim p99.9 without QoS / with vqos QoS >= 3",
            ratio(isom("noqos"), isom("vqos")), lambda v: v >= 3),
        tgt("victim p99.9 with vqos QoS / with io.max <= 1",
            ratio(isom("vqos"), isom("iomax")), lambda v: v <= 1.0),
        tgt("victim p99.9 with vqos QoS / with io.max on the aggressor's guest disk <= 1",
            ratio(isom("vqos"), isom("iomax-guest")), lambda v: v <= 1.0),
        tgt("achieved / configured IOPS within ±2 %",
            med(prec["iops"]["achieved_over_limit"]), lambda v: abs(v - 1) <= 0.02),
        tgt("achieved / configured bytes/s within ±2 %",
            med(prec["bps"]["achieved_over_limit"]), lambda v: abs(v - 1) <= 0.02),
        tgt(">= 99 % of 1 s windows within ±5 % (IOPS)",
            med(prec["iops"]["windows_within_5pct"]), lambda v: v >= 0.99),
        tgt(">= 99 % of 1 s windows within ±5 % (bytes/s)",
            med(prec["bps"]["windows_within_5pct"]), lambda v: v >= 0.99),
        tgt("below-limit guest p99.9 with QoS / without <= 1.1 (default bucket, 100 ms)",
            med(prec["below_limit"]["on"]["p999_over_off"]), lambda v: v <= 1.1),
        tgt("IOPS with QoS at an unreachable limit / without >= 0.98",
            med(cost["qos"]["ratio_to_off"]), lambda v: v >= 0.98),
        tgt("IOPS with the BPF histograms / without >= 0.97",
            med(cost["bpf"]["ratio_to_off"]), lambda v: v >= 0.97),
    ]
    res["targets"] = targets

    res["pool"] = compute_pool(raw, cfg)
    res["poolcpu"] = compute_poolcpu(raw, cfg)
    res["flood"] = compute_flood(raw)
    res["targets_pools"] = pool_targets(res)
    return res


def agg_stats(js):
    """The aggressors of a fio JSON (jobs named aggressor*), summed."""
    if not js:
        return None
    jobs = [j for j in js.get("jobs", []) if j.get("jobname", "").startswith("aggressor")]
    if not jobs:
        return None
    return {"iops": sum(j["read"]["iops"] for j in jobs), "jobs": len(jobs)}


def rsumm(d):
    """summ() of a {round: value} dict's values."""
    return summ(list(d.values()))


def pool_phases(cfg):
    return cfg.get("POOL_PHASES", "").split()


def pool_capacity(cfg):
    try:
        return int(cfg["POOL_DEPTH"]) * 1e9 / int(cfg["POOL_COMPLETION_NS"])
    except (KeyError, ValueError, ZeroDivisionError):
        return None


def read_kv(path):
    """A "name value" file (pool stats) as a dict of numbers."""
    out = {}
    try:
        with open(path) as f:
            for line in f:
                k, _, v = line.strip().partition(" ")
                try:
                    out[k] = float(v)
                except ValueError:
                    pass
    except OSError:
        pass
    return out


def idle_delta(f0, f1):
    """CPU ticks and context switches of the workers listed in the two
    snapshots (pid utime stime voluntary nonvoluntary), summed: what they
    did in between."""
    def rd(p):
        out = {}
        try:
            with open(p) as f:
                for line in f:
                    x = line.split()
                    if len(x) == 5:
                        out[x[0]] = [int(v) for v in x[1:]]
        except (OSError, ValueError):
            return None
        return out
    a, b = rd(f0), rd(f1)
    if a is None or b is None or not a:
        return None
    ticks = sw = 0
    for pid, v in a.items():
        w = b.get(pid)
        if w is None:
            continue
        ticks += (w[0] + w[1]) - (v[0] + v[1])
        sw += (w[2] + w[3]) - (v[2] + v[3])
    return {"workers": len(a), "cpu_ticks": ticks, "switches": sw}


def compute_pool(raw, cfg):
    """Issue #15's phases on the pool disk: the victim's latency, the
    aggressors' IOPS, per round, and ratios to the victim alone per round
    (so that the spread of a ratio is over rounds)."""
    cap = pool_capacity(cfg)
    per = {}
    for ph in pool_phases(cfg):
        d = os.path.join(raw, "pool", ph)
        js = {r: load(p) for r, p in rounds_of(f"{d}/r*.json").items()}
        if not js:
            continue
        v = {r: read_stats(j, "victim") for r, j in js.items()}
        v = {r: s_ for r, s_ in v.items() if s_}
        a = {r: agg_stats(j) for r, j in js.items()}
        a = {r: s_ for r, s_ in a.items() if s_}
        win = []
        for r in a:
            logs = glob.glob(os.path.join(d, f"r{r}.aggressor_iops.*.log"))
            if logs and v.get(r):
                win += full_windows(read_log(logs[0]), 100, v[r]["runtime_ms"] + 1000)
        idle = {r: idle_delta(os.path.join(d, f"r{r}.idle0"), os.path.join(d, f"r{r}.idle1"))
                for r in js}
        idle = {r: x for r, x in idle.items() if x}
        pst = {}
        for r in js:
            s0 = read_kv(os.path.join(d, f"r{r}.pool0"))
            s1 = read_kv(os.path.join(d, f"r{r}.pool1"))
            if s0 and s1:
                pst[r] = {k: s1[k] - s0.get(k, 0) for k in
                          ("waits", "deferred", "grants", "pv_waits", "pv_ios",
                           "pv_latency_windows", "pv_latency_missed") if k in s1}
        per[ph] = {"v": v, "a": a, "win": win, "idle": idle, "pool": pst}
    base = per.get("alone", {}).get("v", {})
    out = {"capacity_iops": cap, "phases": {}}
    for ph, e in per.items():
        v, a = e["v"], e["a"]
        ent = {
            "victim_p50_ms": rsumm({r: s_["p50_ms"] for r, s_ in v.items()}),
            "victim_p99_ms": rsumm({r: s_["p99_ms"] for r, s_ in v.items()}),
            "victim_p999_ms": rsumm({r: s_["p999_ms"] for r, s_ in v.items()}),
            "victim_samples": rsumm({r: s_["ios"] for r, s_ in v.items()}),
            "victim_iops": rsumm({r: s_["iops"] for r, s_ in v.items()}),
            "aggressor_iops": rsumm({r: s_["iops"] for r, s_ in a.items()}),
            "aggressors": max((s_["jobs"] for s_ in a.values()), default=0),
            "aggressor_100ms_iops": ({"min": min(e["win"]), "max": max(e["win"]),
                                      "n": len(e["win"])} if e["win"] else None),
        }
        for k in ("p99", "p999"):
            ent[f"{k}_over_alone"] = summ([ratio(v[r][f"{k}_ms"], base[r][f"{k}_ms"])
                                           for r in v if r in base])
        if cap and a:
            # Work conservation: what the aggressors got of what the
            # victim left, per round.
            ent["aggressor_over_left"] = summ([
                ratio(a[r]["iops"], cap - v[r]["iops"]) for r in a if r in v])
        if e["idle"]:
            ent["idle_workers"] = {
                "workers": max(x["workers"] for x in e["idle"].values()),
                "switches": sum(x["switches"] for x in e["idle"].values()),
                "cpu_ticks": sum(x["cpu_ticks"] for x in e["idle"].values())}
        if e["pool"]:
            keys = set().union(*[x.keys() for x in e["pool"].values()])
            ent["pool_counters"] = {k: summ([x.get(k) for x in e["pool"].values()])
                                    for k in sorted(keys)}
        out["phases"][ph] = ent
    # The vqos victim against the peers', per round.
    for m in ("reserve", "target"):
        for peer in ("iolatency", "iocost"):
            pv, pp = per.get(m, {}).get("v", {}), per.get(peer, {}).get("v", {})
            if m in out["phases"]:
                out["phases"][m][f"p999_over_{peer}"] = summ(
                    [ratio(pv[r]["p999_ms"], pp[r]["p999_ms"]) for r in pv if r in pp])
    return out if per else None


def compute_poolcpu(raw, cfg):
    """IOPS at QD32 (instructions per I/O: 10^9 / IOPS under icount) with
    N devices on one pool, on and off, and the idle workers meanwhile."""
    d = os.path.join(raw, "poolcpu")
    js = {r: load(p) for r, p in rounds_of(f"{d}/r*.json").items()}
    if not js:
        return None
    ns = [int(n) for n in cfg.get("POOLCPU_NS", "1 8 64").split()]
    out = {"n": ns, "on": {}, "off": {}, "on_over_first": {}, "on_over_off": {}}
    for n in ns:
        on = {r: read_stats(j, f"pool-{n}") for r, j in js.items()}
        off = {r: read_stats(j, f"nopool-{n}") for r, j in js.items()}
        out["on"][str(n)] = summ([s_["iops"] for s_ in on.values() if s_])
        out["off"][str(n)] = summ([s_["iops"] for s_ in off.values() if s_])
        first = {r: read_stats(j, f"pool-{ns[0]}") for r, j in js.items()}
        out["on_over_first"][str(n)] = summ([ratio(on[r]["iops"], first[r]["iops"])
                                             for r in on if on[r] and first.get(r)])
        out["on_over_off"][str(n)] = summ([ratio(on[r]["iops"], off[r]["iops"])
                                           for r in on if on[r] and off.get(r)])
    idle = [idle_delta(os.path.join(d, f"idle.r{r}.0"), os.path.join(d, f"idle.r{r}.1"))
            for r in js]
    idle = [x for x in idle if x]
    out["idle"] = ({"workers": max(x["workers"] for x in idle),
                    "switches": summ([x["switches"] for x in idle]),
                    "cpu_ticks": summ([x["cpu_ticks"] for x in idle])} if idle else None)
    return out


def compute_flood(raw):
    """A device's IOPS alone and beside a flooding device, per backing."""
    d = os.path.join(raw, "flood")
    js = {r: load(p) for r, p in rounds_of(f"{d}/r*.json").items()}
    if not js:
        return None
    out = {}
    for k in ("disk", "cpu"):
        al = {r: read_stats(j, f"{k}-alone") for r, j in js.items()}
        fl = {r: read_stats(j, f"{k}-flood") for r, j in js.items()}
        fj = {r: [x for x in j.get("jobs", []) if x.get("jobname") == f"flood-{k}"]
              for r, j in js.items() if j}
        out[k] = {
            "alone_iops": summ([s_["iops"] for s_ in al.values() if s_]),
            "flood_iops": summ([s_["iops"] for s_ in fl.values() if s_]),
            "ratio": summ([ratio(fl[r]["iops"], al[r]["iops"])
                           for r in al if al[r] and fl.get(r)]),
            "flooder_iops": summ([sum(x["read"]["iops"] for x in v) for v in fj.values() if v]),
        }
    return out


def compute_hol(pj, cfg):
    """The reader under bps_read_limit alone and beside the held writer."""
    try:
        lim = float(cfg["HOL_READ_BPS"])
    except (KeyError, ValueError):
        return None
    al = [read_stats(js, "hol-alone") for js in pj.values()]
    mx = [read_stats(js, "hol-mixed") for js in pj.values()]
    wr = []
    for js in pj.values():
        for j in (js or {}).get("jobs", []):
            if j.get("jobname") == "hol-writer":
                wr.append(j["write"]["iops"])
    if not any(al) and not any(mx):
        return None
    return {"read_limit": lim, "write_limit": float(cfg.get("HOL_WRITE_IOPS", 0)),
            "alone_over_limit": summ([s_["bw_bytes"] / lim for s_ in al if s_]),
            "beside_writer_over_limit": summ([s_["bw_bytes"] / lim for s_ in mx if s_]),
            "writer_iops": summ(wr)}


def pool_targets(res):
    """The targets of issue #15 (and #13 item 11), each with its spread
    over the rounds where there is one."""
    pool = (res.get("pool") or {}).get("phases", {})
    pc, fl = res.get("poolcpu") or {}, res.get("flood") or {}
    hol = (res.get("precision") or {}).get("hol") or {}
    cost = res.get("cost", {})

    def tgt(name, s_, ok):
        v = med(s_) if isinstance(s_, dict) else s_
        return {"target": name, "value": v, "spread": s_ if isinstance(s_, dict) else None,
                "met": None if v is None else bool(ok(v))}

    def ph(p, k):
        return pool.get(p, {}).get(k)

    t = []
    for m, label in (("reserve", "reservation"), ("target", "latency target"),
                     ("scale", f"reservation, {ph('scale', 'aggressors') or '?'} aggressors")):
        t += [tgt(f"victim p99 / alone <= 1.2, aggressor unlimited (pool, {label})",
                  ph(m, "p99_over_alone"), lambda v: v <= 1.2),
              tgt(f"victim p99.9 / alone <= 1.5, aggressor unlimited (pool, {label})",
                  ph(m, "p999_over_alone"), lambda v: v <= 1.5),
              tgt(f"aggressor IOPS / (capacity - victim IOPS) >= 0.85 (pool, {label})",
                  ph(m, "aggressor_over_left"), lambda v: v >= 0.85)]
    t.append(tgt("victim alone on the pool / no pool, p99.9 <= 1.05",
                 ph("alone-pool", "p999_over_alone"), lambda v: v <= 1.05))
    for m, label in (("reserve", "reservation"), ("target", "latency target")):
        for peer, pl in (("iolatency", "io.latency"), ("iocost", "io.cost")):
            t.append(tgt(f"victim p99.9, pool ({label}) / {pl} peer's <= 0.5",
                         ph(m, f"p999_over_{peer}"), lambda v: v <= 0.5))
    for n in (pc.get("n") or [])[1:]:
        t.append(tgt(f"IOPS at QD32 with {n} devices on one pool / with {pc['n'][0]} within ±10 %",
                     (pc.get("on_over_first") or {}).get(str(n)), lambda v: abs(v - 1) <= 0.10))
    idle = pc.get("idle") or {}
    t.append(tgt("idle devices' workers woken while another device runs (context switches) = 0",
                 idle.get("switches"), lambda v: v == 0))
    # The cost section's run, or else poolcpu's with one device: the same
    # measurement (QD32 on one device, null_blk irqmode=0, pool on / off).
    one = ((cost.get("nopool") or {}).get("ratio_to_off") and
           summ([1 / x for x in cost["nopool"]["ratio_to_off"]["values"] if x]))
    if not one:
        one = (pc.get("on_over_off") or {}).get("1")
    t.append(tgt("IOPS of one device, pools on / off >= 0.98", one, lambda v: v >= 0.98))
    t.append(tgt("read rate beside a write-limited writer / its limit >= 0.99",
                 hol.get("beside_writer_over_limit"), lambda v: v >= 0.99))
    t.append(tgt("IOPS beside a device flooding 512 B reads / alone >= 0.95 (disk-bound)",
                 (fl.get("disk") or {}).get("ratio"), lambda v: v >= 0.95))
    return t


def iso_phases(res):
    """The isolation phases, in the order they were configured."""
    phases = res["config"].get("ISO_PHASES", "alone noqos vqos iomax").split()
    return [ph for ph in phases if ph in res["isolation"]]


def phase_names(cfg):
    lim = cfg.get("ISO_LIMIT", "")
    return {"alone": "victim alone", "noqos": "+ aggressor, no QoS",
            "vqos": f"+ aggressor, vqos iops_limit {lim}",
            "iomax": f"+ aggressor on the plain disk (a host process), cgroup io.max riops={lim}",
            "iomax-guest": f"+ aggressor on its guest disk (the vqos path), cgroup io.max riops={lim} there",
            "plain": "+ aggressor on the plain disk, no limit"}


def order_line(meta):
    """How the jobs were ordered in the rounds (bench-vm's seed)."""
    if meta.get("seed") is None:
        return ("Jobs in a fixed order in every round (this run predates the "
                "randomised order).")
    return (f"Jobs in a random order within each round, seed {meta['seed']} "
            f"(`make bench BENCH_ARGS=SEED={meta['seed']}` repeats it).")


def render_md(res, plots):
    """results.md, from results.json alone (and the plots made)."""
    meta, cfg = res["meta"], res["config"]
    dp, iso, prec, cost, targets = (res["datapath"], res["isolation"],
                                    res["precision"], res["cost"], res["targets"])
    qd = cfg.get("DP_QD", "32")
    il, bl = prec["iops"]["limit"], prec["bps"]["limit"]
    phases = iso_phases(res)
    pn = phase_names(cfg)

    def dpm(t, k=f"qd{qd}_iops"):
        return med(dp.get(t, {}).get(k))

    def isom(ph, k="victim_p999_ms"):
        return med(iso.get(ph, {}).get(k))

    nrounds = cfg.get("ROUNDS", "?")
    L = []
    L.append(f"# vqos benchmark results\n")
    L.append(f"Kernel `{meta.get('kernel', '?')}` ({meta.get('flavour', '?')} flavour), "
             f"{meta.get('vcpus', '?')} vCPU under QEMU TCG with icount (virtual time: "
             f"1 instruction = 1 ns, idle time skipped), {meta.get('fio', 'fio')}. "
             f"Medians of {nrounds} interleaved rounds in one boot, (min–max) over the rounds. "
             f"{order_line(meta)}\n")
    if meta.get("flavour") == "debug":
        L.append("**This is the debug kernel** (KASAN, lockdep, UBSAN, kmemleak): every "
                 "instruction of the I/O path costs several times what it would on a "
                 "production kernel, and the emulated CPU is not a real one. Compare the rows "
                 "with each other, not with hardware.\n")
    L.append(f"## Datapath: 4k random read\n")
    L.append(f"| target | QD{qd} IOPS | QD1 IOPS | QD1 p50 µs | QD1 p99 µs | QD{qd} / raw | QD{qd} / vdpa_sim_blk |")
    L.append("| --- | --- | --- | --- | --- | --- | --- |")
    names = {"raw": "raw null_blk (irqmode=0)", "sim": "vdpa_sim_blk + virtio_blk",
             "vqos-blk": "vqos `virtio-blk` + virtio_blk", "vqos-vqos": "vqos `vqos` + virtio_vqos"}
    for t in ("raw", "sim", "vqos-blk", "vqos-vqos"):
        if t not in dp:
            continue
        e = dp[t]
        L.append(f"| {names[t]} | {fspread(e[f'qd{qd}_iops'])} | {fspread(e['qd1_iops'])} | "
                 f"{fspread(e['qd1_p50_us'], 1)} | {fspread(e['qd1_p99_us'], 1)} | "
                 f"{fmt(ratio(dpm(t), dpm('raw')))} | {fmt(ratio(dpm(t), dpm('sim')))} |")
    L.append("")
    L.append("## Isolation: victim latency (fio lat: submission to completion, ms)\n")
    L.append(f"null_blk irqmode=2, {int(cfg.get('ISO_COMPLETION_NS', 2000000)) / 1e6:g} ms × depth "
             f"{cfg.get('ISO_DEPTH', '4')} = {int(cfg.get('ISO_DEPTH', 4)) * 1e9 / int(cfg.get('ISO_COMPLETION_NS', 2000000)):.0f} IOPS; "
             f"victim Poisson {cfg.get('ISO_VICTIM_IOPS', '?')} IOPS QD4, aggressor QD{cfg.get('ISO_AGG_QD', '?')}, "
             f"limit {cfg.get('ISO_LIMIT', '?')} IOPS, {cfg.get('ISO_SECS', '?')} s per phase.\n")
    L.append("| phase | p50 | p99 | p99.9 | p99.9 / alone | victim samples | aggressor IOPS | aggressor per 100 ms |")
    L.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for ph in phases:
        e = iso[ph]
        w = e.get("aggressor_100ms_iops")
        L.append(f"| {pn.get(ph, ph)} | {fspread(e['victim_p50_ms'])} | {fspread(e['victim_p99_ms'])} | "
                 f"{fspread(e['victim_p999_ms'])} | {fmt(ratio(isom(ph), isom('alone')))} | "
                 f"{fmt(med(e['victim_samples']), 0)} | {fspread(e['aggressor_iops'], 0) if e['aggressor_iops'] else '–'} | "
                 f"{'%s–%s' % (fmt(w['min'], 0), fmt(w['max'], 0)) if w else '–'} |")
    L.append("")
    L.append("## Limiter precision\n")
    L.append("| limit | achieved / configured | 1 s windows within ±5 % |")
    L.append("| --- | --- | --- |")
    L.append(f"| iops_limit {fmt(il, 0)} (4k, QD32) | {fspread(prec['iops']['achieved_over_limit'], 4)} | "
             f"{fspread(prec['iops']['windows_within_5pct'], 3)} |")
    L.append(f"| bps_limit {fmt(bl, 0)} B/s (64k, QD8) | {fspread(prec['bps']['achieved_over_limit'], 4)} | "
             f"{fspread(prec['bps']['windows_within_5pct'], 3)} |")
    b = prec["below_limit"]
    L.append("")
    L.append(f"A guest below its limit: Poisson arrivals at {b['iops']} IOPS (QD4, 4k), "
             f"{cfg.get('PREC_BELOW_SECS', '?')} s per case, latency in ms:\n")
    L.append("| case | p99 | p99.9 | p99.9 / no limit | samples | requests held |")
    L.append("| --- | --- | --- | --- | --- | --- |")
    bn = {"off": "no limit",
          "on": f"iops_limit {b['limit']}, default bucket (100 ms)",
          "shallow": f"iops_limit {b['limit']}, iops_burst {b['shallow_burst']} "
                     f"({shallow_ms(b)} ms)"}
    for case in ("off", "on", "shallow"):
        e = b[case]
        L.append(f"| {bn[case]} | {fspread(e['p99_ms'], 3)} | {fspread(e['p999_ms'], 3)} | "
                 f"{fspread(e.get('p999_over_off'), 3) if case != 'off' else '1'} | "
                 f"{fmt(med(e['samples']), 0)} | {fspread(e['throttled_reqs'], 0)} |")
    L.append("")
    L.append("## Costs\n")
    L.append(f"| QD{qd} 4k randread on vqos `virtio-blk` | IOPS | / without |")
    L.append("| --- | --- | --- |")
    L.append(f"| no limit, no BPF | {fspread(cost['off']['iops'])} | 1 |")
    L.append(f"| iops_limit {cfg.get('COST_UNREACHABLE', '')} (never reached) | {fspread(cost['qos']['iops'])} | "
             f"{fspread(cost['qos']['ratio_to_off'], 3)} |")
    L.append(f"| vqos-lat attached | {fspread(cost['bpf']['iops'])} | {fspread(cost['bpf']['ratio_to_off'], 3)} |")
    if cost.get("nopool", {}).get("iops"):
        L.append(f"| its pool off (`enabled` 0) | {fspread(cost['nopool']['iops'])} | "
                 f"{fspread(cost['nopool']['ratio_to_off'], 3)} |")
    L.append("")
    L += render_pool_md(res)
    L.append("## Targets (issue #7)\n")
    L.append("| target | measured | met |")
    L.append("| --- | --- | --- |")
    for t in targets:
        L.append(f"| {t['target']} | {fmt(t['value'], 3)} | "
                 f"{'n/a' if t['met'] is None else ('yes' if t['met'] else '**no**')} |")
    L.append("")
    if res.get("targets_pools"):
        L.append("## Targets (issue #15, and #13 item 11)\n")
        L.append("Median over the rounds, (min–max) where each round gives a value.\n")
        L.append("| target | measured | met |")
        L.append("| --- | --- | --- |")
        for t in res["targets_pools"]:
            v = fspread(t["spread"], 3) if t.get("spread") else fmt(t["value"], 3)
            L.append(f"| {t['target']} | {v} | "
                     f"{'n/a' if t['met'] is None else ('yes' if t['met'] else '**no**')} |")
        L.append("")
    for p in plots:
        L.append(f"![{p}]({p})\n")
    return "\n".join(L)


def pool_names(cfg):
    return {"alone": "victim alone, pool off",
            "alone-pool": "victim alone on the pool (its reservation and target set)",
            "noqos": "+ aggressor, no QoS (pool off)",
            "static": f"+ aggressor, static iops_limit {cfg.get('POOL_STATIC', '?')} (pool off)",
            "reserve": f"+ aggressor unlimited, pool: victim pool_reserve {cfg.get('POOL_RESERVE', '?')}",
            "target": f"+ aggressor unlimited, pool: victim latency_target_us {cfg.get('POOL_TARGET_US', '?')}",
            "iolatency": f"peer: cgroup io.latency target={cfg.get('POOL_TARGET_US', '?')} (plain disk)",
            "iocost": "peer: cgroup io.cost + io.cost.qos, io.weight 10000:100 (plain disk)",
            "scale": f"+ {cfg.get('POOL_SCALE_N', '?')} aggressors unlimited, pool: victim pool_reserve {cfg.get('POOL_RESERVE', '?')}"}


def render_pool_md(res):
    """results.md's sections of issue #15 and #13 item 11."""
    cfg = res["config"]
    pool, pc, fl = res.get("pool"), res.get("poolcpu"), res.get("flood")
    hol = res["precision"].get("hol")
    L = []
    if pool:
        cap = pool.get("capacity_iops")
        pn = pool_names(cfg)
        L.append("## Pools (issue #15): victim latency on a shared disk (fio lat, ms)\n")
        L.append(f"null_blk irqmode=2, {int(cfg.get('POOL_COMPLETION_NS', 0)) / 1e6:g} ms × depth "
                 f"{cfg.get('POOL_DEPTH', '?')} = {fmt(cap, 0)} IOPS, the pool as deep; victim Poisson "
                 f"{cfg.get('POOL_VICTIM_IOPS', '?')} IOPS QD{cfg.get('POOL_VICTIM_QD', '?')}, aggressor "
                 f"QD{cfg.get('POOL_AGG_QD', '?')}, {cfg.get('POOL_SECS', '?')} s per phase. Ratios to "
                 f"the victim alone are per round (median, min–max); \"left\" is the capacity minus "
                 f"the victim's IOPS.\n")
        L.append("| phase | p50 | p99 | p99.9 | p99 / alone | p99.9 / alone | victim samples | "
                 "aggressor IOPS | / left | aggressor per 100 ms |")
        L.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for ph in pool_phases(cfg):
            e = pool["phases"].get(ph)
            if not e:
                continue
            w = e.get("aggressor_100ms_iops")
            L.append(f"| {pn.get(ph, ph)} | {fspread(e['victim_p50_ms'], 3)} | "
                     f"{fspread(e['victim_p99_ms'], 3)} | {fspread(e['victim_p999_ms'], 3)} | "
                     f"{fspread(e.get('p99_over_alone'))} | {fspread(e.get('p999_over_alone'))} | "
                     f"{fmt(med(e['victim_samples']), 0)} | "
                     f"{fspread(e['aggressor_iops'], 0) if e['aggressor_iops'] else '–'} | "
                     f"{fspread(e.get('aggressor_over_left'), 3) if e.get('aggressor_over_left') else '–'} | "
                     f"{'%s–%s' % (fmt(w['min'], 0), fmt(w['max'], 0)) if w else '–'} |")
        L.append("")
        rows = [(ph, e["pool_counters"]) for ph, e in pool["phases"].items()
                if e.get("pool_counters")]
        if rows:
            L.append("The pool's counters during each phase (medians over the rounds): requests "
                     "that waited for a slot (all devices, the victim's), and the victim's latency "
                     "windows judged and missed:\n")
            L.append("| phase | waits | victim's requests | victim's waits | windows | missed |")
            L.append("| --- | --- | --- | --- | --- | --- |")
            for ph, c in rows:
                L.append(f"| {pn.get(ph, ph)} | {fmt(med(c.get('waits')), 0)} | "
                         f"{fmt(med(c.get('pv_ios')), 0)} | {fmt(med(c.get('pv_waits')), 0)} | "
                         f"{fmt(med(c.get('pv_latency_windows')), 0)} | "
                         f"{fmt(med(c.get('pv_latency_missed')), 0)} |")
            L.append("")
        idl = [(ph, e["idle_workers"]) for ph, e in pool["phases"].items() if e.get("idle_workers")]
        if idl:
            L.append("The idle aggressors' workers (same pool) while the victim and one aggressor "
                     "ran, all rounds: " + "; ".join(
                         f"{pn.get(ph, ph)}: {x['switches']} context switches, {x['cpu_ticks']} "
                         f"CPU ticks over {x['workers']} workers" for ph, x in idl) + ".\n")
    if pc:
        L.append("## Instructions per I/O with devices on one pool\n")
        L.append(f"4k randread at QD{cfg.get('DP_QD', '32')}, one fio job round-robin over the "
                 "devices' disks, null_blk irqmode=0 (CPU-bound: under icount, 10^9 / IOPS "
                 "instructions per I/O).\n")
        L.append("| devices on the pool | IOPS, pool on | / 1 device | IOPS, pool off | on / off |")
        L.append("| --- | --- | --- | --- | --- |")
        for n in pc["n"]:
            on, off = pc["on"].get(str(n)), pc["off"].get(str(n))
            L.append(f"| {n} | {fspread(on)} | {fspread(pc['on_over_first'].get(str(n)), 3)} | "
                     f"{fspread(off)} | {fmt(ratio(med(on), med(off)), 3)} |")
        L.append("")
        if pc.get("idle"):
            i = pc["idle"]
            L.append(f"Meanwhile, the {i['workers']} workers of the idle devices: "
                     f"{fspread(i['switches'], 0)} context switches and {fspread(i['cpu_ticks'], 0)} "
                     f"CPU ticks per round.\n")
    if hol:
        L.append("## No head-of-line blocking across limits\n")
        L.append(f"A reader (64k, QD4) under bps_read_limit {fmt(hol['read_limit'], 0)} B/s, alone "
                 f"and beside a writer (4k, QD16) held by iops_write_limit "
                 f"{fmt(hol['write_limit'], 0)} on the same device, {cfg.get('PREC_SECS', '?')} s:\n")
        L.append("| case | read rate / limit |")
        L.append("| --- | --- |")
        L.append(f"| alone | {fspread(hol['alone_over_limit'], 4)} |")
        L.append(f"| beside the writer ({fspread(hol['writer_iops'], 1)} writes/s) | "
                 f"{fspread(hol['beside_writer_over_limit'], 4)} |")
        L.append("")
    if fl:
        L.append("## A flooding neighbour (issue #13, item 11)\n")
        L.append(f"QD{cfg.get('DP_QD', '32')} 4k randread IOPS of a device alone and beside another "
                 f"device flooding 512-byte reads ({cfg.get('FLOOD_JOBS', '?')} jobs × QD"
                 f"{cfg.get('FLOOD_QD', '?')}), one vCPU:\n")
        L.append("| the device's backing | alone | beside the flood | ratio | flooder IOPS |")
        L.append("| --- | --- | --- | --- | --- |")
        for k, name in (("disk", "the pool disk (disk-bound)"),
                        ("cpu", "null_blk irqmode=0 (CPU-bound: shares the one vCPU)")):
            e = fl.get(k)
            if e:
                L.append(f"| {name} | {fspread(e['alone_iops'])} | {fspread(e['flood_iops'])} | "
                         f"{fspread(e['ratio'], 3)} | {fspread(e['flooder_iops'])} |")
        L.append("")
    return L


def shallow_ms(b):
    """The shallow bucket's depth in ms of its limit."""
    try:
        return f"{1000 * int(b['shallow_burst']) / int(b['limit']):g}"
    except (TypeError, ValueError, ZeroDivisionError):
        return "?"


PLOTS = ("ccdf.png", "aggressor.png", "pool-share.png")


def plots_of(res, outdir):
    """The plots results.md shows: those report.py made (results.json
    says which), or for older results.json the ones in outdir."""
    if "plots" in res:
        return res["plots"]
    return [p for p in PLOTS if os.path.exists(os.path.join(outdir, p))]


# --- the README's table ------------------------------------------------------

README_BEGIN = ("<!-- bench-table: generated by bench/report.py from "
                "bench/results/results.json (make bench); make check fails "
                "if it differs. Do not edit. -->")
README_END = "<!-- bench-table end -->"


def readme_block(res):
    """The README's benchmark summary: the issue #7 targets as measured,
    every figure from RES (results.json)."""
    meta, cfg = res["meta"], res["config"]
    dp, iso, prec, cost = res["datapath"], res["isolation"], res["precision"], res["cost"]
    qd = cfg.get("DP_QD", "32")
    met = {t["target"]: t["met"] for t in res["targets"]}

    def dpm(t):
        return med(dp.get(t, {}).get(f"qd{qd}_iops"))

    def isom(ph):
        return med(iso.get(ph, {}).get("victim_p999_ms"))

    def yes(*names):
        vals = [met.get(n) for n in names]
        if any(v is None for v in vals):
            return "n/a"
        return "yes" if all(vals) else "**no**"

    def frac(a, b, nd=2, unit=""):
        if a is None or not b:
            return "not measured"
        return f"{fmt(a, nd)} / {fmt(b, nd)}{unit} = {fmt(a / b, 2)}"

    def pers(num, den):
        """vqos-blk's ratio, and vqos-vqos's when it differs."""
        a = frac(dpm("vqos-blk"), dpm(den), 0)
        b = frac(dpm("vqos-vqos"), dpm(den), 0)
        ra, rb = ratio(dpm("vqos-blk"), dpm(den)), ratio(dpm("vqos-vqos"), dpm(den))
        if ra is not None and rb is not None and fmt(ra) == fmt(rb):
            return f"{a} (`virtio-blk`; `vqos` personality: {fmt(rb)})"
        return f"{a} (`virtio-blk`); {b} (`vqos` personality)"

    pi, pb = prec["iops"], prec["bps"]
    bl = prec["below_limit"]
    held_on, held_sh = med(bl["on"]["throttled_reqs"]), med(bl["shallow"]["throttled_reqs"])
    sam_on, sam_sh = med(bl["on"]["samples"]), med(bl["shallow"]["samples"])
    secs = cfg.get("PREC_SECS", "?")
    wi, wb = med(pi["windows_within_5pct"]), med(pb["windows_within_5pct"])
    rows = [
        ("vqos IOPS / raw null_blk >= 0.5", pers("vqos", "raw"),
         yes("vqos IOPS / raw null_blk >= 0.5 (virtio-blk personality)",
             "vqos IOPS / raw null_blk >= 0.5 (vqos personality + virtio_vqos)")),
        ("vqos IOPS / vdpa_sim_blk >= 1.0", pers("vqos", "sim"),
         yes("vqos IOPS / vdpa_sim_blk >= 1.0 (virtio-blk personality)",
             "vqos IOPS / vdpa_sim_blk >= 1.0 (vqos personality + virtio_vqos)")),
        ("victim p99.9 with aggressor + vqos QoS / alone <= 2.0",
         frac(isom("vqos"), isom("alone"), 2, " ms"),
         yes("victim p99.9 with aggressor + vqos QoS / alone <= 2.0")),
        ("victim p99.9 without QoS / with vqos QoS >= 3",
         frac(isom("noqos"), isom("vqos"), 2, " ms"),
         yes("victim p99.9 without QoS / with vqos QoS >= 3")),
        ("victim p99.9 with vqos QoS / with io.max on the plain disk (aggressor a host process) <= 1",
         frac(isom("vqos"), isom("iomax"), 2, " ms"),
         yes("victim p99.9 with vqos QoS / with io.max <= 1")),
        ("victim p99.9 with vqos QoS / with io.max on the aggressor's guest disk (the vqos path) <= 1",
         frac(isom("vqos"), isom("iomax-guest"), 2, " ms"),
         yes("victim p99.9 with vqos QoS / with io.max on the aggressor's guest disk <= 1")),
        (f"achieved / configured, iops_limit {fmt(pi['limit'], 0)} and bps_limit "
         f"{fmt(pb['limit'], 0)} B/s, {secs} s",
         f"{fmt(med(pi['achieved_over_limit']), 4)} and {fmt(med(pb['achieved_over_limit']), 4)}",
         yes("achieved / configured IOPS within ±2 %", "achieved / configured bytes/s within ±2 %")),
        ("1 s windows within ±5 %",
         "n/a" if wi is None or wb is None else
         f"{100 * wi:.0f} % (IOPS), {100 * wb:.0f} % (bytes/s)",
         yes(">= 99 % of 1 s windows within ±5 % (IOPS)",
             ">= 99 % of 1 s windows within ±5 % (bytes/s)")),
        (f"p99.9 of a guest below its limit, QoS on / off (default bucket)",
         f"{frac(med(bl['on']['p999_ms']), med(bl['off']['p999_ms']), 3, ' ms')} "
         f"({fmt(held_on, 0)} of its {fmt(sam_on, 0)} requests held)",
         yes("below-limit guest p99.9 with QoS / without <= 1.1 (default bucket, 100 ms)")),
        (f"the same with a {shallow_ms(bl)} ms bucket (iops_burst {bl['shallow_burst']}), "
         f"no target",
         f"{frac(med(bl['shallow']['p999_ms']), med(bl['off']['p999_ms']), 3, ' ms')} "
         f"({fmt(held_sh, 0)} of its {fmt(sam_sh, 0)} requests held)", "–"),
        ("IOPS with an unreachable limit / without",
         fmt(med(cost["qos"]["ratio_to_off"]), 3),
         yes("IOPS with QoS at an unreachable limit / without >= 0.98")),
        ("IOPS with the BPF histograms attached / detached",
         fmt(med(cost["bpf"]["ratio_to_off"]), 3),
         yes("IOPS with the BPF histograms / without >= 0.97")),
    ]
    pn = phase_names(cfg)
    vs_alone = "; ".join(f"{pn[ph].lstrip('+ ')} {fmt(ratio(isom(ph), isom('alone')))}x"
                         for ph in iso_phases(res) if ph != "alone")
    win = "; ".join(f"{pn[ph].lstrip('+ ')} {fmt(w['min'], 0)}–{fmt(w['max'], 0)}"
                    for ph in iso_phases(res)
                    for w in [iso[ph].get("aggressor_100ms_iops")] if w)
    started = meta.get("started")
    when = "?"
    if isinstance(started, (int, float)):
        import time
        when = time.strftime("%d %B %Y", time.gmtime(started)).lstrip("0")
    L = [README_BEGIN, "",
         f"Run of {when}: kernel `{meta.get('kernel', '?')}` ({meta.get('flavour', '?')} "
         f"flavour), {cfg.get('ROUNDS', '?')} rounds. {order_line(meta)}", "",
         "| target (issue #7) | measured | met |", "| --- | --- | --- |"]
    L += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    L += ["", f"Victim p99.9 / alone: {vs_alone or 'n/a'}.", "",
          f"Aggressor IOPS per 100 ms window, lowest–highest: {win or 'not measured in this run'}.",
          ""]
    if res.get("targets_pools"):
        pool = res.get("pool") or {}
        L += [f"Pools (issue #15) on a disk of {fmt(pool.get('capacity_iops'), 0)} IOPS "
              f"(null_blk {int(cfg.get('POOL_COMPLETION_NS', 0)) / 1e6:g} ms × "
              f"{cfg.get('POOL_DEPTH', '?')}), victim Poisson {cfg.get('POOL_VICTIM_IOPS', '?')} "
              f"IOPS, aggressor QD{cfg.get('POOL_AGG_QD', '?')}, and the flood of issue #13 "
              "item 11; median (min–max) over the rounds:", "",
              "| target (issue #15; #13 item 11) | measured | met |", "| --- | --- | --- |"]
        for t in res["targets_pools"]:
            v = fspread(t["spread"], 3) if t.get("spread") else fmt(t["value"], 3)
            L.append(f"| {t['target']} | {v} | "
                     f"{'n/a' if t['met'] is None else ('yes' if t['met'] else '**no**')} |")
        L.append("")
    else:
        L += ["The targets of issue #15 (pools) and #13 item 11 (a flooding neighbour): not "
              "measured in this run, which predates them.", ""]
    L.append(README_END)
    return "\n".join(L)


L2_BEGIN = ("<!-- bench-l2: generated by bench/report.py from "
            "bench/results/l2.json (make bench, make bench-l2); make check "
            "fails if it differs. Do not edit. -->")
L2_END = "<!-- bench-l2 end -->"


def jnum(v):
    """A number as jq and the JSON show it: 229, not 229.0."""
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def l2_block(l2):
    """The README's L2 line (issue #16), every figure from L2 (l2.json)."""
    d = time.strptime(l2["date"], "%Y-%m-%d")
    date = f"{d.tm_mday} {time.strftime('%B %Y', d)}"
    v, q, r = l2["vqos_iops"], l2["virtio_blk_iops"], l2["ratio_per_round"]
    if r["min"] > 1:
        verdict = "vqos ahead in every round"
    elif r["max"] < 1:
        verdict = "QEMU's virtio-blk ahead in every round"
    else:
        verdict = "the rounds straddle 1, no difference resolved"
    vm_s = jnum(l2["vm_s"]) if l2.get("vm_s") is not None else "?"
    line = (f"L2 row (issue #16), run of {date}: one nested guest ({l2['l2']['vcpus']} vCPU, "
            f"QEMU {l2['qemu']} TCG inside the test VM, kernel `{l2['kernel']}`) with both "
            f"disks on one null_blk, 4k random reads at QD{l2['qd']} (l2io, {l2['run_s']} s "
            f"a run, {l2['rounds']} rounds, the order alternating): vqos "
            f"(`vhost-vdpa-device-pci`) {jnum(v['median'])} IOPS median "
            f"({jnum(v['min'])}–{jnum(v['max'])}), QEMU's own `virtio-blk-pci` "
            f"(`cache=none,aio={l2['qemu_aio']}`) {jnum(q['median'])} "
            f"({jnum(q['min'])}–{jnum(q['max'])}): **vqos / QEMU virtio-blk "
            f"{jnum(l2['ratio_of_medians'])}** (the ratio of the medians; per round "
            f"{jnum(r['min'])}–{jnum(r['max'])}, median {jnum(r['median'])}: {verdict}). "
            f"L2 booted in {jnum(round(l2['l2']['boot_s'] * 10) / 10)} s; the VM ran {vm_s} s.")
    return f"{L2_BEGIN}\n\n{line}\n\n{L2_END}"


def readme_main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    readme, results, check = None, os.path.join(here, "results", "results.json"), False
    i = 0
    while i < len(argv):
        if argv[i] == "--readme" and i + 1 < len(argv):
            readme = argv[i + 1]; i += 2
        elif argv[i] == "--results" and i + 1 < len(argv):
            results = argv[i + 1]; i += 2
        elif argv[i] == "--check":
            check = True; i += 1
        else:
            print(f"report.py: unknown argument '{argv[i]}'", file=sys.stderr)
            return 2
    res = load(results)
    if not res:
        print(f"report.py: cannot read {results}", file=sys.stderr)
        return 1
    try:
        with open(readme) as f:
            text = f.read()
    except OSError as e:
        print(f"report.py: {e}", file=sys.stderr)
        return 1
    a, b = text.find(README_BEGIN), text.find(README_END)
    if a < 0 or b < a:
        print(f"report.py: {readme} has no bench-table markers:\n  {README_BEGIN}\n  {README_END}",
              file=sys.stderr)
        return 1
    blocks = [(README_BEGIN, README_END, readme_block(res), results, "benchmark table")]
    l2json = os.path.join(os.path.dirname(results), "l2.json")
    if os.path.exists(l2json):
        l2 = load(l2json)
        if not l2:
            print(f"report.py: cannot read {l2json}", file=sys.stderr)
            return 1
        if text.find(L2_BEGIN) < 0 or text.find(L2_END) < text.find(L2_BEGIN):
            print(f"report.py: {readme} has no bench-l2 markers:\n  {L2_BEGIN}\n  {L2_END}",
                  file=sys.stderr)
            return 1
        blocks.append((L2_BEGIN, L2_END, l2_block(l2), l2json, "L2 line"))
    rc = 0
    new_text = text
    for begin, end, want, src, what in blocks:
        a, b = new_text.find(begin), new_text.find(end)
        have = new_text[a:b + len(end)]
        if have == want:
            continue
        if check:
            print(f"report.py: {readme}'s {what} is not what {src} gives "
                  f"(bench/report.py --readme {readme} rewrites it):")
            sys.stdout.writelines(difflib.unified_diff(
                have.splitlines(True), want.splitlines(True), "README.md (as committed)",
                f"generated from {os.path.basename(src)}"))
            rc = 1
        else:
            new_text = new_text[:a] + want + new_text[b + len(end):]
            print(f"report.py: {readme}: {what} updated from {src}")
    if not check:
        if new_text != text:
            with open(readme, "w") as f:
                f.write(new_text)
        return 0
    # results.md is rendered from results.json alone too.
    outdir = os.path.dirname(results)
    md = os.path.join(outdir, "results.md")
    try:
        with open(md) as f:
            have_md = f.read()
    except OSError:
        have_md = None
    want_md = render_md(res, plots_of(res, outdir))
    if have_md is not None and have_md != want_md:
        print(f"report.py: {md} is not what {results} gives:")
        sys.stdout.writelines(difflib.unified_diff(
            have_md.splitlines(True), want_md.splitlines(True), "results.md (as committed)",
            "generated from results.json"))
        rc = 1
    return rc


def main():
    if len(sys.argv) > 1 and sys.argv[1].startswith("--"):
        sys.exit(readme_main(sys.argv[1:]))
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    raw, outdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    res = compute(raw)
    plots = []
    if shutil.which("gnuplot"):
        plots = make_plots(raw, outdir, iso_phases(res), phase_names(res["config"]),
                           res["config"])
    res["plots"] = plots
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump(res, f, indent=1, sort_keys=False)
    md = render_md(res, plots)
    with open(os.path.join(outdir, "results.md"), "w") as f:
        f.write(md)
    print(md)


def ns_scale(rows, p50_ms):
    """fio's latency log unit (ns in fio 3.x, us in older ones), checked
    against the JSON's median: factor to milliseconds."""
    vals = sorted(v for _, v in rows)
    if not vals or not p50_ms:
        return 1e-6
    m = vals[len(vals) // 2]
    for f in (1e-6, 1e-3):
        if 0.5 <= m * f / p50_ms <= 2:
            return f
    return 1e-6


def make_plots(raw, outdir, phases, pn, cfg):
    made = []
    tmp = os.path.join(outdir, ".plotdata")
    os.makedirs(tmp, exist_ok=True)
    # CCDF of the victim's latency per phase, all rounds pooled.
    series = []
    for ph in phases:
        lat = []
        for r, p in rounds_of(os.path.join(raw, "iso", ph, "r*.json")).items():
            s = read_stats(load(p), "victim")
            logs = glob.glob(os.path.join(raw, "iso", ph, f"r{r}.victim_lat.*.log"))
            if not s or not logs:
                continue
            rows = read_log(logs[0])
            f = ns_scale(rows, s["p50_ms"])
            lat += [v * f for _, v in rows]
        if not lat:
            continue
        lat.sort()
        n = len(lat)
        fn = os.path.join(tmp, f"ccdf-{ph}.dat")
        with open(fn, "w") as f:
            for i, v in enumerate(lat):
                if i + 1 < n and lat[i + 1] == v:
                    continue
                f.write(f"{v} {(n - i - 1) / n if i + 1 < n else 1 / n}\n")
        series.append((fn, pn.get(ph, ph)))
    pseries = ccdf_series(raw, "pool", pool_phases(cfg), pool_names(cfg), tmp)
    if series or pseries:
        plot = "ccdf.png"
        panels = [(series, "Victim latency CCDF per phase, isolation disk (all rounds pooled)"),
                  (pseries, "Victim latency CCDF per phase, pool disk (issue #15, all rounds pooled)")]
        panels = [p_ for p_ in panels if p_[0]]
        cmds = [f"set terminal png noenhanced size 1000,{560 * len(panels)}",
                f"set output '{os.path.join(outdir, plot)}'",
                "set logscale xy", "set xlabel 'victim completion latency (ms)'",
                "set ylabel 'P(latency > x)'", "set yrange [1e-4:1]", "set grid",
                "set key top right"]
        if len(panels) > 1:
            cmds.append(f"set multiplot layout {len(panels)},1")
        for ser, title in panels:
            cmds.append(f"set title '{title}'")
            cmds.append("plot " + ", ".join(f"'{fn}' using 1:2 with steps lw 2 title '{t}'"
                                             for fn, t in ser))
        if len(panels) > 1:
            cmds.append("unset multiplot")
        if subprocess.run(["gnuplot"], input="\n".join(cmds), text=True).returncode == 0:
            made.append(plot)
    # Aggressor IOPS over time, round 1, with the limit.
    series = []
    for ph in phases:
        logs = glob.glob(os.path.join(raw, "iso", ph, "r1.aggressor_iops.*.log"))
        if not logs:
            continue
        fn = os.path.join(tmp, f"agg-{ph}.dat")
        with open(fn, "w") as f:
            for t, v in read_log(logs[0]):
                f.write(f"{t / 1000} {v}\n")
        series.append((fn, pn.get(ph, ph)))
    if series:
        # vqos's series last, on top: it lies on the limit line.
        series.sort(key=lambda fs: fs[1] == pn.get("vqos"))
        plot = "aggressor.png"
        lim = cfg.get("ISO_LIMIT", "1000")
        cmds = ["set terminal png noenhanced size 900,560", f"set output '{os.path.join(outdir, plot)}'",
                "set xlabel 'time (s)'", "set ylabel 'aggressor IOPS (100 ms averages)'",
                "set grid", "set yrange [0:*]", "set key below",
                "set title 'Aggressor IOPS over time (round 1)'"]
        # The limit first, thin, so that a series exactly on it shows.
        cmds.append(f"plot {lim} with lines dt 2 lw 1 lc rgb 'black' title 'limit {lim}', "
                    + ", ".join(f"'{fn}' using 1:2 with lines lw 2 title '{t}'"
                                for fn, t in series))
        if subprocess.run(["gnuplot"], input="\n".join(cmds), text=True).returncode == 0:
            made.append(plot)
    # The aggressor's share of the pool disk per 100 ms, round 1.
    cap = pool_capacity(cfg)
    pn = pool_names(cfg)
    series = []
    for ph in pool_phases(cfg):
        logs = glob.glob(os.path.join(raw, "pool", ph, "r1.aggressor_iops.*.log"))
        if not logs or not cap:
            continue
        fn = os.path.join(tmp, f"share-{ph}.dat")
        with open(fn, "w") as f:
            for t, v in read_log(logs[0]):
                f.write(f"{t / 1000} {v / cap}\n")
        series.append((fn, pn.get(ph, ph)))
    if series:
        plot = "pool-share.png"
        try:
            left = 0.85 * (1 - int(cfg["POOL_VICTIM_IOPS"]) / cap)
        except (KeyError, ValueError):
            left = 0.85
        cmds = ["set terminal png noenhanced size 1000,600", f"set output '{os.path.join(outdir, plot)}'",
                "set xlabel 'time (s)'", "set ylabel 'aggressor IOPS / disk capacity (100 ms)'",
                "set grid", "set yrange [0:1.05]", "set key below",
                "set title 'The aggressor\\'s share of the pool disk per 100 ms (round 1)'"]
        cmds.append(f"plot {left} with lines dt 2 lw 1 lc rgb 'black' "
                    f"title '85 % of what the victim leaves', "
                    + ", ".join(f"'{fn}' using 1:2 with lines lw 2 title '{t}'"
                                for fn, t in series))
        if subprocess.run(["gnuplot"], input="\n".join(cmds), text=True).returncode == 0:
            made.append(plot)
    shutil.rmtree(tmp, ignore_errors=True)
    return made


def ccdf_series(raw, sec, phases, pn, tmp):
    """CCDF data files of the victim's latency per phase of section SEC,
    all rounds pooled: [(file, title)]."""
    series = []
    for ph in phases:
        lat = []
        for r, p in rounds_of(os.path.join(raw, sec, ph, "r*.json")).items():
            s = read_stats(load(p), "victim")
            logs = glob.glob(os.path.join(raw, sec, ph, f"r{r}.victim_lat.*.log"))
            if not s or not logs:
                continue
            rows = read_log(logs[0])
            f = ns_scale(rows, s["p50_ms"])
            lat += [v * f for _, v in rows]
        if not lat:
            continue
        lat.sort()
        n = len(lat)
        fn = os.path.join(tmp, f"ccdf-{sec}-{ph}.dat")
        with open(fn, "w") as f:
            for i, v in enumerate(lat):
                if i + 1 < n and lat[i + 1] == v:
                    continue
                f.write(f"{v} {(n - i - 1) / n if i + 1 < n else 1 / n}\n")
        series.append((fn, pn.get(ph, ph)))
    return series


if __name__ == "__main__":
    main()
