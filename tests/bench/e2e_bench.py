#!/usr/bin/env python3
"""End-to-end benchmark: a video file in, per-frame numbers out (issue 8).

One run times, on the same machine and the same H.264 files:

  (a) the replaced service, rebuilt from its published definitions:
      cv2.VideoCapture decode, cv2.cvtColor(BGR2GRAY), NumPy MSE in float64,
      skimage.metrics.structural_similarity(prev, curr, data_range=255), and
      the `lpips` package (AlexNet v0.1) on cv2.resize 256x256 RGB frames in
      batches of 16 pairs, both frames of each pair through the network, on
      CUDA when torch sees a GPU. Without a GPU its CPU part (decode + gray +
      MSE + SSIM) and its LPIPS part on the CPU are separate rows;
  (b) ours: gst-launch-1.0 filesrc ! qtdemux ! h264parse ! avdec_h264 !
      s2smetrics ! fakesink (system memory), MSE + inverse SSIM and with
      LPIPS; nvh264dec (system memory, and CUDA memory where s2smetrics
      accepts it) when GStreamer has nvh264dec;
  (c) FFmpeg's ssim filter between consecutive frames of the same file;
  (d) pyiqa's MUSIQ (its own musiq_arch) against our musiqscore.

Clips (FFmpeg testsrc2 with temporal noise, or GStreamer's moving zone plate
when there is no ffmpeg, encoded with x264 to .mp4) are generated once into
a cache under the build directory. Networks use seeded random weights made by
models/tools (lpips_weights.py / musiq_weights.py random), loaded into the
reference packages by name as tests/lpips and tests/musiq do, so both sides
run identical weights and nothing is downloaded.

Where the time goes (milliseconds per frame, wall clock of that stage):
  ours:    decode = decode-only pipeline (... ! avdec_h264 ! fakesink);
           convert = s2smetrics metrics=mse element time (gray conversion
           plus the cheap MSE); metrics = s2smetrics element time (from its
           GST_DEBUG "batch of N frames ... in X ms" lines), which includes
           convert; network = LPIPS/MUSIQ element time minus the MSE+SSIM part.
           The decoder's threads run while the element works, so the stages
           can add up to more than 1000 / (frames/s).
  service: each stage timed in-process, one after the other as it ran.
  ffmpeg:  decode = ffmpeg -i clip -f null -; metrics = the rest.

Usage:
    python3 tests/bench/e2e_bench.py [--build build] [--sizes 720p,1080p,2160p]
        [--rows a,b,c,d] [--frames N] [--quick] [--markdown] [--tune]
    meson test -C build --benchmark -v e2e

Prints one table (--markdown: ready to paste). Never asserts timings.
"""

import argparse
import datetime
import importlib.util
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))

SIZES = {"720p": (1280, 720), "1080p": (1920, 1080), "2160p": (3840, 2160)}
FPS = 30


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------

class Row:
    """One line of the table."""

    def __init__(self, size, key, what, ref=None):
        self.size = size
        self.key = key          # e.g. "a-cpu"
        self.what = what        # human description
        self.ref = ref          # key of the row the speed-up is taken over
        self.frames = None      # frames (or pairs) timed per repetition
        self.reps = None
        self.fps = []           # one figure per repetition / block
        self.gpu_mem = None     # MiB
        self.decode = None      # ms per frame
        self.convert = None
        self.metrics = None
        self.network = None
        self.note = ""
        self.not_run = None     # reason

    @property
    def median(self):
        return statistics.median(self.fps) if self.fps else None

    def skip(self, why):
        self.not_run = why
        return self


def fmt_fps(row):
    if row.not_run:
        return "not run: " + row.not_run
    if not row.fps:
        return "failed"
    m = row.median
    if len(row.fps) == 1:
        return f"{m:.3g}" if m < 100 else f"{m:.0f}"
    lo, hi = min(row.fps), max(row.fps)
    f = (lambda v: f"{v:.3g}") if m < 100 else (lambda v: f"{v:.0f}")
    return f"{f(m)} ({f(lo)}–{f(hi)})"


def fmt_ms(v):
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    return f"{v:.3g}" if v < 100 else f"{v:.0f}"


def speedup(row, rows_by_key):
    if row.not_run or not row.fps or not row.ref:
        return "—"
    ref_key = row.ref
    if callable(ref_key):
        ref_fps = ref_key(rows_by_key)
    else:
        ref = rows_by_key.get((row.size, ref_key))
        ref_fps = ref.median if ref and not ref.not_run and ref.fps else None
    if not ref_fps:
        return "—"
    return f"{row.median / ref_fps:.1f}×"


def print_table(rows, markdown):
    by_key = {(r.size, r.key): r for r in rows}
    header = ["size", "row", "what", "frames timed", "frames/s median (min–max)", "speed-up over (a)",
              "GPU mem", "decode ms/f", "convert ms/f", "metrics ms/f", "network ms/f", "notes"]
    lines = []
    for r in rows:
        frames = "—" if r.not_run or r.frames is None else (
            f"{r.reps} × {r.frames}" if r.reps and r.reps > 1 else f"{r.frames}")
        gpu = "—" if r.gpu_mem is None else f"{r.gpu_mem:.0f} MiB"
        lines.append([r.size, r.key, r.what, frames, fmt_fps(r), speedup(r, by_key), gpu,
                      fmt_ms(r.decode), fmt_ms(r.convert), fmt_ms(r.metrics), fmt_ms(r.network), r.note])
    if markdown:
        out = ["| " + " | ".join(header) + " |",
               "|" + "|".join(["---", "---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:",
                               "---"]) + "|"]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in l) + " |" for l in lines]
        print("\n".join(out))
        return
    widths = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(header)]
    print("  ".join(h.ljust(widths[i]) for i, h in enumerate(header)).rstrip())
    for l in lines:
        print("  ".join(c.ljust(widths[i]) for i, c in enumerate(l)).rstrip())


# --------------------------------------------------------------------------
# Environment
# --------------------------------------------------------------------------

def have(cmd):
    return shutil.which(cmd) is not None


def torch_cuda():
    try:
        import torch
        return torch.cuda.is_available()
    except Exception:  # noqa: BLE001 - no torch: no CUDA either
        return False


class Gst:
    """gst-launch-1.0 / gst-inspect-1.0 with the build's plugin."""

    def __init__(self, build):
        self.env = dict(os.environ)
        self.env["GST_PLUGIN_PATH"] = os.path.join(build, "gst") + (
            os.pathsep + os.environ["GST_PLUGIN_PATH"] if os.environ.get("GST_PLUGIN_PATH") else "")
        self.env.pop("GST_DEBUG", None)
        self._inspect = {}

    def inspect(self, element):
        if element not in self._inspect:
            try:
                p = subprocess.run(["gst-inspect-1.0", element], env=self.env, capture_output=True, text=True,
                                   timeout=120)
                self._inspect[element] = p.stdout if p.returncode == 0 else None
            except (OSError, subprocess.TimeoutExpired):
                self._inspect[element] = None
        return self._inspect[element]

    def has(self, element):
        return self.inspect(element) is not None

    def launch(self, description, debug=None, gpu_poll=False):
        """Runs a pipeline to EOS. Returns (seconds PLAYING->EOS, stderr text,
        peak GPU MiB or None)."""
        env = dict(self.env)
        if debug:
            env["GST_DEBUG"] = debug
            env["GST_DEBUG_NO_COLOR"] = "1"
        args = ["gst-launch-1.0", "-q"] + split_description(description)
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        poller = GpuPoller(proc.pid) if gpu_poll else None
        out, err = proc.communicate()
        wall = time.perf_counter() - t0
        if poller:
            poller.stop()
        if proc.returncode != 0:
            raise RuntimeError(f"gst-launch failed ({proc.returncode}): {description}\n{err[-2000:]}{out[-2000:]}")
        m = re.search(r"Execution ended after (\d+):(\d+):(\d+)\.(\d+)", out + err)
        seconds = wall
        if m:
            seconds = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3)) + int(m.group(4)) / 1e9
        return seconds, err, poller.peak if poller else None


def split_description(description):
    # gst-launch takes the description as separate arguments; caps with
    # parentheses are kept whole by quoting them in the description.
    import shlex
    return shlex.split(description)


class GpuPoller:
    """Peak GPU memory of a process from nvidia-smi, polled every 0.1 s."""

    def __init__(self, pid):
        self.pid = pid
        self.peak = None
        self._stop = threading.Event()
        if have("nvidia-smi"):
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        else:
            self._thread = None

    def _run(self):
        while not self._stop.is_set():
            try:
                out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory",
                                      "--format=csv,noheader,nounits"], capture_output=True, text=True,
                                     timeout=5).stdout
                for line in out.splitlines():
                    parts = [p.strip() for p in line.split(",")]
                    if len(parts) == 2 and parts[0] == str(self.pid):
                        self.peak = max(self.peak or 0, float(parts[1]))
            except (OSError, subprocess.TimeoutExpired, ValueError):
                pass
            self._stop.wait(0.1)

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join()


# --------------------------------------------------------------------------
# Clips and weights
# --------------------------------------------------------------------------

def make_clip(cache, size, frames):
    """H.264 .mp4 of `frames` frames at `size`; cached. Every clip of a size
    starts with the same frames."""
    w, h = SIZES[size]
    path = os.path.join(cache, f"e2e-{size}-{frames}.mp4")
    if os.path.exists(path):
        return path
    os.makedirs(cache, exist_ok=True)
    tmp = path + ".part.mp4"
    log(f"e2e: encoding {os.path.basename(path)}")
    if have("ffmpeg"):
        # testsrc2: moving objects, gradients, text; plus temporal noise so
        # every pair differs everywhere and the decoder has real work.
        src = f"testsrc2=size={w}x{h}:rate={FPS},noise=alls=10:allf=t+u,format=yuv420p"
        cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", src,
               "-frames:v", str(frames), "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-g", "60",
               "-pix_fmt", "yuv420p", "-movflags", "+faststart", tmp]
    else:
        cmd = ["gst-launch-1.0", "-q", "videotestsrc", f"num-buffers={frames}", "pattern=zone-plate",
               "kx2=20", "ky2=20", "kt=1", "kxt=3", "!",
               f"video/x-raw,width={w},height={h},framerate={FPS}/1,format=I420", "!",
               "x264enc", "speed-preset=veryfast", "key-int-max=60", "!", "mp4mux", "!",
               "filesink", f"location={tmp}"]
    subprocess.run(cmd, check=True)
    os.replace(tmp, path)
    return path


def make_weights(cache, python):
    tools = os.path.join(ROOT, "models", "tools")
    os.makedirs(cache, exist_ok=True)
    lp = os.path.join(cache, "lpips-random-seed1.safetensors")
    mq = os.path.join(cache, "musiq-koniq10k-random-seed1.safetensors")
    if not os.path.exists(lp):
        subprocess.run([python, os.path.join(tools, "lpips_weights.py"), "random", "--seed", "1", lp], check=True)
    if not os.path.exists(mq):
        subprocess.run([python, os.path.join(tools, "musiq_weights.py"), "random", "--seed", "1",
                        "--variant", "koniq10k", mq], check=True)
    return lp, mq


def load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------
# (a) the service
# --------------------------------------------------------------------------

def blocks_fps(times, blocks):
    """Splits per-pair times into `blocks` consecutive blocks; pairs/s of each."""
    n = len(times)
    blocks = max(1, min(blocks, n))
    out = []
    for b in range(blocks):
        part = times[b * n // blocks:(b + 1) * n // blocks]
        if part:
            out.append(len(part) / sum(part))
    return out


def service_cpu(row, clip, frames, blocks):
    """Decode + gray + MSE + SSIM, one pair after another, as the service."""
    import cv2
    import numpy as np
    from skimage.metrics import structural_similarity
    cap = cv2.VideoCapture(clip)
    if not cap.isOpened():
        return row.skip("OpenCV cannot open the clip")
    t_dec, t_gray, t_met, per_pair = [], [], [], []
    prev = None
    warm = 2
    for i in range(frames):
        t0 = time.perf_counter()
        ok, bgr = cap.read()
        t1 = time.perf_counter()
        if not ok:
            break
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        t2 = time.perf_counter()
        if prev is not None:
            mse = float(np.mean((prev.astype(np.float64) - gray.astype(np.float64)) ** 2))
            ssim = structural_similarity(prev, gray, data_range=255)
            del mse, ssim
        t3 = time.perf_counter()
        prev = gray
        if i >= warm:
            t_dec.append(t1 - t0)
            t_gray.append(t2 - t1)
            t_met.append(t3 - t2)
            per_pair.append(t3 - t0)
    cap.release()
    row.frames = len(per_pair)
    row.reps = 1
    row.fps = blocks_fps(per_pair, blocks)
    row.decode = 1000 * statistics.fmean(t_dec)
    row.convert = 1000 * statistics.fmean(t_gray)
    row.metrics = 1000 * statistics.fmean(t_met)
    row.note = f"1 pass of {row.frames} pairs after {warm} warm-up; spread over {len(row.fps)} blocks"
    return row


def service_lpips(row, clip, frames, blocks, weights, device, with_cpu_part):
    """The service's LPIPS: cv2.resize 256x256 RGB, batches of 16 pairs, both
    frames of each pair through AlexNet. With with_cpu_part, the whole
    service: decode + gray + MSE + SSIM per frame too."""
    import cv2
    import numpy as np
    import torch
    lref = load_module(os.path.join(ROOT, "tests", "lpips", "lpips_reference.py"), "lpips_reference")
    torch.set_num_threads(os.cpu_count() or 1)
    model = lref.load_model(weights).to(device)
    if with_cpu_part:
        from skimage.metrics import structural_similarity
    cap = cv2.VideoCapture(clip)
    if not cap.isOpened():
        return row.skip("OpenCV cannot open the clip")
    sync = (lambda: torch.cuda.synchronize()) if device == "cuda" else (lambda: None)
    poller = None
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        poller = GpuPoller(os.getpid())

    def to_tensor(imgs):
        x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float() / 255 * 2 - 1
        return x.to(device)

    # warm-up batch (cuDNN autotune, allocator, OpenMP threads)
    dummy = [np.full((256, 256, 3), 100, np.uint8)] * 16
    with torch.no_grad():
        model(to_tensor(dummy), to_tensor(dummy))
    sync()

    t_dec = t_conv = t_met = t_net = 0.0
    batches = []          # (pairs, seconds) per batch of up to 16 pairs
    pend_prev, pend_curr = [], []
    prev_gray = prev_small = None
    acc = 0.0
    n_frames = n_pairs = 0
    for i in range(frames):
        t0 = time.perf_counter()
        ok, bgr = cap.read()
        t1 = time.perf_counter()
        if not ok:
            break
        n_frames += 1
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        small = cv2.resize(rgb, (256, 256), interpolation=cv2.INTER_LINEAR)
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if with_cpu_part else None
        t2 = time.perf_counter()
        if with_cpu_part and prev_gray is not None:
            float(np.mean((prev_gray.astype(np.float64) - gray.astype(np.float64)) ** 2))
            structural_similarity(prev_gray, gray, data_range=255)
        t3 = time.perf_counter()
        if prev_small is not None:
            pend_prev.append(prev_small)
            pend_curr.append(small)
        flushed = 0
        if len(pend_prev) == 16 or (i == frames - 1 and pend_prev):
            with torch.no_grad():
                d = model(to_tensor(pend_prev), to_tensor(pend_curr))
            d.flatten().cpu()
            sync()
            flushed = len(pend_prev)
            pend_prev, pend_curr = [], []
        t4 = time.perf_counter()
        prev_gray, prev_small = gray, small
        t_dec += t1 - t0
        t_conv += t2 - t1
        t_met += t3 - t2
        t_net += t4 - t3
        # whole service: every stage; LPIPS part alone: resize + network
        acc += (t4 - t0) if with_cpu_part else (t2 - t1) + (t4 - t3)
        if flushed:
            batches.append((flushed, acc))
            n_pairs += flushed
            acc = 0.0
    cap.release()
    if pend_prev:  # the clip ended early: score the rest too
        with torch.no_grad():
            model(to_tensor(pend_prev), to_tensor(pend_curr)).flatten().cpu()
        sync()
        batches.append((len(pend_prev), acc))
        n_pairs += len(pend_prev)
    if not n_pairs:
        return row.skip("no pairs decoded")
    row.frames = n_pairs
    row.reps = 1
    nb = max(1, min(blocks, len(batches)))
    row.fps = []
    for b in range(nb):
        part = batches[b * len(batches) // nb:(b + 1) * len(batches) // nb]
        if part:
            row.fps.append(sum(p for p, _ in part) / sum(t for _, t in part))
    per = 1000.0 / n_frames
    row.convert = per * t_conv
    row.network = per * t_net
    if with_cpu_part:
        row.decode = per * t_dec
        row.metrics = per * t_met
    if device == "cuda":
        poller.stop()
        # the process's memory as nvidia-smi sees it (CUDA context included),
        # like ours; torch's allocator peak where there is no nvidia-smi
        row.gpu_mem = poller.peak or torch.cuda.max_memory_allocated() / 2 ** 20
    row.note = f"lpips package on {device}, " \
               f"batches of 16 pairs, both frames of each pair through AlexNet; convert = BGR→RGB + resize" \
               + (" + gray" if with_cpu_part else "; decode not included")
    return row


# --------------------------------------------------------------------------
# (b) ours
# --------------------------------------------------------------------------

QUEUE = "! queue max-size-buffers=32 max-size-bytes=0 max-size-time=0"
BATCH_RE = re.compile(r"batch of (\d+) frames: (\d+) \w+ (?:scored )?on (\S+) in ([0-9.]+) ms")


def element_ms(stderr):
    """Sum of the element's per-batch times, frames and scored frames or
    pairs from its debug log, and the engine it names."""
    total, frames, scored, engine = 0.0, 0, 0, None
    for m in BATCH_RE.finditer(stderr):
        frames += int(m.group(1))
        scored += int(m.group(2))
        total += float(m.group(4))
        engine = m.group(3)
    return total, frames, scored, engine


def decoder_chain(clip, decoder, dec_opts=""):
    return f"filesrc location={clip} ! qtdemux ! h264parse ! {decoder} {dec_opts}".rstrip()


def run_gst(gst, desc, frames, reps, debug=None, gpu=False, warmup=True):
    """Warm-up then `reps` runs; returns (fps list, list of stderr, peak MiB)."""
    if warmup:
        gst.launch(desc, debug=debug)
    fps, errs, peak = [], [], None
    for _ in range(reps):
        secs, err, mem = gst.launch(desc, debug=debug, gpu_poll=gpu)
        fps.append(frames / secs)
        errs.append(err)
        if mem is not None:
            peak = max(peak or 0, mem)
    return fps, errs, peak


def ours_metrics(gst, row, clip, frames, reps, decoder, dec_opts, caps, element, decode_ms, convert_ms=None,
                 base_metrics_ms=None, gpu=False):
    desc = f"{decoder_chain(clip, decoder, dec_opts)} {caps} ! {element} ! fakesink sync=false async=false"
    cat = "musiqscore:5" if element.startswith("musiqscore") else "s2smetrics:5"
    fps, errs, peak = run_gst(gst, desc, frames, reps, debug=cat, gpu=gpu)
    row.frames, row.reps, row.fps, row.gpu_mem = frames, reps, fps, peak
    per_frame = []
    engine = None
    scored = 0
    for err in errs:
        total, n, scored, engine = element_ms(err)
        if n:
            per_frame.append(total / n)
    # An element that scored nothing (a pass-through fallback) or not on the
    # device asked for must not give a figure.
    if not scored:
        return row.skip(f"{element.split()[0]} scored no frames (see GST_DEBUG={cat})"), None
    if "device=cuda" in element and engine and "cuda" not in engine.lower():
        return row.skip(f"{element.split()[0]} ran on {engine}, not on CUDA"), None
    if "lpips-model=" in element:
        m = re.search(r"LPIPS model \S+ on (\S+)", errs[-1])
        if not m:
            return row.skip("the LPIPS model did not load (lpips would be NaN)"), None
        if "device=cuda" in element and "cuda" not in m.group(1).lower():
            return row.skip(f"LPIPS ran on {m.group(1)}, not on CUDA"), None
    el = statistics.median(per_frame) if per_frame else None
    started = re.findall(r"(?:started on|LPIPS model \S+ on|MUSIQ \S+ from \S+ on) (\S+)", errs[-1])
    row.decode = decode_ms
    if element.startswith("musiqscore"):
        row.network = el
    elif base_metrics_ms is not None:
        row.metrics = base_metrics_ms
        row.network = None if el is None else max(el - base_metrics_ms, 0.0)
    else:
        row.metrics = el
        row.convert = convert_ms
    row.note = f"{decoder} {dec_opts}".strip() + " → " + re.sub(r"(model=)\S*/", r"\1", element)
    if started:
        row.note += " (on " + ", ".join(dict.fromkeys(started)) + ")"
    elif engine:
        row.note += f" (on {engine})"
    return row, el


def decode_only(gst, clip, frames, reps, decoder, dec_opts="", caps=""):
    desc = f"{decoder_chain(clip, decoder, dec_opts)} {caps} ! fakesink sync=false async=false"
    fps, _, _ = run_gst(gst, desc, frames, reps)
    return fps


# --------------------------------------------------------------------------
# (c) FFmpeg
# --------------------------------------------------------------------------

def ffmpeg_rtime(args):
    p = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-benchmark"] + args, capture_output=True,
                       text=True)
    if p.returncode != 0:
        raise RuntimeError("ffmpeg failed: " + p.stderr[-2000:])
    m = re.search(r"rtime=([0-9.]+)s", p.stderr)
    return float(m.group(1)), p.stderr


def ffmpeg_ssim(row, clip, frames, reps):
    graph = ("[0:v]split[a][b];[b]trim=start_frame=1,setpts=PTS-STARTPTS[b1];"
             "[a]setpts=PTS-STARTPTS[a1];[a1][b1]ssim=shortest=1")
    dec_args = ["-i", clip, "-f", "null", "-"]
    ssim_args = ["-i", clip, "-filter_complex", graph, "-f", "null", "-"]
    ffmpeg_rtime(ssim_args)  # warm-up
    dec, tot = [], []
    for _ in range(reps):
        dec.append(ffmpeg_rtime(dec_args)[0])
        secs, err = ffmpeg_rtime(ssim_args)
        tot.append(secs)
    m = re.search(r"SSIM Y:([0-9.]+)", err)
    row.frames, row.reps = frames - 1, reps
    row.fps = [(frames - 1) / s for s in tot]
    row.decode = 1000 * statistics.median(dec) / frames
    row.metrics = max(1000 * statistics.median(tot) / (frames - 1) - row.decode, 0.0)
    row.note = "split + trim + ssim (x264-style 8×8 SSIM on Y, U, V; not our numbers); metrics = total − decode" + (
        f"; mean SSIM Y {m.group(1)}" if m else "")
    return row


# --------------------------------------------------------------------------
# (d) MUSIQ
# --------------------------------------------------------------------------

_PYIQA = {}


def pyiqa_musiq(row, clip, frames, weights, device):
    import cv2
    import numpy as np
    import torch
    ref = load_module(os.path.join(ROOT, "tests", "musiq", "pyiqa_reference.py"), "pyiqa_reference")
    torch.set_num_threads(os.cpu_count() or 1)
    # pyiqa_reference stubs pyiqa's packages in sys.modules: import them once
    if "musiq_arch" not in _PYIQA:
        _PYIQA["musiq_arch"], _ = ref.import_pyiqa_musiq()
    musiq_arch = _PYIQA["musiq_arch"]
    model, _ = ref.load_model(musiq_arch, weights)
    model = model.to(device)
    sync = (lambda: torch.cuda.synchronize()) if device == "cuda" else (lambda: None)
    poller = None
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        poller = GpuPoller(os.getpid())
    cap = cv2.VideoCapture(clip)
    t_dec, t_conv, t_net, per = [], [], [], []
    for i in range(frames):
        t0 = time.perf_counter()
        ok, bgr = cap.read()
        t1 = time.perf_counter()
        if not ok:
            break
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        x = (torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().unsqueeze(0) / 255.0).to(device)
        t2 = time.perf_counter()
        with torch.no_grad():
            float(model(x).flatten()[0])
        sync()
        t3 = time.perf_counter()
        if i == 0:
            continue  # warm-up frame
        t_dec.append(t1 - t0)
        t_conv.append(t2 - t1)
        t_net.append(t3 - t2)
        per.append(t3 - t0)
    cap.release()
    if not per:
        return row.skip("too few frames")
    row.frames, row.reps = len(per), 1
    row.fps = [1.0 / statistics.median(per)]
    row.decode = 1000 * statistics.fmean(t_dec)
    row.convert = 1000 * statistics.fmean(t_conv)
    row.network = 1000 * statistics.fmean(t_net)
    if device == "cuda":
        poller.stop()
        row.gpu_mem = poller.peak or torch.cuda.max_memory_allocated() / 2 ** 20
    row.note = f"pyiqa musiq_arch on {device}, one frame per call (incl. its patching); " \
               f"frames/s = 1 / median frame time, 1 warm-up frame"
    return row


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------

def tune(gst, cache, args):
    """Decoder threads x batch size x queue at 1080p, MSE+SSIM."""
    size = "1080p" if "1080p" in args.sizes else args.sizes[0]
    n = args.frames_for(size)
    clip = make_clip(cache, size, n)
    print(f"\nTuning at {size}, {n} frames, MSE+SSIM, {args.repeats} repeats (frames/s median):")
    results = []
    for threads in (0, 1, 2):
        for batch in (1, 16, 64):
            for queue in (False, True):
                dec = f"max-threads={threads}" if threads else ""
                q = " " + QUEUE if queue else ""
                el = f"s2smetrics metrics=mse+inv-ssim device=cpu batch-size={batch}"
                desc = f"{decoder_chain(clip, 'avdec_h264', dec)}{q} ! {el} ! fakesink sync=false async=false"
                fps, _, _ = run_gst(gst, desc, n, args.repeats)
                results.append((statistics.median(fps), threads, batch, queue))
                print(f"  avdec_h264 max-threads={threads or 'auto'} batch-size={batch:3d} queue={'yes' if queue else 'no '}"
                      f"  {statistics.median(fps):7.1f}  ({min(fps):.1f}–{max(fps):.1f})", flush=True)
    best = max(results)
    print(f"best: max-threads={best[1] or 'auto'} batch-size={best[2]} queue={'yes' if best[3] else 'no'} "
          f"at {best[0]:.1f} frames/s")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=None, help="meson build directory (default: build-bench if it has the "
                   "plugin, else build)")
    p.add_argument("--cache", default=None, help="clip and weight cache (default BUILD/e2e-clips)")
    p.add_argument("--sizes", default="720p,1080p,2160p")
    p.add_argument("--rows", default="a,b,c,d", help="groups a,b,c,d or row keys (a-cpu, b-sys, ...)")
    p.add_argument("--frames", type=int, default=600, help="frames per point for ours and FFmpeg at 720p/1080p")
    p.add_argument("--frames-2160", type=int, default=240, help="the same at 2160p")
    p.add_argument("--service-frames", type=int, default=120,
                   help="pairs of the service's CPU part at 720p/1080p (half at 2160p)")
    p.add_argument("--lpips-frames", type=int, default=64, help="frames for LPIPS rows without a GPU")
    p.add_argument("--musiq-frames", type=int, default=8, help="frames for MUSIQ rows at 720p/1080p")
    p.add_argument("--musiq-frames-2160", type=int, default=3, help="the same at 2160p")
    p.add_argument("--repeats", type=int, default=3, help="timed repetitions after a warm-up")
    p.add_argument("--decoder-threads", type=int, default=0, help="avdec_h264 max-threads (0 = auto)")
    p.add_argument("--batch-size", type=int, default=16, help="s2smetrics batch-size")
    p.add_argument("--quick", action="store_true", help="smoke run: few frames, 1 repeat")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument("--tune", action="store_true", help="also sweep decoder threads / batch size / queue at 1080p")
    args = p.parse_args()

    if args.build is None:
        cands = [os.path.join(ROOT, d) for d in ("build-bench", "build")]
        args.build = next((c for c in cands if os.path.exists(os.path.join(c, "gst", "libgsts2s.so"))), cands[-1])
    args.build = os.path.abspath(args.build)
    cache = os.path.abspath(args.cache or os.path.join(args.build, "e2e-clips"))
    args.sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    for s in args.sizes:
        if s not in SIZES:
            p.error(f"unknown size {s}: expected {', '.join(SIZES)}")
    if args.quick:
        args.frames, args.frames_2160, args.service_frames = 60, 30, 12
        args.lpips_frames, args.musiq_frames, args.musiq_frames_2160, args.repeats = 17, 3, 2, 1
    big = lambda s: s == "2160p"  # noqa: E731
    args.frames_for = lambda s: args.frames_2160 if big(s) else args.frames
    wanted = set(x.strip() for x in args.rows.split(","))

    def want(key):
        return key in wanted or key.split("-")[0] in wanted

    def want_group(group):
        """Whether a group or any of its rows was asked for (b, or b-nvdec-cuda alone)."""
        return any(w == group or w.startswith(group + "-") for w in wanted)

    cuda = torch_cuda()
    gst = Gst(args.build)
    have_plugin = gst.has("s2smetrics")
    have_musiq = gst.has("musiqscore")
    nvdec = gst.has("nvh264dec")
    # The GPU machine's GStreamer bundle has no gst-libav (docs/gpu.md): its
    # rows then say so and the nvh264dec rows still run.
    avdec = gst.has("avdec_h264")
    s2s_caps = gst.inspect("s2smetrics") or ""
    cuda_mem_ok = "memory:CUDAMemory" in s2s_caps
    lpips_w, musiq_w = make_weights(cache, sys.executable)
    dec_opts = f"max-threads={args.decoder_threads}" if args.decoder_threads else ""
    batch = f"batch-size={args.batch_size}"
    rows = []
    t_start = time.time()
    args.load_start = os.getloadavg()

    for size in args.sizes:
        n = args.frames_for(size)
        clip = make_clip(cache, size, n)
        log(f"e2e: {size}")
        nsvc = max(3, args.service_frames // 2 if big(size) else args.service_frames) + 3
        nmq = max(2, args.musiq_frames_2160 if big(size) else args.musiq_frames)
        nlp = n if cuda else args.lpips_frames
        clip_svc = make_clip(cache, size, nsvc)
        clip_lp = make_clip(cache, size, nlp)
        clip_mq = make_clip(cache, size, nmq)
        blocks = max(args.repeats, 1)

        # (a) service
        if want("a-cpu"):
            r = Row(size, "a-cpu", "service CPU part: cv2 decode + gray + NumPy MSE + skimage SSIM")
            log("e2e:   a-cpu")
            rows.append(service_cpu(r, clip_svc, nsvc, blocks))
        if want("a-full"):
            r = Row(size, "a-full", "service, whole: CPU part + lpips on CUDA (batches of 16)", ref="a-full")
            if cuda:
                log("e2e:   a-full")
                rows.append(service_lpips(r, clip, n, blocks, lpips_w, "cuda", True))
            else:
                rows.append(r.skip("no CUDA device for torch on this machine"))
        if want("a-lpips") and not cuda:
            r = Row(size, "a-lpips-cpu", "service LPIPS part on the CPU: resize 256 + lpips (AlexNet)")
            log("e2e:   a-lpips-cpu")
            rows.append(service_lpips(r, clip_lp, nlp, blocks, lpips_w, "cpu", False))

        # (b) ours
        if want_group("b"):
            dec_ms = conv_ms = base_ms = None
            sys_keys = ("b-decode", "b-sys", "b-sys-queue", "b-sys-lpips")
            if not have_plugin:
                why = f"s2smetrics not found in {args.build}/gst (build it first)"
                for key in ("b-sys", "b-sys-lpips"):
                    rows.append(Row(size, key, "ours").skip(why))
            elif not any(want(k) for k in sys_keys):
                pass
            elif not avdec:
                for key in sys_keys:
                    if want(key):
                        rows.append(Row(size, key, "ours, system-memory decode (avdec_h264)").skip(
                            "no avdec_h264 (gst-libav) in this GStreamer"))
            else:
                log("e2e:   b-decode")
                dfps = decode_only(gst, clip, n, args.repeats, "avdec_h264", dec_opts)
                dec_ms = 1000.0 / statistics.median(dfps)
                r = Row(size, "b-decode", "ours, decode only: avdec_h264 ! fakesink (system memory)")
                r.frames, r.reps, r.fps, r.decode = n, args.repeats, dfps, dec_ms
                r.note = "the decode ceiling of the rows below"
                rows.append(r)
                log("e2e:   b-convert")
                _, conv_ms = ours_metrics(gst, Row(size, "x", "x"), clip, n, args.repeats, "avdec_h264", dec_opts,
                                          "", f"s2smetrics metrics=mse device=cpu {batch}", dec_ms)
                log("e2e:   b-sys")
                r = Row(size, "b-sys", "ours: avdec_h264 ! s2smetrics MSE + inv-SSIM (system memory, CPU)",
                        ref="a-cpu")
                r, base_ms = ours_metrics(gst, r, clip, n, args.repeats, "avdec_h264", dec_opts, "",
                                          f"s2smetrics metrics=mse+inv-ssim device=cpu {batch}", dec_ms, conv_ms)
                rows.append(r)
                log("e2e:   b-sys-queue")
                r = Row(size, "b-sys-queue", "ours, tuned: avdec_h264 ! queue ! s2smetrics batch-size=1 MSE + inv-SSIM",
                        ref="a-cpu")
                ours_metrics(gst, r, clip, n, args.repeats, "avdec_h264", dec_opts, QUEUE,
                             "s2smetrics metrics=mse+inv-ssim device=cpu batch-size=1", dec_ms)
                r.note = "decoding goes on while the element works; gray of each frame still in cache for its pair; " \
                    + r.note
                rows.append(r)
                log("e2e:   b-sys-lpips")
                r = Row(size, "b-sys-lpips", "ours: + LPIPS on the CPU (LibTorch, fp32)",
                        ref=(lambda s: (lambda by: svc_cpu_with_lpips(by, s)))(size))
                reps_l = args.repeats if not big(size) or cuda else 1
                ours_metrics(gst, r, clip_lp, nlp, reps_l, "avdec_h264", dec_opts, "",
                             f"s2smetrics metrics=mse+inv-ssim+lpips lpips-model={lpips_w} device=cpu {batch}",
                             dec_ms, base_metrics_ms=base_ms)
                r.note += "; speed-up over a-cpu + a-lpips-cpu run one after the other, as the service did"
                rows.append(r)
            # nvh264dec rows
            gpu_rows = [
                ("b-nvdec-sys", "ours: nvh264dec (download to system memory) ! s2smetrics MSE + inv-SSIM", "a-cpu",
                 "video/x-raw", "s2smetrics metrics=mse+inv-ssim device=auto " + batch, n),
                ("b-nvdec-cuda", "ours: nvh264dec ! CUDA memory ! s2smetrics MSE + inv-SSIM on CUDA", "a-cpu",
                 "! 'video/x-raw(memory:CUDAMemory)'", "s2smetrics metrics=mse+inv-ssim device=cuda " + batch, n),
                ("b-nvdec-cuda-lpips", "ours: nvh264dec ! CUDA memory ! s2smetrics + LPIPS on CUDA", "a-full",
                 "! 'video/x-raw(memory:CUDAMemory)'",
                 f"s2smetrics metrics=mse+inv-ssim+lpips lpips-model={lpips_w} device=cuda " + batch, n),
            ]
            for key, what, ref, caps, element, frames in gpu_rows:
                if not want(key):
                    continue
                r = Row(size, key, what, ref=ref)
                if not have_plugin:
                    rows.append(r.skip("no s2smetrics"))
                elif not nvdec:
                    rows.append(r.skip("no nvh264dec (no NVIDIA GPU/driver, or GStreamer's nvcodec plugin missing)"))
                elif "CUDAMemory" in caps and not cuda_mem_ok:
                    rows.append(r.skip("s2smetrics in this build takes system memory only"))
                else:
                    log(f"e2e:   {key}")
                    if caps == "video/x-raw":
                        caps = "! video/x-raw"
                    try:
                        nv = decode_only(gst, clip, n, args.repeats, "nvh264dec", "", caps)
                        ours_metrics(gst, r, clip, frames, args.repeats, "nvh264dec", "", caps, element,
                                     1000.0 / statistics.median(nv), gpu=True)
                        rows.append(r)
                    except RuntimeError as e:
                        rows.append(r.skip("pipeline failed: " + str(e).splitlines()[0][:120]))
            if not want("b-cuda-lpips"):
                pass
            elif not cuda and have_plugin:
                rows.append(Row(size, "b-cuda-lpips", "ours: avdec_h264 ! s2smetrics + LPIPS on CUDA",
                                ref="a-full").skip("no CUDA device on this machine"))
            elif have_plugin and not avdec:
                rows.append(Row(size, "b-cuda-lpips", "ours: avdec_h264 ! s2smetrics + LPIPS on CUDA",
                                ref="a-full").skip("no avdec_h264 (gst-libav) in this GStreamer"))
            elif have_plugin:
                r = Row(size, "b-cuda-lpips", "ours: avdec_h264 ! s2smetrics + LPIPS on CUDA", ref="a-full")
                log("e2e:   b-cuda-lpips")
                try:
                    ours_metrics(gst, r, clip, n, args.repeats, "avdec_h264", dec_opts, "",
                                 f"s2smetrics metrics=mse+inv-ssim+lpips lpips-model={lpips_w} device=cuda {batch}",
                                 dec_ms, base_metrics_ms=base_ms, gpu=True)
                    rows.append(r)
                except RuntimeError as e:
                    rows.append(r.skip("pipeline failed: " + str(e).splitlines()[0][:120]))

        # (c) FFmpeg
        if want("c"):
            r = Row(size, "c-ffmpeg", "FFmpeg ssim filter, consecutive frames (CPU)", ref="a-cpu")
            if not have("ffmpeg"):
                rows.append(r.skip("no ffmpeg (apt-get install ffmpeg)"))
            else:
                log("e2e:   c-ffmpeg")
                rows.append(ffmpeg_ssim(r, clip, n, args.repeats))

        # (d) MUSIQ
        if want("d"):
            dev = "cuda" if cuda else "cpu"
            r = Row(size, "d-pyiqa", f"pyiqa MUSIQ (koniq10k shape, random weights) on {dev}")
            log("e2e:   d-pyiqa")
            try:
                rows.append(pyiqa_musiq(r, clip_mq, nmq, musiq_w, dev))
            except Exception as e:  # noqa: BLE001 - a missing pyiqa is a row, not a crash
                rows.append(r.skip(f"{type(e).__name__}: {str(e)[:100]}"))
            # On a GPU, frames stay on the device from nvh264dec where it can.
            on_device = cuda and nvdec and cuda_mem_ok
            mq_dec, mq_opts, mq_caps = (("nvh264dec", "", "! 'video/x-raw(memory:CUDAMemory)'") if on_device
                                        else ("avdec_h264", dec_opts, ""))
            r = Row(size, "d-musiqscore", f"ours: {mq_dec} ! musiqscore on {dev}", ref="d-pyiqa")
            if not have_musiq:
                rows.append(r.skip("musiqscore not in this build (needs LibTorch)"))
            elif not gst.has(mq_dec):
                rows.append(r.skip(f"no {mq_dec} in this GStreamer"))
            else:
                log("e2e:   d-musiqscore")
                try:
                    dfps = decode_only(gst, clip_mq, nmq, 1, mq_dec, mq_opts, mq_caps)
                    ours_metrics(gst, r, clip_mq, nmq, 1, mq_dec, mq_opts, mq_caps,
                                 f"musiqscore model={musiq_w} device={dev} batch-size=1",
                                 1000.0 / statistics.median(dfps), gpu=cuda)
                    r.note += "; batch-size 1 (batching does not help on the CPU), incl. first-frame warm-up"
                    rows.append(r)
                except RuntimeError as e:
                    rows.append(r.skip("pipeline failed: " + str(e).splitlines()[0][:120]))

    if args.tune and have_plugin:
        tune(gst, cache, args)

    print()
    print(environment_line(args, cuda, nvdec, time.time() - t_start))
    print()
    print_table(rows, args.markdown)
    print()
    print("speed-up: b-sys, b-nvdec-*, c-ffmpeg over a-cpu; b-sys-lpips over a-cpu + a-lpips-cpu one after the "
          "other; GPU LPIPS rows over a-full; d-musiqscore over d-pyiqa. ms/f = milliseconds per frame of that "
          "stage; ours' metrics include the gray conversion (convert = the metrics=mse run).")
    by = {(r.size, r.key): r for r in rows}
    for size in args.sizes:
        a, b = by.get((size, "a-cpu")), by.get((size, "b-sys"))
        if a and b and a.fps and b.fps and not a.not_run and not b.not_run:
            ratio = b.median / a.median
            print(f"CPU target at {size} (b-sys >= 10x a-cpu, decode included on both sides): {ratio:.1f}x, "
                  + ("met" if ratio >= 10 else "NOT met"))
    missing = [f"{r.size} {r.key}" for r in rows if r.not_run]
    if missing:
        print("not run here: " + ", ".join(missing))


def svc_cpu_with_lpips(by, size):
    """Pairs/s of the service with LPIPS on the CPU: its CPU part and its
    LPIPS part ran one after the other, so the times per pair add."""
    a = by.get((size, "a-cpu"))
    b = by.get((size, "a-lpips-cpu"))
    if not a or not b or a.not_run or b.not_run or not a.fps or not b.fps:
        return None
    return 1.0 / (1.0 / a.median + 1.0 / b.median)


def environment_line(args, cuda, nvdec, elapsed):
    cpu = "unknown CPU"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        m = re.search(r"Model name:\s*(.+)", out)
        if m:
            cpu = m.group(1).strip()
    except OSError:
        pass
    load = os.getloadavg()
    l0 = args.load_start
    parts = [datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
             f"{cpu}, {os.cpu_count()} CPUs", f"Linux {platform.release()}", f"Python {platform.python_version()}",
             f"load average {l0[0]:.2f} {l0[1]:.2f} {l0[2]:.2f} at the start, "
             f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end",
             "CUDA: " + ("yes" if cuda else "no"), "nvh264dec: " + ("yes" if nvdec else "no"),
             f"build {args.build}", f"run took {elapsed:.0f} s",
             f"repeats {args.repeats}" + (" (--quick)" if args.quick else "")]
    try:
        import torch
        parts.append(f"torch {torch.__version__}")
    except ImportError:
        pass
    return "; ".join(parts)


if __name__ == "__main__":
    main()
