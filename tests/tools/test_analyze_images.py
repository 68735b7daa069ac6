"""s2s-analyze on still images, against pyiqa's own MUSIQ.

The program runs as a child process on scikit-image's data images, cut down
to at most 224 pixels a side (MUSIQ on the CPU is slow) and saved as PNG
(RGB, portrait, grayscale, with alpha), JPEG (color, grayscale), BMP, WebP,
TIFF and a PNG named .jpg, plus a corrupt JPEG, a truncated one, an empty
file and a text file. Its JSON lines must have the seed tool's keys in the seed's order and scores equal to pyiqa's MUSIQ
(tests/musiq/pyiqa_reference.py: pyiqa 0.1.16's musiq_arch with the same
seeded random weights) within 1e-4 relative; the bad files get an error
line each and the others are still scored.

Which pixels pyiqa sees: PIL's, as pyiqa and the seed tool load images
(Image.open(p).convert('RGB')). The program must decode to exactly those:
PNG (RGB, RGBA, gray) and JPEG in 4:2:0 (even and odd sizes, baseline and
progressive) and gray; 4:2:2/4:4:4 JPEG is not tested (GStreamer's jpegdec
reduces them to 4:2:0, docs/analyze.md).

    test_analyze_images.py        (environment from tests/tools/meson.build)
Exit 77 (skipped) without pyiqa or the weights.
"""
import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

SKIP = 77
TOOL = os.environ.get("S2S_ANALYZE")
WEIGHTS = os.environ.get("S2S_MUSIQ_WEIGHTS")
WEIGHTS_AVA = os.environ.get("S2S_MUSIQ_WEIGHTS_AVA")
HERE = os.path.dirname(os.path.abspath(__file__))
SEED_KEYS = ["path", "score", "model", "device", "gpu_available"]
BENCH_KEYS = ["device", "gpu_available", "average_time_ms", "std_time_ms", "runs"]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def load_reference():
    spec = importlib.util.spec_from_file_location(
        "pyiqa_reference", os.path.join(HERE, "..", "musiq", "pyiqa_reference.py"))
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    return ref


def make_images(d):
    """name -> path."""
    from PIL import Image
    import skimage.data as data

    images = {}

    def save(name, array, **kw):
        path = os.path.join(d, name)
        Image.fromarray(array).save(path, **kw)
        images[name] = path

    save("astronaut.png", data.astronaut()[::4, ::4])                   # 128x128 RGB
    save("astronaut-b.png", data.astronaut()[2::4, 1::4])               # same size: batched
    save("rocket-portrait.png",                                         # 214x143 portrait
         np.ascontiguousarray(data.rocket()[::3, ::3].transpose(1, 0, 2)))
    save("camera-gray.png", data.camera()[::3, ::3])                    # 171x171 L
    save("logo-alpha.png", data.logo()[::3, ::3])                       # 167x167 RGBA
    save("coins-gray.jpg", data.coins()[::2, ::2], quality=90)          # 192x152 L JPEG
    save("chelsea.jpg", data.chelsea()[::2, :448:2], quality=90)        # 224x150 4:2:0
    save("astronaut.bmp", data.astronaut()[1::4, 2::4])                 # 128x128 BMP, WebP,
    save("astronaut.webp", data.astronaut()[3::4, 3::4], lossless=True)  # TIFF: batched with
    save("astronaut.tif", data.astronaut()[1::4, 3::4])                 # the PNGs
    save("png-named.jpg", data.astronaut()[3::4, ::4], format="PNG")    # content, not name
    save("coffee-odd.jpg", data.coffee()[::3, ::3][:133, :199],         # 199x133 4:2:0,
         quality=85, progressive=True)                                  # progressive
    return images


def pil_rgb(path):
    from PIL import Image
    return np.asarray(Image.open(path).convert("RGB"))


def run(args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([TOOL] + args, capture_output=True, text=True, env=e, timeout=600)
    return p.returncode, p.stdout, p.stderr


def json_lines(text):
    lines = [line for line in text.splitlines() if line.strip()]
    # object_pairs_hook keeps the keys in the order they were written
    return [json.loads(line, object_pairs_hook=lambda kv: kv) for line in lines]


def close(ours, theirs, what):
    rel = abs(ours - theirs) / max(abs(theirs), 1e-12)
    check(rel <= 1e-4, f"{what}: ours {ours!r}, pyiqa {theirs!r} (relative {rel:.2e})")
    return rel


def resize_like_tf(rgb, w, h):
    """tf.image.resize bilinear (half-pixel centres, no antialias), float32,
    then rounded half up: OpenCV's INTER_LINEAR on float32 computes the same
    interpolation."""
    import cv2
    v = cv2.resize(rgb.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(np.floor(v + 0.5), 0, 255).astype(np.uint8)


def main():
    if not TOOL or not WEIGHTS or not WEIGHTS_AVA:
        print("S2S_ANALYZE, S2S_MUSIQ_WEIGHTS and S2S_MUSIQ_WEIGHTS_AVA must be set")
        return SKIP
    try:
        import torch
        ref = load_reference()
        musiq_arch, _ = ref.import_pyiqa_musiq()
    except (ImportError, SystemExit) as e:
        print("pyiqa reference unavailable:", e)
        return SKIP
    torch.set_num_threads(2)
    koniq, _ = ref.load_model(musiq_arch, WEIGHTS)
    ava, _ = ref.load_model(musiq_arch, WEIGHTS_AVA)

    d = tempfile.mkdtemp(prefix="s2s-analyze-images-")
    try:
        images = make_images(d)
        pixels = {n: pil_rgb(p) for n, p in images.items()}
        broken = os.path.join(d, "broken.jpg")
        with open(images["chelsea.jpg"], "rb") as f:
            head = f.read(300)
        with open(broken, "wb") as f:   # a JPEG's headers, then no image data
            f.write(head[:2] + b"\xff\xdb\x00\x43\x00" + bytes(range(64)) + b"\xff\xc0\x00\x11"
                    + b"\x00" * 400)
        truncated = os.path.join(d, "truncated.jpg")
        with open(images["chelsea.jpg"], "rb") as f:
            whole = f.read()
        with open(truncated, "wb") as f:   # PIL: "image file is truncated"
            f.write(whole[:len(whole) * 6 // 10])
        empty = os.path.join(d, "empty.jpg")
        open(empty, "wb").close()
        notes = os.path.join(d, "notes.txt")
        with open(notes, "w") as f:
            f.write("these are notes, not an image\n")

        # 1. Files in the order given, the bad ones among them.
        order = ["astronaut.png", "broken.jpg", "rocket-portrait.png", "camera-gray.png", "empty.jpg",
                 "logo-alpha.png", "notes.txt", "coins-gray.jpg", "chelsea.jpg", "astronaut-b.png",
                 "truncated.jpg", "coffee-odd.jpg", "astronaut.bmp", "astronaut.webp",
                 "astronaut.tif", "png-named.jpg"]
        paths = [images[n] if n in images else os.path.join(d, n) for n in order]
        out_csv = os.path.join(d, "scores.csv")
        rc, out, err = run(paths + ["--musiq-model", WEIGHTS, "--device", "cpu", "--batch-size", "4",
                                    "--csv", out_csv])
        check(rc == 1, f"exit status {rc} with bad files (expected 1); stderr:\n{err}")
        lines = json_lines(out)
        check(len(lines) == len(order), f"{len(lines)} lines for {len(order)} inputs:\n{out}")
        rows = list(csv.reader(open(out_csv))) if os.path.exists(out_csv) else []
        check(rows[:1] == [["path", "score", "model", "device", "gpu_available", "error"]],
              f"CSV header {rows[:1]}")
        worst = 0.0
        for i, (name, path, line) in enumerate(zip(order, paths, lines)):
            keys = [k for k, _ in line]
            obj = dict(line)
            check(obj.get("path") == path, f"line {i}: path {obj.get('path')!r}, expected {path!r}")
            row = rows[i + 1] if i + 1 < len(rows) else []
            if name in images:
                check(keys == SEED_KEYS, f"{name}: keys {keys}, expected {SEED_KEYS}")
                check(obj.get("model") == "koniq", f"{name}: model {obj.get('model')!r}")
                check(obj.get("device") == "CPU", f"{name}: device {obj.get('device')!r}")
                check(isinstance(obj.get("gpu_available"), bool), f"{name}: gpu_available")
                theirs = ref.pyiqa_score(koniq, pixels[name])
                worst = max(worst, close(obj["score"], theirs, name))
                check(row[:4] == [path, repr(obj["score"]), "koniq", "CPU"] and row[5] == "",
                      f"{name}: CSV row {row}")
            else:
                check(keys == ["path", "error"], f"{name}: keys {keys}, expected path, error")
                check(isinstance(obj.get("error"), str) and obj["error"], f"{name}: empty error")
                check(len(row) == 6 and row[0] == path and row[1] == "" and row[5] == obj.get("error"),
                      f"{name}: CSV row {row}")
                print(f"{name}: {obj.get('error')}")
        print(f"koniq: {len(images)} images, worst relative difference to pyiqa {worst:.2e}")

        # 2. A folder (the text file in it skipped) and a glob, --model by
        #    pyiqa's and the seed's name, from $S2S_MODELS_DIR.
        models = os.path.join(d, "models")
        os.mkdir(models)
        os.symlink(os.path.abspath(WEIGHTS_AVA), os.path.join(models, "musiq-ava.safetensors"))
        folder = os.path.join(d, "folder")
        os.mkdir(folder)
        for n in ("camera-gray.png", "chelsea.jpg"):
            shutil.copy(images[n], folder)
        shutil.copy(notes, folder)
        env = {"S2S_MODELS_DIR": models}
        for args in ([folder, "--model", "musiq-ava"], [os.path.join(folder, "*.*g"), "--model", "ava"]):
            rc, out, err = run(args + ["--device", "cpu"], env)
            check(rc == 0, f"{args}: exit {rc}:\n{err}")
            lines = [dict(x) for x in json_lines(out)]
            check([x.get("path") for x in lines] == [os.path.join(folder, "camera-gray.png"),
                                                     os.path.join(folder, "chelsea.jpg")],
                  f"{args}: paths {[x.get('path') for x in lines]}")
            for x, n in zip(lines, ("camera-gray.png", "chelsea.jpg")):
                check(x.get("model") == "ava", f"{args}: model {x.get('model')!r}")
                close(x["score"], ref.pyiqa_score(ava, pixels[n]), f"ava {n}")
        rc, out, err = run(["--list-models"], env)
        check(rc == 0 and os.path.join(models, "musiq-ava.safetensors") in out
              and "not installed" in out, f"--list-models:\n{out}{err}")

        # 3. A model that is not installed: one clear error naming the file
        #    and the conversion.
        rc, out, err = run([images["astronaut.png"], "--model", "spaq"], env)
        check(rc == 1 and out == "" and "musiq-spaq.safetensors" in err
              and "musiq_weights.py convert" in err and len(err.splitlines()) == 1,
              f"missing spaq: exit {rc}, stderr:\n{err}")
        rc, out, err = run([images["astronaut.png"], "--model", "nosuch"], env)
        check(rc == 2 and "koniq" in err, f"unknown model: exit {rc}:\n{err}")

        # 4. --target-size W H resizes first (the seed's bilinear).
        name = "rocket-portrait.png"
        rc, out, err = run([images[name], "--musiq-model", WEIGHTS, "--device", "cpu",
                            "--target-size", "96", "64"])
        check(rc == 0, f"--target-size: exit {rc}:\n{err}")
        x = dict(json_lines(out)[0])
        close(x["score"], ref.pyiqa_score(koniq, resize_like_tf(pixels[name], 96, 64)),
              f"{name} at 96x64")

        # 5. --benchmark: the seed's object, then the score line.
        rc, out, err = run([images["astronaut.png"], "--musiq-model", WEIGHTS, "--device", "cpu",
                            "--benchmark", "--runs", "3"])
        lines = json_lines(out)
        check(rc == 0 and len(lines) == 2, f"--benchmark: exit {rc}, {len(lines)} lines:\n{out}{err}")
        bench = dict(lines[0])
        check([k for k, _ in lines[0]] == BENCH_KEYS, f"benchmark keys {lines[0]}")
        check(bench.get("device") == "/CPU:0" and bench.get("runs") == 3
              and bench.get("average_time_ms", 0) > 0 and bench.get("std_time_ms", -1) >= 0,
              f"benchmark {bench}")
        check([k for k, _ in lines[1]] == SEED_KEYS, f"score line after the benchmark {lines[1]}")
        print("benchmark:", json.dumps(bench))
    finally:
        if not os.environ.get("S2S_KEEP_TEST_FILES"):
            shutil.rmtree(d, ignore_errors=True)

    print(f"{len(failures)} failures" if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
