#!/usr/bin/env python3
"""Network benchmark (issues 4 and 5): our LibTorch engines beside the
Python packages they replace, on the same GPU, in one run, one table.

  ours:      bench_networks (C++, models/): LPIPS pairs/s at 1920x1080 NV12,
             lpips-size 256 and native, batch 1/16/64, fp32 and fp16; MUSIQ
             frames/s at 1920x1080 NV12 (224, 384 + native: 2233 tokens),
             batch 1/8/32, fp32 and bf16; frames from host memory (score())
             and already in device memory (score_device()).
  reference: the `lpips` package (AlexNet v0.1) as the replaced service ran
             it: each 1080p RGB frame cv2.resize'd to 256x256 (INTER_LINEAR)
             once, batches of 16 pairs, both frames of every pair through
             the network, float conversion on the CPU, fp32 on CUDA; and
             pyiqa's MUSIQ (its own musiq_arch), one frame per call including
             its own multi-scale patching, fp32 on CUDA, each frame uploaded
             as uint8 and converted on the GPU.

Both sides run the same seeded random weights (models/tools ... random
--seed 1), loaded into the packages by tensor name as tests/lpips and
tests/musiq do; nothing is downloaded. Both see the same 32 moving, noisy
NV12 frames (bench_networks --write-frames), cycled; the references get
them converted to RGB by OpenCV beforehand (not timed: it favours them),
and ours reads the NV12 with the same BT.601 limited-range matrix, so the
mean scores agree (a checksum, not a test). Our engine runs each frame
through the network once (its features serve pairs (t-1, t) and (t, t+1));
the service ran both frames of every pair.

Timing (docs/performance.md, "How to measure"): per configuration a warm-up
(at least 3 calls), then --reps (5) repetitions of whole calls until at
least --min-items (600) items and --min-seconds (0.5) have gone by, or
--max-seconds (2) have; the device is synchronised before every clock
read; the table gives the median and min-max over the repetitions. fp32
means fp32 on both sides: TF32 is off in cuBLAS and cuDNN.

    python3 tests/bench/bench_networks.py --build build [--json OUT.json]
    meson test -C build --benchmark -v networks
    python3 tests/bench/bench_networks.py --build build --cpu-smoke   # no GPU needed

--quick: 3 repetitions of >= 300 items and 0.25 s, or 1 s, for short
device sessions (roughly half the full run's time).
--only lpips or --only musiq runs one network.

Without a CUDA device it prints "not run: no CUDA device (...)" and exits
77 (meson: SKIP). --cpu-smoke runs a tiny configuration on the CPU (224x224
frames, LPIPS at 64x64 and native, batch 2; MUSIQ with longer sides 32,48
and max-seq-len 64) through the same path: weights, engines, references,
table. Its figures mean nothing. Exit status 1 when a configuration failed.
"""

import argparse
import datetime
import importlib.util
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))

# The H100 targets of issues 4 and 5.
LPIPS_RATIO_TARGET = 10.0   # x the lpips package's pairs/s at batch 16
MUSIQ_FPS_TARGET = 500.0    # frames/s in bf16
MUSIQ_RATIO_TARGET = 10.0   # x pyiqa's frames/s


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------

def plan(args):
    """What to run: the benchmark proper, or the tiny CPU smoke."""
    if args.cpu_smoke:
        return dict(cpu=True, width=224, height=224, frames=8,
                    lpips_sizes=[64, 0], lpips_batches=[2], lpips_precisions=["fp32", "fp16"],
                    musiq_batches=[1, 2], musiq_precisions=["fp32", "bf16"],
                    musiq_sides=[32, 48], musiq_max_seq_len=64,
                    ref_lpips_size=64, ref_lpips_batch=2,
                    reps=3, min_items=8, min_seconds=0.2, max_seconds=1.0)
    if args.quick:
        # A shorter run where device time is short; fewer than the method's
        # 5 repetitions and 600 items, and the table says so.
        args.reps, args.min_items, args.min_seconds, args.max_seconds = 3, 300, 0.25, 1.0
    return dict(cpu=False, width=1920, height=1080, frames=args.frames,
                lpips_sizes=[256, 0], lpips_batches=[1, 16, 64], lpips_precisions=["fp32", "fp16"],
                musiq_batches=[1, 8, 32], musiq_precisions=["fp32", "bf16"],
                musiq_sides=[224, 384], musiq_max_seq_len=-1,
                ref_lpips_size=256, ref_lpips_batch=16,
                reps=args.reps, min_items=args.min_items, min_seconds=args.min_seconds,
                max_seconds=args.max_seconds)


def find_exe(args):
    # Absolute: meson passes it relative to the build directory.
    return os.path.abspath(args.exe or os.path.join(args.build, "tests", "bench", "bench_networks"))


def find_weights(args):
    """The seeded weights: given, the build's test weights, or made here."""
    made = os.path.join(args.build, "tests", "bench", "networks-weights")
    lp = args.lpips_weights or os.path.join(args.build, "tests", "lpips", "lpips-random-seed1.safetensors")
    mq = args.musiq_weights or os.path.join(args.build, "tests", "musiq", "musiq-koniq10k-seed1.safetensors")
    tools = os.path.join(ROOT, "models", "tools")
    if not os.path.exists(lp):
        lp = os.path.join(made, "lpips-random-seed1.safetensors")
        if not os.path.exists(lp):
            os.makedirs(made, exist_ok=True)
            subprocess.run([sys.executable, os.path.join(tools, "lpips_weights.py"), "random", "--seed", "1", lp],
                           check=True)
    if not os.path.exists(mq):
        mq = os.path.join(made, "musiq-koniq10k-seed1.safetensors")
        if not os.path.exists(mq):
            os.makedirs(made, exist_ok=True)
            subprocess.run([sys.executable, os.path.join(tools, "musiq_weights.py"), "random", "--seed", "1",
                            "--variant", "koniq10k", mq], check=True)
    return lp, mq


# --------------------------------------------------------------------------
# Ours
# --------------------------------------------------------------------------

def ours_command(exe, p, args, lp, mq):
    cmd = [exe, "--width", str(p["width"]), "--height", str(p["height"]), "--frames", str(p["frames"]),
           "--reps", str(p["reps"]), "--min-items", str(p["min_items"]),
           "--min-seconds", str(p["min_seconds"]), "--max-seconds", str(p["max_seconds"])]
    cmd += ["--cpu"] if p["cpu"] else ["--device", str(args.device)]
    if "lpips" in args.only:
        cmd += ["--lpips", lp, "--lpips-sizes", ",".join(map(str, p["lpips_sizes"])),
                "--lpips-batches", ",".join(map(str, p["lpips_batches"])),
                "--lpips-precisions", ",".join(p["lpips_precisions"])]
    if "musiq" in args.only:
        cmd += ["--musiq", mq, "--musiq-batches", ",".join(map(str, p["musiq_batches"])),
                "--musiq-precisions", ",".join(p["musiq_precisions"]),
                "--musiq-sides", ",".join(map(str, p["musiq_sides"])),
                "--musiq-max-seq-len", str(p["musiq_max_seq_len"])]
    return cmd


def run_ours(cmd):
    """Runs bench_networks; returns (exit status, machine, rows, other lines)."""
    log("bench_networks:", " ".join(cmd))
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)  # progress: stderr, passed through
    machine, rows, other = {}, [], []
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            obj = json.loads(line)
            if "machine" in obj:
                machine = obj["machine"]
            else:
                rows.append(obj)
        elif line.strip():
            other.append(line.strip())
    return proc.returncode, machine, rows, other


# --------------------------------------------------------------------------
# References
# --------------------------------------------------------------------------

def read_frames(path, width, height, count):
    """The benchmark's NV12 frames as RGB, converted by OpenCV (BT.601
    limited range, the matrix ours is given)."""
    import cv2
    import numpy as np
    raw = np.fromfile(path, dtype=np.uint8)
    per = width * height * 3 // 2
    assert raw.size == per * count, (raw.size, per, count)
    return [cv2.cvtColor(raw[i * per:(i + 1) * per].reshape(height * 3 // 2, width), cv2.COLOR_YUV2RGB_NV12)
            for i in range(count)]


def time_reps(step, sync, p):
    """The C++ program's rule: warm-up, then p["reps"] repetitions of whole
    calls until min_items and min_seconds, or max_seconds. step() makes one
    call and returns the scores it produced (one per item)."""
    t0 = time.perf_counter()
    calls = 0
    while calls < 3 or time.perf_counter() - t0 < 0.5 * p["min_seconds"]:
        step()
        calls += 1
    sync()
    warmup = time.perf_counter() - t0
    rates, items_per_rep, scores = [], [], []
    for _ in range(p["reps"]):
        sync()
        t0 = time.perf_counter()
        items = 0
        while True:
            s = step()
            sync()
            items += len(s)
            scores.extend(s)
            elapsed = time.perf_counter() - t0
            if (items >= p["min_items"] and elapsed >= p["min_seconds"]) or elapsed >= p["max_seconds"]:
                break
        rates.append(items / elapsed)
        items_per_rep.append(items)
    srt = sorted(rates)
    finite = [v for v in scores if v == v and abs(v) != float("inf")]
    return dict(median=srt[len(srt) // 2], min=srt[0], max=srt[-1], rates=rates, items=items_per_rep,
                mean_score=(sum(finite) / len(finite)) if finite else None, warmup_s=warmup)


def torch_setup(device):
    import torch
    # fp32 parity with ours: no TF32 anywhere.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_num_threads(os.cpu_count() or 1)
    sync = (lambda: torch.cuda.synchronize(device)) if device.startswith("cuda") else (lambda: None)
    return torch, sync


def ref_lpips(rgbs, weights, device, p):
    """The replaced service's LPIPS: cv2.resize to size x size RGB once per
    frame, batches of `batch` pairs, both frames of each pair through
    AlexNet (lpips.LPIPS(prev, curr)), float conversion on the CPU as
    tests/bench/e2e_bench.py's service row does."""
    import cv2
    import numpy as np
    torch, sync = torch_setup(device)
    lref = load_module(os.path.join(ROOT, "tests", "lpips", "lpips_reference.py"), "lpips_reference")
    model = lref.load_model(weights).to(device)
    size, batch = p["ref_lpips_size"], p["ref_lpips_batch"]

    def small(rgb):
        return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_LINEAR) if size else rgb

    def to_tensor(imgs):
        x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float() / 255 * 2 - 1
        return x.to(device)

    state = {"next": 0, "prev": small(rgbs[-1])}

    def step():
        prev, curr = [], []
        for _ in range(batch):
            s = small(rgbs[state["next"]])
            state["next"] = (state["next"] + 1) % len(rgbs)
            prev.append(state["prev"])
            curr.append(s)
            state["prev"] = s
        with torch.no_grad():
            d = model(to_tensor(prev), to_tensor(curr))
        return [float(v) for v in d.flatten().cpu()]

    r = time_reps(step, sync, p)
    r.update(what=f"lpips {pkg_version('lpips')} (AlexNet v0.1) fp32 on {device}, cv2.resize {size}×{size}, "
                  f"{batch} pairs per call, both frames of each pair through the network")
    return r


_PYIQA = {}


def ref_musiq(rgbs, weights, device, p):
    """pyiqa's MUSIQ (musiq_arch, loaded as tests/musiq does), one frame per
    call: uint8 upload, [0, 1] float on the GPU, then its forward (its own
    multi-scale patching and the network), score to the host."""
    torch, sync = torch_setup(device)
    ref = load_module(os.path.join(ROOT, "tests", "musiq", "pyiqa_reference.py"), "pyiqa_reference")
    # pyiqa_reference stubs pyiqa's packages in sys.modules: import them once
    if "musiq_arch" not in _PYIQA:
        _PYIQA["musiq_arch"], _ = ref.import_pyiqa_musiq()
    model, _ = ref.load_model(_PYIQA["musiq_arch"], weights)
    # The scales ours runs (the smoke's are smaller than pyiqa's default).
    model.data_preprocess_opts["longer_side_lengths"] = list(p["musiq_sides"])
    model.data_preprocess_opts["max_seq_len_from_original_res"] = p["musiq_max_seq_len"]
    model = model.to(device).eval()
    frames = [torch.from_numpy(rgb) for rgb in rgbs]
    state = {"next": 0}

    def step():
        x = frames[state["next"]]
        state["next"] = (state["next"] + 1) % len(frames)
        with torch.no_grad():
            x = x.to(device).permute(2, 0, 1).unsqueeze(0).float() / 255.0
            return [float(model(x).flatten()[0])]

    r = time_reps(step, sync, p)
    r.update(what=f"pyiqa {pkg_version('pyiqa')} MUSIQ (musiq_arch) fp32 on {device}, one frame per call "
                  f"incl. its patching")
    return r


def pkg_version(name):
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:  # noqa: BLE001 - not installed as a distribution
        return "?"


# --------------------------------------------------------------------------
# Table
# --------------------------------------------------------------------------

def fmt(v):
    return f"{v:.3g}" if v < 100 else f"{v:.0f}"


def fmt_rate(r):
    return f"{fmt(r['median'])} ({fmt(r['min'])}–{fmt(r['max'])})"


def size_label(row):
    if row["network"] == "lpips":
        return "native" if row["size"] == 0 else f"{row['size']}×{row['size']}"
    return f"{row['sides']} + native ({row['tokens']} tokens)"


def ratio_and_check(row, refs, p, smoke):
    """(reference, ratio, target check) cells of one of our rows."""
    ref = refs.get(row["network"])
    if row["network"] == "lpips" and row["size"] != p["ref_lpips_size"]:
        return "—", "—", "—"
    if ref is None or "error" in row:
        return "—", "—", "—"
    if "not_run" in ref:
        return "not run: " + ref["not_run"], "—", "—"
    ratio = row["median"] / ref["median"]
    checks = []
    if row["network"] == "lpips":
        if row["batch"] == p["ref_lpips_batch"]:
            checks.append(f"≥{LPIPS_RATIO_TARGET:g}×: " + ("yes" if ratio >= LPIPS_RATIO_TARGET else "no"))
    else:
        if row["precision"] == "bf16":
            checks.append(f"≥{MUSIQ_FPS_TARGET:g} f/s: " + ("yes" if row["median"] >= MUSIQ_FPS_TARGET else "no"))
        checks.append(f"≥{MUSIQ_RATIO_TARGET:g}×: " + ("yes" if ratio >= MUSIQ_RATIO_TARGET else "no"))
    check = "; ".join(checks) if checks else "—"
    if smoke and checks:
        check = "n/a (CPU smoke)"
    return fmt(ref["median"]), f"{ratio:.1f}×", check


def print_table(rows, refs, p, smoke):
    header = ["network", "input", "size", "batch", "precision", "frames in", "ours median (min–max)",
              "reference", "ratio", "target", "timed", "mean score"]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(["---", "---", "---", "---:", "---", "---", "---:", "---:", "---:", "---", "---:", "---:"])
          + "|")
    for row in rows:
        unit = row["unit"]
        ours = f"failed: {row['error']}" if "error" in row else f"{fmt_rate(row)} {unit}"
        ref, ratio, check = ratio_and_check(row, refs, p, smoke)
        timed = "—" if "error" in row else f"{len(row['items'])} × {statistics.median(row['items']):.0f}"
        score = "—" if row.get("mean_score") is None else f"{row['mean_score']:.5g}"
        if row.get("nonfinite"):
            score += f" ({row['nonfinite']} non-finite)"
        cells = [("LPIPS" if row["network"] == "lpips" else "MUSIQ"),
                 f"{row['width']}×{row['height']} {row['format']}", size_label(row), str(row["batch"]),
                 row["precision"], row["frames_in"], ours, ref, ratio, check, timed, score]
        print("| " + " | ".join(cells) + " |")


def print_summary(rows, refs, p, smoke):
    def verdict(ok):
        # The targets are for an H100; a CPU smoke run only checks the path.
        return "n/a (CPU smoke)" if smoke else ("met" if ok else "NOT met")

    lines = []
    for name, ref in refs.items():
        if "not_run" in ref:
            lines.append(f"- reference {name}: not run: {ref['not_run']}")
            continue
        unit = "pairs/s" if name == "lpips" else "frames/s"
        lines.append(f"- reference {name}: {ref['what']}: {fmt_rate(ref)} {unit}, "
                     f"{len(ref['items'])} × {statistics.median(ref['items']):.0f} timed, mean score "
                     f"{ref['mean_score']:.5g}")
    ok = [r for r in rows if "error" not in r]
    lp = refs.get("lpips")
    if lp and "not_run" not in lp:
        cand = [r for r in ok if r["network"] == "lpips" and r["size"] == p["ref_lpips_size"]
                and r["batch"] == p["ref_lpips_batch"]]
        for prec in sorted({r["precision"] for r in cand}):
            best = max((r for r in cand if r["precision"] == prec), key=lambda r: r["median"])
            ratio = best["median"] / lp["median"]
            lines.append(f"- LPIPS target (≥ {LPIPS_RATIO_TARGET:g}× the lpips package at batch "
                         f"{p['ref_lpips_batch']}), {prec}: {ratio:.1f}× ({best['frames_in']} frames) — "
                         + verdict(ratio >= LPIPS_RATIO_TARGET))
    mq = refs.get("musiq")
    bf16 = [r for r in ok if r["network"] == "musiq" and r["precision"] == "bf16"]
    if bf16:
        best = max(bf16, key=lambda r: r["median"])
        lines.append(f"- MUSIQ target (≥ {MUSIQ_FPS_TARGET:g} frames/s in bf16): {fmt(best['median'])} frames/s "
                     f"(batch {best['batch']}, {best['frames_in']} frames) — "
                     + verdict(best["median"] >= MUSIQ_FPS_TARGET))
    musiq_rows = [r for r in ok if r["network"] == "musiq"]
    if mq and "not_run" not in mq and musiq_rows:
        best = max(musiq_rows, key=lambda r: r["median"])
        ratio = best["median"] / mq["median"]
        lines.append(f"- MUSIQ target (≥ {MUSIQ_RATIO_TARGET:g}× pyiqa): {ratio:.1f}× ({best['precision']}, "
                     f"batch {best['batch']}, {best['frames_in']} frames) — "
                     + verdict(ratio >= MUSIQ_RATIO_TARGET))
    if smoke:
        lines.append("- CPU smoke run: tiny frames and scales on the CPU, to check the path; the figures and "
                     "target checks mean nothing")
    print("\n".join(lines))


def machine_line(machine, args, p, elapsed):
    parts = [datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")]
    if p["cpu"]:
        parts.append("CPU smoke (engines and references on the CPU)")
    else:
        gpu = machine.get("gpu", "?")
        driver = "?"
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader",
                                  "-i", str(args.device)], capture_output=True, text=True, timeout=30)
            if out.returncode == 0 and out.stdout.strip():
                driver = out.stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            pass
        rt = machine.get("cuda_runtime", 0)
        parts.append(f"GPU {args.device}: {gpu}, {machine.get('sms', '?')} SMs, "
                     f"{machine.get('memory_gib', 0):.0f} GiB; driver {driver}; CUDA runtime "
                     f"{rt // 1000}.{rt % 1000 // 10}")
    cpu = "unknown CPU"
    try:
        m = re.search(r"Model name:\s*(.+)", subprocess.run(["lscpu"], capture_output=True, text=True).stdout)
        if m:
            cpu = m.group(1).strip()
    except OSError:
        pass
    parts.append(f"{cpu}, {os.cpu_count()} CPUs")
    try:
        import torch
        parts.append(f"torch {torch.__version__} (CUDA {torch.version.cuda})")
    except ImportError:
        parts.append("no torch")
    try:
        import cv2
        parts.append(f"OpenCV {cv2.__version__}")
    except ImportError:
        pass
    parts.append(f"lpips {pkg_version('lpips')}, pyiqa {pkg_version('pyiqa')}")
    parts.append(f"Python {platform.python_version()}")
    try:
        commit = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True,
                                text=True).stdout.strip()
        if commit:
            parts.append(f"commit {commit}")
    except OSError:
        pass
    parts.append(f"build {args.build}; run took {elapsed:.0f} s")
    return "; ".join(parts)


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="meson build directory")
    ap.add_argument("--exe", help="bench_networks (default: BUILD/tests/bench/bench_networks)")
    ap.add_argument("--lpips-weights", help="LPIPS safetensors (default: the build's seeded test weights)")
    ap.add_argument("--musiq-weights", help="MUSIQ safetensors (default: the build's seeded test weights)")
    ap.add_argument("--device", type=int, default=0, help="CUDA device index")
    ap.add_argument("--only", default="lpips,musiq", help="networks to run: lpips,musiq")
    ap.add_argument("--frames", type=int, default=32, help="distinct frames, cycled")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--min-items", type=int, default=600)
    ap.add_argument("--min-seconds", type=float, default=0.5)
    ap.add_argument("--max-seconds", type=float, default=2.0)
    ap.add_argument("--quick", action="store_true",
                    help="3 repetitions of >= 300 items or >= 1 s (about half the time; below the method)")
    ap.add_argument("--no-reference", action="store_true", help="time ours only")
    ap.add_argument("--json", help="also write every figure to this file")
    ap.add_argument("--cpu-smoke", action="store_true", help="tiny CPU run of the whole path (no GPU needed)")
    args = ap.parse_args()
    args.only = [n.strip() for n in args.only.split(",") if n.strip()]
    start = time.time()
    p = plan(args)

    exe = find_exe(args)
    if not os.path.exists(exe):
        print(f"not run: {exe} is not built (it needs LibTorch: meson compile -C {args.build} bench_networks)")
        return 77
    lp, mq = find_weights(args)

    # Ours first, alone on the GPU; the references after it has exited.
    status, machine, rows, other = run_ours(ours_command(exe, p, args, lp, mq))
    if status == 77:
        line = other[0] if other else "not run: no CUDA device"
        print(line)
        return 77
    if status not in (0, 1) or not machine:
        print("\n".join(other))
        print(f"bench_networks failed (exit status {status})")
        return 1

    refs = {}
    device = "cpu" if p["cpu"] else f"cuda:{args.device}"
    if not args.no_reference:
        with tempfile.TemporaryDirectory(prefix="bench-networks-") as tmp:
            raw = os.path.join(tmp, "frames.nv12")
            subprocess.run([exe, "--write-frames", raw, "--width", str(p["width"]), "--height", str(p["height"]),
                            "--frames", str(p["frames"])], check=True)
            try:
                rgbs = read_frames(raw, p["width"], p["height"], p["frames"])
            except ImportError as e:
                rgbs, why = None, f"{e.name} is not installed"
        cuda_ok = True
        if not p["cpu"]:
            try:
                import torch
                cuda_ok = torch.cuda.is_available()
            except ImportError:
                cuda_ok = False
        for name, fn, weights in (("lpips", ref_lpips, lp), ("musiq", ref_musiq, mq)):
            if name not in args.only:
                continue
            if rgbs is None:
                refs[name] = {"not_run": why}
            elif not cuda_ok:
                refs[name] = {"not_run": "torch sees no CUDA device"}
            else:
                log(f"bench_networks.py: reference {name} on {device}")
                try:
                    refs[name] = fn(rgbs, weights, device, p)
                except ImportError as e:
                    refs[name] = {"not_run": f"{e.name} is not installed"}
                except SystemExit as e:  # pyiqa_reference exits when pyiqa is missing
                    refs[name] = {"not_run": str(e)}

    elapsed = time.time() - start
    mline = machine_line(machine, args, p, elapsed)
    print()
    print(f"Networks on {'the CPU (smoke)' if p['cpu'] else device}: ours (bench_networks) beside the reference "
          f"packages, same frames, same seeded weights. {p['frames']} distinct {p['width']}×{p['height']} NV12 "
          f"frames cycled; median (min–max) of {p['reps']} repetitions, each ≥ {p['min_items']} items and "
          f"≥ {p['min_seconds']:g} s or ≥ {p['max_seconds']:g} s; LPIPS in pairs/s (one network pass per frame), "
          f"MUSIQ in frames/s. Ratio = ours ÷ reference (LPIPS: the lpips package at "
          f"{p['ref_lpips_size']}×{p['ref_lpips_size']}, {p['ref_lpips_batch']} pairs per call).")
    print()
    print_table(rows, refs, p, p["cpu"])
    print()
    print_summary(rows, refs, p, p["cpu"])
    print()
    print("> " + mline)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "machine_line": mline, "plan": p, "ours": rows, "references": refs},
                      f, indent=1)
    return 1 if status == 1 or any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
