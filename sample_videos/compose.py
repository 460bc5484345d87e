"""Compose the `composed_*` sample clips: real objects cut from real footage, placed into vtest.avi.

    .venv/bin/python sample_videos/compose.py            # writes composed_*.mp4 and composed_*.json here

Objects are cut with GrabCut from a rectangle around them and pasted with a feathered (soft) mask; they move
along straight keyframe paths (linear in position and scale), or stand still. Pedestrians of the background
clip whose feet are nearer the camera than an object's base are drawn in front of it (depth order), using a
median background of vtest.avi. The ground truth is computed from the same keyframes, frame by frame: the
box of each object (its mask's bounding box, alpha >= 0.5), when it enters and leaves each zone (bottom-centre
inside the zone polygon of the clip's camera config) and when it is still. See README.md for each timeline.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np

# run as a script (sample_videos/ is on sys.path): the cut-and-paste parts live beside it
from sprites import (
    Placement,
    Sprite,
    background_frames,
    bicycle_mask,
    cut,
    cut_masked,
    inside,
    median_background,
    people_mask,
)

HERE = Path(__file__).resolve().parent
FPS = 10.0
W, H = 768, 576


def compose(name: str, bg_start: int, seconds: float, objects: list[Placement],
            zones: dict[str, list[list[float]]],
            bg_median: np.ndarray, notes: str) -> None:
    frames = background_frames("vtest.avi", bg_start, int(round(seconds * FPS)))
    polys = {z: np.asarray(p, np.float64) * [W, H] for z, p in zones.items()}
    tracks: dict[str, list[list[float]]] = {o.sprite.name: [] for o in objects}
    zone_times: dict[str, dict[str, list[float]]] = {o.sprite.name: {} for o in objects}
    writer = imageio_ffmpeg.write_frames(
        str(HERE / f"{name}.mp4"), (W, H), fps=FPS, codec="libx264", pix_fmt_in="rgb24", quality=None,
        output_params=["-crf", "28", "-preset", "medium", "-movflags", "+faststart"], macro_block_size=16)
    writer.send(None)
    for i, frame in enumerate(frames):
        t = i / FPS
        out = frame.astype(np.float32)
        labels, bottoms, areas = people_mask(frame, bg_median)
        for obj in sorted(objects, key=lambda o: (o.at(t) or (0, 0, 0))[1]):  # far (small y) first
            r = obj.render(t)
            if r is None:
                continue
            rgb, alpha, (x0, y0) = r
            h, w = alpha.shape
            xa, ya, xb, yb = max(0, x0), max(0, y0), min(W, x0 + w), min(H, y0 + h)
            if xa >= xb or ya >= yb:
                continue
            a = alpha[ya - y0:yb - y0, xa - x0:xb - x0].copy()
            # people standing nearer the camera than the object's base stay in front of it
            front = np.flatnonzero((bottoms > y0 + h + 2) & (areas > 150))
            front = front[front > 0]
            if len(front):
                a[np.isin(labels[ya:yb, xa:xb], front)] = 0
            a3 = a[..., None]
            out[ya:yb, xa:xb] = out[ya:yb, xa:xb] * (1 - a3) + rgb[ya - y0:yb - y0, xa - x0:xb - x0] * a3
            # truth box: the visible part of the mask; not recorded while less than a quarter is in the frame
            seen = alpha[ya - y0:yb - y0, xa - x0:xb - x0] >= 0.5
            if seen.sum() < 0.25 * (alpha >= 0.5).sum():
                continue
            ys, xs = np.nonzero(seen)
            box = [xa + int(xs.min()), ya + int(ys.min()), xa + int(xs.max()) + 1, ya + int(ys.max()) + 1]
            tracks[obj.sprite.name].append([round(t, 2), *box])
            bx, by = (box[0] + box[2]) / 2, box[3]
            for z, poly in polys.items():
                if inside(poly, bx, by):
                    span = zone_times[obj.sprite.name].setdefault(z, [t, t])
                    span[1] = t
        writer.send(cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_BGR2RGB).tobytes())
    writer.close()
    duration = len(frames) / FPS
    truth = {
        "clip": f"{name}.mp4",
        "composed": True,
        "fps": FPS,
        "frames": len(frames),
        "duration_s": duration,
        "size": [W, H],
        "background": {"clip": "vtest.avi", "first_frame": bg_start,
                       "last_frame": bg_start + len(frames) - 1},
        "camera_config": f"{name}.yaml",
        "zones": zones,
        "notes": notes,
        "events": [],
        "objects": [{
            "id": o.sprite.name, "label": o.label, "alt_labels": o.alt_labels, "source": o.sprite.source,
            "keyframes": [{"t": k[0], "bottom_center": [k[1], k[2]], "width": k[3]} for k in o.keys],
            "zones": {z: {"enter_s": round(s[0], 2), "last_inside_s": round(s[1], 2)}
                      for z, s in zone_times[o.sprite.name].items()},
            "boxes": tracks[o.sprite.name],
        } for o in objects],
    }
    (HERE / f"{name}.json").write_text(json.dumps(truth, indent=1) + "\n")
    print(f"{name}.mp4: {len(frames)} frames, {(HERE / f'{name}.mp4').stat().st_size / 1e6:.1f} MB")


def still_spans(keys: list[tuple[float, float, float, float]]) -> list[tuple[float, float]]:
    """Time spans in which consecutive keyframes hold the same position and size."""
    return [(a[0], b[0]) for a, b in zip(keys, keys[1:], strict=False) if a[1:] == b[1:]]


def events_for(objects: list[Placement], rules: list[tuple[str, str, str, str]], truth: dict[str, object],
               duration: float) -> list[dict[str, object]]:
    """Expected events: (object id, zone, event, kind) with kind presence | stationary | left_object.

    presence: from entering the zone to the first frame outside it; stationary and left_object: the part of
    a still span spent inside the zone (the object is at rest from first_seen_s to end_s).
    """
    objs = {o.sprite.name: o for o in objects}
    zones_of = {o["id"]: o["zones"] for o in truth["objects"]}  # type: ignore[attr-defined]
    out: list[dict[str, object]] = []
    for oid, zone, event, kind in rules:
        o = objs[oid]
        span = zones_of[oid][zone]
        enter, leave = span["enter_s"], min(duration, round(span["last_inside_s"] + 1 / FPS, 2))
        if kind == "presence":
            first, end = enter, leave
        else:
            still = [(a, b) for a, b in still_spans(o.keys) if b > enter and a < leave]
            first, end = max(enter, still[0][0]), min(leave, still[0][1])
        out.append({"zone": zone, "event": event, "label": o.label, "alt_labels": o.alt_labels,
                    "first_seen_s": round(first, 2), "end_s": round(end, 2), "object": oid})
    return out


RULES = {  # the rules of each composed clip's camera config (the zone names are the keys)
    "corridor": ("b1_stair",
                 "{kind: presence, labels: [bicycle, motorcycle], min_seconds: 3, event: ebike_in_corridor}"),
    "passage": ("b3_stair", "{kind: left_object, min_seconds: 10, event: left_object}"),
    "fire_lane": ("fire_lane_east",
                  "{kind: stationary, labels: [car, truck, bus], min_seconds: 15, event: fire_lane_blocked}"),
}


def write_camera_config(name: str, zones: dict[str, list[list[float]]], notes: str) -> None:
    """The clip's camera config (ARCHITECTURE.md contract), zones identical to the ground truth's."""
    lines = [f"# Camera config of the COMPOSED clip {name}.mp4 (written by compose.py; see README.md).",
             *(f"# {line}" for line in textwrap.wrap(notes, 100)),
             "detect: {fps: 5}", "cameras:", f"  {name}:", f"    source: {name}.mp4"]
    node = RULES[next(iter(zones))][0]
    lines += [f"    location: {{node: {node}}}", "    zones:"]
    for zone, poly in zones.items():
        pts = ", ".join(f"[{x:.2f}, {y:.2f}]" for x, y in poly)
        lines += [f"      {zone}:", f"        polygon: [{pts}]", "        rules:",
                  f"          - {RULES[zone][1]}"]
    (HERE / f"{name}.yaml").write_text("\n".join(lines) + "\n")


def main() -> None:
    bg = median_background("vtest.avi")
    bicycle = cut_masked("bicycle", "bikes.mp4", 230, bicycle_mask((272, 640)))
    bag = cut("bag", "bikes.mp4", 230, (262, 52, 76, 86))
    garbage = cut("garbage", "vtest.avi", 0, (66, 494, 96, 34))
    van = cut("van", "vtest.avi", 0, (648, 40, 82, 64))

    def van_at(name: str, keys: list[tuple[float, float, float, float]]) -> Placement:
        return Placement(Sprite(name, van.source, van.rgb, van.alpha), keys, "truck", ["car", "bus"])

    # the road: in from the left edge along the plaza, up the lane by the building, out at the top right
    def drive(t0: float, stop_s: float | None = None) -> list[tuple[float, float, float, float]]:
        path = [(-60.0, 240.0, 92.0), (430.0, 238.0, 90.0), (600.0, 190.0, 84.0), (720.0, 132.0, 78.0),
                (830.0, 100.0, 74.0)]
        speed = 120.0  # px per second along the path
        keys = [(t0, *path[0])]
        t = t0
        for a, b in zip(path, path[1:], strict=False):
            t += float(np.hypot(b[0] - a[0], b[1] - a[1])) / speed
            keys.append((round(t, 2), *b))
            if stop_s is not None and b[:2] == (600.0, 190.0):  # the spot in the fire lane
                keys.append((round(t + stop_s, 2), *b))
                t += stop_s
        return keys

    def bike_at(name: str, keys: list[tuple[float, float, float, float]]) -> Placement:
        return Placement(Sprite(name, bicycle.source, bicycle.rgb, bicycle.alpha), keys, "bicycle",
                         ["motorcycle"])

    fire_lane = [[0.68, 0.21], [0.90, 0.21], [0.90, 0.30], [0.80, 0.40], [0.68, 0.40], [0.60, 0.36]]
    jobs = [
        ("composed_ebike_corridor", 0, 60.0,
         [Placement(bicycle, [(8.0, 830, 440, 110), (11.0, 690, 440, 110), (45.0, 690, 440, 110),
                              (48.0, 830, 440, 110)], "bicycle", ["motorcycle"])],
         {"corridor": [[0.45, 0.50], [1.0, 0.50], [1.0, 0.86], [0.45, 0.62]]},
         [("bicycle", "corridor", "ebike_in_corridor", "presence")],
         "A bicycle with a pannier (cut from bikes.mp4 frame 230) is wheeled into the corridor zone from the "
         "right edge 8.0-11.0 s (nobody is seen pushing it), stands "
         "still 11.0-45.0 s, and is taken out to the "
         "right 45.0-48.0 s. Real pedestrians of vtest.avi walk past."),
        ("composed_left_object", 195, 60.0,
         [Placement(bag, [(10.0, 600, 425, 44), (60.0, 600, 425, 44)], "handbag", ["suitcase", "backpack"]),
          Placement(garbage, [(25.0, 470, 345, 80), (50.0, 470, 345, 80)], "unknown", [])],
         {"passage": [[0.40, 0.45], [1.0, 0.45], [1.0, 0.86], [0.40, 0.62]]},
         [("bag", "passage", "left_object", "left_object"), ("garbage", "passage", "left_object",
                                                             "left_object")],
         "A grey bag (the pannier cut from bikes.mp4 frame 230) "
         "appears on the passage at 10.0 s and stays to "
         "the end (60 s); a bundle of dumped cloth (the yellow rag lying on the lawn in vtest.avi frame 0) "
         "appears at 25.0 s and is gone at 50.0 s. Both appear and vanish between two frames: the person who "
         "drops them is not composed. Real pedestrians walk past and in front of them."),
        ("composed_fire_lane", 0, 79.0,
         [van_at("van_passing_1", drive(3.0)), van_at("van_parked", drive(18.0, stop_s=40.0)),
          van_at("van_passing_2", drive(69.0))],
         {"fire_lane": fire_lane},
         [("van_parked", "fire_lane", "fire_lane_blocked", "stationary")],
         "Three vans (the white van parked in vtest.avi frame 0, cut "
         "out and driven along the road): one passes "
         "through the fire lane without stopping, one stops in it for 40 s and drives on, one more passes at "
         "the end. Only the stop is an event. The real van and car "
         "parked at the top right are outside the zone."),
        ("composed_fire_lane_passing", 400, 30.0,
         [van_at("van_passing_1", drive(1.0)), van_at("van_passing_2", drive(11.0)),
          van_at("van_passing_3", drive(20.0))],
         {"fire_lane": fire_lane},
         [],
         "Three vans pass through the fire lane without stopping: no event may fire."),
        ("composed_ebike_visits", 0, 75.0,
         [bike_at("bicycle_1", [(3.0, 830, 440, 110), (5.0, 690, 440, 110), (14.0, 690, 440, 110),
                                (16.0, 830, 440, 110)]),
          bike_at("bicycle_2", [(27.0, 830, 415, 104), (29.5, 640, 415, 104), (38.0, 640, 415, 104),
                                (40.5, 830, 415, 104)]),
          bike_at("bicycle_3", [(52.0, 830, 450, 112), (54.0, 720, 450, 112), (66.0, 720, 450, 112),
                                (68.0, 830, 450, 112)])],
         {"corridor": [[0.45, 0.50], [1.0, 0.50], [1.0, 0.86], [0.45, 0.62]]},
         [(f"bicycle_{k}", "corridor", "ebike_in_corridor", "presence") for k in (1, 2, 3)],
         "A bicycle with a pannier is wheeled into the corridor "
         "three times (3-16 s, 27-40.5 s, 52-68 s), each "
         "time left standing 9-12 s at a different spot and taken out again to the right: three events."),
        ("composed_left_objects", 100, 60.0,
         [Placement(Sprite("bag_1", bag.source, bag.rgb, bag.alpha), [(10.0, 660, 450, 44), (35.0, 660, 450,
                                                                                             44)],
                    "handbag", ["suitcase", "backpack", "unknown"]),
          Placement(garbage, [(15.0, 450, 335, 80), (55.0, 450, 335, 80)], "unknown", []),
          Placement(Sprite("bag_2", bag.source, bag.rgb, bag.alpha), [(30.0, 560, 380, 48), (60.0, 560, 380,
                                                                                             48)],
                    "handbag", ["suitcase", "backpack", "unknown"], flip=True)],
         {"passage": [[0.40, 0.45], [1.0, 0.45], [1.0, 0.86], [0.40, 0.62]]},
         [(o, "passage", "left_object", "left_object") for o in ("bag_1", "garbage", "bag_2")],
         "Three things left on the passage at different places: a "
         "grey bag 10-35 s, a bundle of cloth 15-55 s, "
         "another bag (mirrored) 30-60 s (to the clip end). Each appears and vanishes between two frames."),
        ("composed_fire_lane_twice", 0, 79.0,
         [van_at("van_parked_1", drive(0.0, stop_s=20.0)), van_at("van_parked_2", drive(30.0, stop_s=22.0)),
          van_at("van_passing", drive(62.0))],
         {"fire_lane": fire_lane},
         [(f"van_parked_{k}", "fire_lane", "fire_lane_blocked", "stationary") for k in (1, 2)],
         "A van stops in the fire lane for 20 s and drives on; a "
         "second van stops at the same spot for 22 s and "
         "drives on; a third passes without stopping. Two events, one per stop, none for the pass."),
    ]
    only = set(sys.argv[1:])  # clip names to rebuild (default: all)
    jobs = [j for j in jobs if not only or j[0] in only]
    for name, start, seconds, objects, zones, rules, notes in jobs:
        write_camera_config(name, zones, notes)
        compose(name, start, seconds, objects, zones, bg, notes)
        path = HERE / f"{name}.json"
        truth = json.loads(path.read_text())
        truth["events"] = events_for(objects, rules, truth, truth["duration_s"])
        path.write_text(json.dumps(truth, indent=1) + "\n")
        for e in truth["events"]:
            print("  ", e)


if __name__ == "__main__":
    main()
