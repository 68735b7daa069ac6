"""Turn `gst-launch-1.0 -m` output into a table of s2smetrics results.

Reads the element messages printed by gst-launch on stdin, prints one row per
frame and the EOS summary, and optionally writes a CSV. Warnings and errors
from the pipeline are passed through."""
import argparse
import csv
import re
import sys

FIELD = re.compile(r"([a-z0-9-]+)=\((\w+)\)(\"[^\"]*\"|[^,;]+)")


def fields(text):
    return {k: v.strip('"') for k, _, v in FIELD.findall(text)}


parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--csv", help="write the per-frame rows here")
args = parser.parse_args()

columns = ["frame", "timestamp", "mse", "inv-ssim", "lpips", "weighted", "status"]
rows, summary = [], None
print(f"{'frame':>6} {'time (s)':>9} {'mse':>12} {'inv-ssim':>12} {'lpips':>9} {'weighted':>12}")
for line in sys.stdin:
    if "(element): s2smetrics-summary," in line:
        summary = fields(line.split("s2smetrics-summary,", 1)[1])
    elif "(element): s2smetrics," in line:
        f = fields(line.split("s2smetrics,", 1)[1])
        rows.append(f)
        t = int(f["timestamp"]) / 1e9 if f["timestamp"].isdigit() else float("nan")
        print(f"{f['frame']:>6} {t:9.3f} {float(f['mse']):12.4f} {float(f['inv-ssim']):12.6f} "
              f"{float(f['lpips']):9.4f} {float(f['weighted']):12.4f}")
    elif line.startswith(("ERROR", "WARNING")) or "Additional debug info" in line:
        print(line.rstrip(), file=sys.stderr)

if summary:
    print(f"\n{summary['frames']} pairs")
    for m in ("mse", "inv-ssim", "lpips", "weighted"):
        print(f"  {m:9s} mean {float(summary[m + '-mean']):.6g}  min {float(summary[m + '-min']):.6g}  "
              f"max {float(summary[m + '-max']):.6g}  p95 {float(summary[m + '-p95']):.6g}")
if args.csv:
    with open(args.csv, "w", newline="") as out:
        w = csv.writer(out)
        w.writerow(columns)
        for r in rows:
            w.writerow([r.get(c, "") for c in columns])
    print(f"wrote {len(rows)} rows to {args.csv}")
sys.exit(0 if rows else 1)
