"""`sharpeyes analyze`: one camera of a config run on a recorded clip (vision/pipeline.py per frame).

The clip is decoded a few frames ahead in a thread of its own, and that thread also does the motion work
that needs no detection result (`CameraPipeline.ahead`), so a clip is analysed on two cores.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vision.base import Detector
from vision.events import EventMessage
from vision.pipeline import CameraPipeline, PipelineStats
from vision.rules import Occupancy

if TYPE_CHECKING:
    from vision.perturb import Perturb

log = logging.getLogger(__name__)
# `analyze` on a live stream: failed connection attempts in a row before it gives up (about 20 s with the
# default backoff and connect timeout of a refused port; longer where each attempt times out)
STREAM_ATTEMPTS = 4


@dataclass
class AnalyzeResult:
    records: list[dict[str, Any]]
    stats: PipelineStats
    seconds: float          # wall time
    clip_seconds: float     # clip time covered
    source_frames: int      # frames of the clip covered (at its native rate)
    occupancy: dict[str, list[tuple[float, int]]] = field(default_factory=dict)   # zone -> (t, count)
    first_t: float = 0.0    # the first frame's time (later than 0 where skip_frames left frames out)


def analyze_clip(config_path: str | Path, clip: str | Path | None = None, *, camera: str | None = None,
                 events_path: str | Path | None = None, annotated: str | Path | None = None,
                 detector: Detector | None = None, naive: bool = False, media: bool = True,
                 progress: bool = False, max_seconds: float | None = None,
                 confirm_model: str | Path | None = None, skip_frames: int = 0,
                 perturb: Perturb | None = None) -> AnalyzeResult:
    """Run one camera of a config on a recorded clip (ARCHITECTURE.md, `sharpeyes analyze`).

    Events are written as JSON Lines when they end (or when the clip ends), snapshots and clips into
    `<events stem>_media/` beside the events file. `naive` decodes every frame and detects on each.
    `confirm_model`: a second model confirms each new object (as `detector.confirm` would name it).
    `skip_frames` (a file): its first frames left out, their times kept (another sampling phase).
    `perturb` (a file): its frames as another camera would deliver them (vision/perturb.py, times resolved).
    """
    import json
    import time

    from vision.config import load_config, resolve_source
    from vision.errors import ConfigError, SourceError
    from vision.lifecycle import ClipWriter
    from vision.sources import Backoff, is_stream, open_source

    config = load_config(config_path)
    if camera is None:
        if len(config.cameras) > 1:
            raise ConfigError(
                f"{config_path}: has cameras {', '.join(config.cameras)}; pick one with --camera NAME"
            )
        camera = next(iter(config.cameras))
    if camera not in config.cameras:
        raise ConfigError(f"{config_path}: no camera '{camera}' (cameras: {', '.join(config.cameras)})")
    cam = config.cameras[camera]
    if detector is None:
        from vision.detectors import create_detector

        detector = create_detector(cam.detector_section(), base_dir=Path(config_path).resolve().parent)
    source = str(clip) if clip is not None else resolve_source(config_path, cam.analysed_source())
    media_dir = None
    out = None
    if events_path is not None:
        events_path = Path(events_path)
        events_path.parent.mkdir(parents=True, exist_ok=True)
        media_dir = events_path.parent / f"{events_path.stem}_media" if media else None
        out = events_path.open("w", encoding="utf-8")
    confirm = None
    if confirm_model is not None:
        from vision.confirm import confirmer_for

        confirm = confirmer_for({**(cam.detector_section() or {}), "confirm": {"model": str(confirm_model)}},
                                Path(config_path).resolve().parent)
    pipe = CameraPipeline(camera, cam, detector, media_dir=media_dir, naive=naive, config_path=config_path,
                          confirm=confirm)
    stream = is_stream(source)
    # A recording session on a live stream gives up after a few failed attempts instead of waiting forever
    # (a worker's camera retries forever; an engineer at the console wants an answer).
    src = open_source(source, None if naive else cam.analysis_fps(),
                      backoff=Backoff(max_attempts=STREAM_ATTEMPTS) if stream else None, skip=skip_frames,
                      perturb=perturb)
    src.work_ahead(pipe.ahead)  # motion work in the read-ahead thread (a file played as fast as it decodes)
    total = getattr(src, "frame_count", 0) or None
    native = float(getattr(src, "native_fps", 0.0) or cam.detect.fps)
    pipe.events.set_fps(rate := native if naive else min(native, cam.analysis_fps()))   # 10 fps clip: 10
    bar: Any = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="frame", desc=f"analyze {Path(source).name}", leave=False)
    writer: ClipWriter | None = None
    records: list[dict[str, Any]] = []

    def emit(msgs: list[EventMessage]) -> None:
        for m in msgs:
            if m.lifecycle == "end":
                rec = m.to_record()
                records.append(rec)
                if out is not None:
                    out.write(json.dumps(rec, ensure_ascii=False) + "\n")
                    out.flush()

    t0 = time.perf_counter()
    last_index, last_t, first_t = 0, 0.0, 0.0
    seen = False
    try:
        with src:
            try:
                for frame in src:
                    if max_seconds is not None and frame.t > max_seconds:
                        break
                    emit(pipe.process(frame))
                    if annotated is not None:
                        if writer is None:
                            h, w = frame.image.shape[:2]
                            writer = ClipWriter(Path(annotated), w, h, rate)
                        writer.write(pipe.annotate(frame))
                    if bar is not None:
                        first = last_index == 0 and frame.index == 0
                        bar.update(frame.index - last_index + (1 if first else 0))
                    first_t = first_t if seen else frame.t
                    last_index, last_t, seen = frame.index, frame.t, True
            except SourceError as e:
                if not (stream and seen):
                    raise
                # the stream went away for good after giving frames: end what is open, like a clip that ends
                log.warning("%s; analysis ends at %.1f s, the events so far are written", e, last_t)
        emit(pipe.finish())
    finally:
        if writer is not None:
            writer.close()
        if out is not None:
            out.close()
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t0
    occupancy = {z: list(r.frames) for z, _, r in pipe.rules if isinstance(r, Occupancy)}
    return AnalyzeResult(records, pipe.stats, seconds, last_t + 1.0 / native, last_index + 1, occupancy,
                         first_t)
