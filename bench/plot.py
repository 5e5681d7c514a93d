#!/usr/bin/env python3
"""Report of the issuance benchmark (bench/bench_issue.sh).

Reads loadgen's JSON lines (one per run, with the server, kind, server CPU
and CPU pressure added by the driver) and floor --bench-crypto's JSON;
prints the table, merges the figures into bench.json (entries of the same
names are replaced, others' entries kept), and writes an SVG of throughput
and p99 latency against offered load for the broker and the floor. Standard
library only; the SVG is written by hand.
"""
import argparse
import json
import math
import os
import statistics
import sys

TARGET_FLOOR_RATIO = 0.7
TARGET_HALF_PEAK_P99_MS = 5.0
TARGET_GRANTS = 10000.0


def load_lines(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


def median_run(runs):
    """The run with the median throughput (so its latencies go with it)."""
    runs = sorted(runs, key=lambda r: r.get("rps", 0))
    return runs[len(runs) // 2] if runs else None


def fmt_rate(v):
    return "{:,.0f}/s".format(v)


def lat(r):
    l = r.get("latency_ms", {})
    return "{:.2f} / {:.2f} / {:.2f} ms".format(l.get("p50", 0), l.get("p99", 0),
                                                 l.get("p999", 0))


def gen_cores(r):
    """The load generator's CPU over its run (warm-up, window, drain)."""
    return r.get("cpu_s", 0) / max(r.get("seconds", 0) + r.get("warmup_s", 1), 1e-9)


def split(r):
    """Share of the replies each worker thread sent, e.g. "50:50"."""
    w = r.get("worker_replies") or []
    t = sum(w)
    return ":".join("%.0f" % (100.0 * x / t) for x in w) if t > 0 else "?"


def met(ok):
    return "met" if ok else "NOT MET"


# ---- SVG ---------------------------------------------------------------------

def svg_plot(series, path, title, subtitle=""):
    """series: {name: (color, [(offered, rps, p99), ...])}. Both panels
    have a log offered-load axis (the two servers differ tenfold); the
    throughput panel is log-log, so y = x (keeping up) is the diagonal."""
    W, H = 920, 422
    pw, ph = 360, 270          # each panel's plot area
    top = 72
    panels = [(80, "Throughput (replies/s, log)"), (540, "p99 latency (ms, log)")]
    pts_all = [p for _, pts in series.values() for p in pts]
    xlo = math.floor(math.log10(max(min([p[0] for p in pts_all] + [10]), 1)))
    xhi = math.ceil(math.log10(max([p[0] for p in pts_all] + [10]) * 1.05))
    tlo = math.floor(math.log10(max(min([p[1] for p in pts_all if p[1] > 0] + [10]), 1)))
    thi = math.ceil(math.log10(max([p[1] for p in pts_all] + [10]) * 1.05))
    tlo, thi = min(tlo, xlo), max(thi, xhi)
    lmin = min([p[2] for p in pts_all if p[2] > 0] + [1])
    lmax = max([p[2] for p in pts_all] + [10])
    llo = math.floor(math.log10(max(lmin, 0.01)))
    lhi = math.ceil(math.log10(max(lmax, 10)))
    out = []
    a = out.append
    a('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
      'viewBox="0 0 %d %d" font-family="DejaVu Sans, Arial, sans-serif" '
      'font-size="12">' % (W, H, W, H))
    a('<rect width="100%" height="100%" fill="white"/>')
    a('<text x="%d" y="24" font-size="15" font-weight="bold" '
      'text-anchor="middle">%s</text>' % (W // 2, esc(title)))
    if subtitle:
        a('<text x="%d" y="42" fill="#555" text-anchor="middle">%s</text>'
          % (W // 2, esc(subtitle)))

    def logpos(v, lo, hi, length):
        v = max(v, 10 ** lo)
        return (math.log10(v) - lo) / (hi - lo) * length

    def X(x0, v):
        return x0 + logpos(v, xlo, xhi, pw)

    def Yt(v):
        return top + ph - logpos(v, tlo, thi, ph)

    def Yl(v):
        return top + ph - logpos(v, llo, lhi, ph)

    def decades(lo, hi):
        out = []
        for e in range(lo, hi + 1):
            for m in (1, 2, 5):
                v = m * 10 ** e
                if 10 ** lo <= v <= 10 ** hi:
                    out.append((v, m == 1))
        return out

    for x0, label in panels:
        a('<rect x="%d" y="%d" width="%d" height="%d" fill="none" '
          'stroke="#444"/>' % (x0, top, pw, ph))
        a('<text x="%d" y="%d" text-anchor="middle" font-weight="bold">%s</text>'
          % (x0 + pw // 2, top - 10, esc(label)))
        a('<text x="%d" y="%d" text-anchor="middle">offered load (requests/s, '
          'log)</text>' % (x0 + pw // 2, top + ph + 36))
        for v, major in decades(xlo, xhi):
            x = X(x0, v)
            a('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>'
              % (x, top, x, top + ph, "#ccc" if major else "#eee"))
            a('<text x="%.1f" y="%d" text-anchor="middle">%s</text>'
              % (x, top + ph + 16, short(v)))
    x0 = panels[0][0]
    for v, major in decades(tlo, thi):
        y = Yt(v)
        a('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>'
          % (x0, y, x0 + pw, y, "#ccc" if major else "#eee"))
        a('<text x="%d" y="%.1f" text-anchor="end">%s</text>'
          % (x0 - 6, y + 4, short(v)))
    # y = x: a server that keeps up with what is offered
    a('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999" '
      'stroke-dasharray="4 4"/>' % (X(x0, 10 ** xlo), Yt(10 ** xlo),
                                    X(x0, 10 ** xhi), Yt(10 ** xhi)))
    a('<text x="%.1f" y="%.1f" fill="#777" text-anchor="end">keeps up</text>'
      % (X(x0, 10 ** xhi) - 4, Yt(10 ** xhi) + 14))
    x1 = panels[1][0]
    for v, major in decades(llo, lhi):
        y = Yl(v)
        a('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>'
          % (x1, y, x1 + pw, y, "#ccc" if major else "#eee"))
        a('<text x="%d" y="%.1f" text-anchor="end">%s</text>'
          % (x1 - 6, y + 4, "{:g}".format(v)))
    y = Yl(TARGET_HALF_PEAK_P99_MS)
    a('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#c00" '
      'stroke-dasharray="6 3"/>' % (x1, y, x1 + pw, y))
    a('<text x="%d" y="%.1f" fill="#c00">5 ms target (at half the peak)'
      '</text>' % (x1 + 6, y + 14))
    ly = top + ph + 60
    lx = 80
    for name, (color, pts) in series.items():
        pts = sorted(pts)
        for xx0, yf, idx in ((x0, Yt, 1), (x1, Yl, 2)):
            d = " ".join("%.1f,%.1f" % (X(xx0, p[0]), yf(p[idx])) for p in pts)
            a('<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>'
              % (d, color))
            for p in pts:
                a('<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>'
                  % (X(xx0, p[0]), yf(p[idx]), color))
        a('<rect x="%d" y="%d" width="14" height="4" fill="%s"/>'
          % (lx, ly - 6, color))
        a('<text x="%d" y="%d">%s</text>' % (lx + 20, ly, esc(name)))
        lx += 330
    a('</svg>')
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def short(v):
    if v >= 1000:
        return "{:g}k".format(v / 1000)
    return "{:g}".format(v)


def esc(s):
    return (str(s).replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;"))


# ---- main --------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--crypto", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--svg", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--save-results")
    ap.add_argument("--store", choices=("disk", "tmpfs"), default="disk",
                    help="where consentd's data dir was; tmpfs marks a "
                    "diagnostic run: nothing was durable")
    a = ap.parse_args()
    diag = a.store == "tmpfs"

    runs = load_lines(a.results)
    with open(a.crypto) as f:
        crypto = json.load(f)
    if a.save_results:
        with open(a.save_results, "w") as f:
            for r in runs:
                f.write(json.dumps(r) + "\n")

    sign1 = crypto["es256_sign_per_s"]
    entries = []
    rows = []   # (figure, value, ratio text, target, status)

    def entry(name, value, unit, ratio=None, ratio_to=None, target=None,
              ok=None, **extra):
        e = {"name": name, "value": round(value, 3), "unit": unit}
        if ratio is not None:
            e["ratio"] = round(ratio, 4)
            e["ratio_to"] = ratio_to
        if target is not None:
            e["target"] = target
            e["met"] = bool(ok)
        e.update(extra)
        if diag:
            # Not a result: the store's writes cost no disk.
            e["store"] = "tmpfs"
            e["durable"] = False
        entries.append(e)

    # one core's crypto
    rows.append(("one core: ES256 sign, raw OpenSSL", fmt_rate(sign1), "1.00 (baseline)", "", ""))
    rows.append(("one core: jws_sign_es256 (640-byte claims)",
                 fmt_rate(crypto["jws_sign_es256_per_s"]),
                 "%.2f x raw sign" % (crypto["jws_sign_es256_per_s"] / sign1), "", ""))
    rows.append(("one core: ES256 verify, raw OpenSSL",
                 fmt_rate(crypto["es256_verify_per_s"]),
                 "%.2f x raw sign" % (crypto["es256_verify_per_s"] / sign1), "", ""))
    rows.append(("one core: SHA-256, 16 KiB blocks",
                 "{:,.0f} MB/s".format(crypto["sha256_mb_per_s"]), "", "", ""))
    entry("issue_es256_sign_1core", sign1, "ops/s", baseline=True)
    entry("issue_jws_sign_es256_1core", crypto["jws_sign_es256_per_s"], "ops/s",
          crypto["jws_sign_es256_per_s"] / sign1, "issue_es256_sign_1core")
    entry("issue_es256_verify_1core", crypto["es256_verify_per_s"], "ops/s",
          crypto["es256_verify_per_s"] / sign1, "issue_es256_sign_1core")
    entry("issue_sha256_1core", crypto["sha256_mb_per_s"], "MB/s")

    # closed loop
    conns = sorted({r["connections"] for r in runs if r.get("kind") == "closed"})
    for c in conns:
        f = median_run([r for r in runs if r.get("kind") == "closed" and
                        r["server"] == "floor" and r["connections"] == c])
        b = median_run([r for r in runs if r.get("kind") == "closed" and
                        r["server"] == "broker" and r["connections"] == c])
        if f is None or b is None:
            continue
        ratio = b["rps"] / f["rps"] if f["rps"] > 0 else 0
        ok = ratio >= TARGET_FLOOR_RATIO
        rows.append(("broker tokens/s, %d connections" % c, fmt_rate(b["rps"]),
                     "%.2f x floor" % ratio, ">= 0.7 x floor", met(ok)))
        rows.append(("", "", "%.3f x one core's raw sign" % (b["rps"] / sign1), "", ""))
        rows.append(("  floor, %d connections" % c, fmt_rate(f["rps"]),
                     "%.3f x one core's raw sign" % (f["rps"] / sign1), "", ""))
        rows.append(("  broker p50 / p99 / p99.9", lat(b), "", "", ""))
        rows.append(("  floor  p50 / p99 / p99.9", lat(f), "", "", ""))
        rows.append(("  replies per worker thread: broker / floor",
                     "%s / %s" % (split(b), split(f)), "", "", ""))
        rows.append(("  CPU cores used: broker + its loadgen",
                     "%.2f + %.2f" % (b.get("server_cores", 0), gen_cores(b)),
                     "", "", ""))
        rows.append(("  CPU cores used: floor + its loadgen",
                     "%.2f + %.2f" % (f.get("server_cores", 0), gen_cores(f)),
                     "", "", ""))
        entry("issue_floor_c%d" % c, f["rps"], "req/s", f["rps"] / sign1,
              "issue_es256_sign_1core", latency_ms=f["latency_ms"],
              connections=c, threads=a.threads,
              worker_replies=f.get("worker_replies"))
        entry("issue_broker_c%d" % c, b["rps"], "tokens/s", ratio,
              "issue_floor_c%d" % c, ">= 0.7", ok, latency_ms=b["latency_ms"],
              ratio_sign_1core=round(b["rps"] / sign1, 4), connections=c,
              threads=a.threads, errors=b["errors"],
              worker_replies=b.get("worker_replies"))

    # open loop
    open_runs = [r for r in runs if r.get("kind") == "open"]
    half = [r for r in open_runs if r["server"] == "broker" and
            abs(r.get("fraction", 0) - 0.5) < 1e-9]
    if half:
        h = half[0]
        p99 = h["latency_ms"]["p99"]
        ok = p99 < TARGET_HALF_PEAK_P99_MS and h["errors"] == 0
        rows.append(("broker p99 at half peak (open loop, %s/s)" %
                     "{:,.0f}".format(h["offered_rps"]), "%.2f ms" % p99,
                     "%.2f x target" % (p99 / TARGET_HALF_PEAK_P99_MS),
                     "< 5 ms", met(ok)))
        entry("issue_broker_p99_half_peak", p99, "ms",
              p99 / TARGET_HALF_PEAK_P99_MS, "target", "< 5 ms", ok,
              offered_rps=h["offered_rps"], achieved_rps=h["rps"],
              latency_ms=h["latency_ms"])
        fh = [r for r in open_runs if r["server"] == "floor" and
              abs(r.get("fraction", 0) - 0.5) < 1e-9]
        if fh:
            rows.append(("  floor p99 at half its peak (%s/s)" %
                         "{:,.0f}".format(fh[0]["offered_rps"]),
                         "%.2f ms" % fh[0]["latency_ms"]["p99"], "", "", ""))

    # consent writes: grants, then revokes (the target is for both)
    for kind, what, name in (("grant", "grants", "issue_consent_grants"),
                             ("revoke", "revokes", "issue_consent_revokes")):
        g = [r for r in runs if r.get("kind") == kind]
        if not g:
            continue
        g = g[0]
        ok = g["rps"] >= TARGET_GRANTS and g["errors"] == 0
        rows.append(("consent %s/s, %s (%d connections)" %
                     (what, "store on tmpfs" if diag else "durable",
                      g["connections"]),
                     fmt_rate(g["rps"]), "%.2f x target" % (g["rps"] / TARGET_GRANTS),
                     ">= 10,000/s", met(ok)))
        rows.append(("  %s p50 / p99 / p99.9" % what, lat(g), "", "", ""))
        if g.get("exhausted"):
            # The run used up what it had to send: the rate is over the
            # time it ran.
            rows.append(("  (used up its %d requests after %.1f s)" %
                         (g["requests"], g["seconds"]), "", "", "", ""))
        entry(name, g["rps"], what + "/s",
              g["rps"] / TARGET_GRANTS, "target", ">= 10000", ok,
              latency_ms=g["latency_ms"], connections=g["connections"],
              errors=g["errors"], server_cores=g.get("server_cores"),
              exhausted=g.get("exhausted", False))

    psis = [r.get("cpu_pressure_pct", 0) for r in runs]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0

    # others' benchmark lines already in bench.json
    others = []
    try:
        with open(a.json) as f:
            old = json.load(f)
        if not isinstance(old, list):
            old = []
    except (OSError, ValueError):
        old = []
    mine = {e["name"] for e in entries}
    for e in old:
        if isinstance(e, dict) and e.get("name") not in mine and \
                not str(e.get("name", "")).startswith("issue_"):
            others.append(e)

    print()
    if diag:
        print("DIAGNOSTIC: consentd's store on tmpfs. fdatasync returns at once "
              "and nothing is durable;")
        print("these figures show the broker with the disk taken out. They are "
              "not results, and the targets")
        print("below are shown only for comparison.")
        print()
    print("consent-broker issuance benchmark: %d cores, %d worker threads per "
          "server, load generator on the same cores" % (os.cpu_count() or 0, a.threads))
    print("machine: load average %.2f at the end; CPU pressure (PSI some) "
          "during runs: median %.0f%%, max %.0f%%" %
          (load, statistics.median(psis) if psis else 0, max(psis) if psis else 0))
    print()
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    w2 = max(len(r[2]) for r in rows)
    print("%-*s  %*s  %-*s  %-14s %s" % (w0, "figure", w1, "value", w2, "ratio",
                                         "target", ""))
    for r in rows:
        print("%-*s  %*s  %-*s  %-14s %s" % (w0, r[0], w1, r[1], w2, r[2], r[3], r[4]))
    if others:
        print()
        print("other benchmarks in %s:" % a.json)
        for e in others:
            v = e.get("ops_per_s", e.get("value"))
            unit = "/s" if "ops_per_s" in e else " " + str(e.get("unit", ""))
            ratio = e.get("ratio")
            print("  %-34s %14s  %s" % (e.get("name"), "{:,.4g}{}".format(v, unit)
                                        if isinstance(v, (int, float)) else str(v),
                                        "ratio %.3g" % ratio if isinstance(ratio, (int, float)) else ""))
    print()

    with open(a.json + ".tmp", "w") as f:
        json.dump(others + entries, f, indent=2)
        f.write("\n")
    os.replace(a.json + ".tmp", a.json)

    series = {}
    for name, srv, color in (("consentd (POST /oauth2/token)", "broker", "#1f5fbf"),
                             ("floor (same stack, sign only)", "floor", "#e08000")):
        pts = [(r["offered_rps"], r["rps"], r["latency_ms"]["p99"])
               for r in open_runs if r["server"] == srv]
        if pts:
            series[name] = (color, pts)
    if series:
        svg_plot(series, a.svg, "Issuance: open loop, %d threads, 2 cores shared "
                 "with the load generator%s" % (a.threads, ", store on tmpfs "
                                                "(diagnostic, not durable)"
                                                if diag else ""),
                 "CPU pressure from other work on the machine during the runs: "
                 "median %.0f%% (PSI some)" % (statistics.median(psis) if psis else 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
