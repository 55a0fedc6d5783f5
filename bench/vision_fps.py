"""Vision throughput on CPU: decode + motion gate + detect, on 1 and 2 cores.

    .venv/bin/python bench/vision_fps.py [--model vision/models/ppe_yolo.onnx]
                                         [--clip vision/samples/ppe_demo.mp4] [--frames 120]
                                         [--stream-fps 15] [--detect-fps 2]

Prints, per thread count: decode frames/s, motion frames/s, detect frames/s (full frame
at the model's input size), the share of sampled frames the motion gate sent to the
detector on the clip, and how many cameras one process can serve at ``--detect-fps``:

    cost per camera-second = stream_fps * t_decode + detect_fps * (t_motion + duty * t_detect)

(a live stream must be decoded at its own frame rate even when only 2 frames/s are
analysed).  ``duty`` is measured on the clip; the demo clip zooms continuously, so its
duty (about 100 %) is the worst case; the figure for a static scene (duty 0) is printed
as well.  Run it by hand on an otherwise idle machine; figures vary with the CPU.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _frames(clip: Path, n: int):
    import cv2

    cap = cv2.VideoCapture(str(clip))
    out = []
    while len(out) < n:
        ok, f = cap.read()
        if not ok:
            cap.release()
            cap = cv2.VideoCapture(str(clip))
            ok, f = cap.read()
            if not ok:
                raise SystemExit(f"cannot read {clip}")
        out.append(f)
    cap.release()
    return out


def measure(threads: int, model: Path, clip: Path, n: int, detect_fps: float) -> dict:
    import cv2

    from vision.detector import OnnxDetector
    from vision.motion import MotionGate

    cv2.setNumThreads(threads)
    det = OnnxDetector(model, threads=threads)
    # decode
    cap = cv2.VideoCapture(str(clip))
    clip_fps = cap.get(cv2.CAP_PROP_FPS) or 8.0
    t0 = time.perf_counter()
    decoded = 0
    while decoded < n:
        ok, _ = cap.read()
        if not ok:
            cap.release()
            cap = cv2.VideoCapture(str(clip))
            continue
        decoded += 1
    t_decode = (time.perf_counter() - t0) / decoded
    cap.release()
    frames = _frames(clip, n)
    # motion on frames sampled at detect fps from the clip
    step = max(1, int(round(clip_fps / detect_fps)))
    sampled = frames[::step] or frames[:1]
    gate = MotionGate()
    t0 = time.perf_counter()
    moving = 0
    for f in frames:
        gate.update(f)
    t_motion = (time.perf_counter() - t0) / len(frames)
    gate = MotionGate()
    for f in sampled:
        moving += gate.update(f).moving
    duty = moving / len(sampled)
    det.detect(frames[0])  # warm-up
    t0 = time.perf_counter()
    for f in frames:
        det.detect(f)
    t_detect = (time.perf_counter() - t0) / len(frames)
    return {"threads": threads, "t_decode": t_decode, "t_motion": t_motion, "t_detect": t_detect, "duty": duty,
            "imgsz": det.imgsz, "frame": f"{frames[0].shape[1]}x{frames[0].shape[0]}"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=ROOT / "vision" / "models" / "ppe_yolo.onnx")
    p.add_argument("--clip", type=Path, default=ROOT / "vision" / "samples" / "ppe_demo.mp4")
    p.add_argument("--frames", type=int, default=120)
    p.add_argument("--stream-fps", type=float, default=15.0, help="native frame rate of a live camera")
    p.add_argument("--detect-fps", type=float, default=2.0)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    a = p.parse_args()
    print(f"model {a.model.name}, clip {a.clip.name}, {a.frames} frames, cpu count {os.cpu_count()}")
    print(f"{'threads':>7} {'decode f/s':>10} {'motion f/s':>10} {'detect f/s':>10} {'e2e f/s':>8} "
          f"{'duty':>5} {'cams@gated':>10} {'cams@static':>11} {'cams@ungated':>12}")
    for th in a.threads:
        r = measure(th, a.model, a.clip, a.frames, a.detect_fps)
        e2e = 1.0 / (r["t_decode"] + r["t_motion"] + r["t_detect"])

        def cams(duty: float, r: dict = r) -> float:
            return 1.0 / (a.stream_fps * r["t_decode"] + a.detect_fps * (r["t_motion"] + duty * r["t_detect"]))

        print(f"{th:>7} {1 / r['t_decode']:>10.1f} {1 / r['t_motion']:>10.1f} {1 / r['t_detect']:>10.1f} "
              f"{e2e:>8.1f} {r['duty']:>5.0%} {cams(r['duty']):>10.1f} {cams(0.0):>11.1f} {cams(1.0):>12.1f}")
    print(f"(imgsz {r['imgsz']}, frames {r['frame']}; cameras assume {a.stream_fps:g} fps streams analysed at "
          f"{a.detect_fps:g} fps; e2e = one frame through decode + motion + detect)")


if __name__ == "__main__":
    main()
