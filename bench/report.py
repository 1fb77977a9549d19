#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""bench/report.py RAW OUTDIR - summarise scripts/bench-vm's raw output.

RAW is the directory bench-vm wrote (fio JSON and logs per section, case
and round); OUTDIR gets results.json (every per-round value, medians,
spread, ratios, targets), results.md (the tables) and, when gnuplot is
installed, ccdf.png (the victim's latency CCDF per isolation phase) and
aggressor.png (the aggressor's IOPS over time with the limit drawn in).
Medians over rounds; spread is min..max over rounds.
"""
import glob
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys


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


def main():
    raw, outdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
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
        iso[ph] = {
            "victim_p50_ms": summ([s["p50_ms"] for s in v.values() if s]),
            "victim_p99_ms": summ([s["p99_ms"] for s in v.values() if s]),
            "victim_p999_ms": summ([s["p999_ms"] for s in v.values() if s]),
            "victim_samples": summ([s["ios"] for s in v.values() if s]),
            "aggressor_iops": summ([s["iops"] for s in a.values() if s]),
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
    res["precision"] = prec

    # --- costs ----------------------------------------------------------
    cd = os.path.join(raw, "cost")
    cost = {}
    cj = {r: load(p) for r, p in rounds_of(f"{cd}/r*.json").items()}
    offr = {r: read_stats(js, "off") for r, js in cj.items()}
    for k in ("qos", "bpf"):
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
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump(res, f, indent=1, sort_keys=False)

    # --- Markdown ----------------------------------------------------------
    nrounds = cfg.get("ROUNDS", "?")
    L = []
    L.append(f"# vqos benchmark results\n")
    L.append(f"Kernel `{meta.get('kernel', '?')}` ({meta.get('flavour', '?')} flavour), "
             f"{meta.get('vcpus', '?')} vCPU under QEMU TCG with icount (virtual time: "
             f"1 instruction = 1 ns, idle time skipped), {meta.get('fio', 'fio')}. "
             f"Medians of {nrounds} interleaved rounds in one boot, (min–max) over the rounds.\n")
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
    L.append("| phase | p50 | p99 | p99.9 | p99.9 / alone | victim samples | aggressor IOPS |")
    L.append("| --- | --- | --- | --- | --- | --- | --- |")
    pn = {"alone": "victim alone", "noqos": "+ aggressor, no QoS",
          "vqos": f"+ aggressor, vqos iops_limit {cfg.get('ISO_LIMIT', '')}",
          "iomax": f"+ aggressor on the plain disk, cgroup io.max riops={cfg.get('ISO_LIMIT', '')}",
          "plain": "+ aggressor on the plain disk, no limit"}
    for ph in phases:
        e = iso[ph]
        L.append(f"| {pn.get(ph, ph)} | {fspread(e['victim_p50_ms'])} | {fspread(e['victim_p99_ms'])} | "
                 f"{fspread(e['victim_p999_ms'])} | {fmt(ratio(isom(ph), isom('alone')))} | "
                 f"{fmt(med(e['victim_samples']), 0)} | {fspread(e['aggressor_iops'], 0) if e['aggressor_iops'] else '–'} |")
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
          "shallow": f"iops_limit {b['limit']}, iops_burst {b['shallow_burst']} (10 ms)"}
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
    L.append("")
    L.append("## Targets (issue #7)\n")
    L.append("| target | measured | met |")
    L.append("| --- | --- | --- |")
    for t in targets:
        L.append(f"| {t['target']} | {fmt(t['value'], 3)} | "
                 f"{'n/a' if t['met'] is None else ('yes' if t['met'] else '**no**')} |")
    L.append("")

    # --- plots ---------------------------------------------------------------
    plots = []
    if shutil.which("gnuplot"):
        plots = make_plots(raw, outdir, phases, pn, cfg)
    for p in plots:
        L.append(f"![{p}]({p})\n")
    with open(os.path.join(outdir, "results.md"), "w") as f:
        f.write("\n".join(L))
    print("\n".join(L))


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
    if series:
        plot = "ccdf.png"
        cmds = ["set terminal png noenhanced size 900,560", f"set output '{os.path.join(outdir, plot)}'",
                "set logscale xy", "set xlabel 'victim completion latency (ms)'",
                "set ylabel 'P(latency > x)'", "set yrange [1e-4:1]", "set grid",
                "set title 'Victim latency CCDF per phase (all rounds pooled)'",
                "set key top right"]
        cmds.append("plot " + ", ".join(f"'{fn}' using 1:2 with steps lw 2 title '{t}'"
                                         for fn, t in series))
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
    shutil.rmtree(tmp, ignore_errors=True)
    return made


if __name__ == "__main__":
    main()
