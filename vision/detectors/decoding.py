"""What every tensor backend shares: the model's input format, pre-processing, output decoding, NMS.

Three output families are understood, told apart by their shapes (see `read_model_format`):
- NanoDet: per stride a class map [1, N, C] (sigmoid scores) and a box map [1, N, 4 * (reg_max + 1)]
  (a distribution over distances, in strides, from the cell's centre to each side).
- Ultralytics YOLOv8 / YOLO11 exports: one [1, 4 + C, N] tensor, rows cx, cy, w, h then C class scores.
- End-to-end detectors: one [1, N, 6] tensor of x1, y1, x2, y2, score, class (CenterNet here, YOLOv10/26).
- YOLOX: one [1, N, 5 + C] tensor over the cells of strides 8/16/32, row-major: dx, dy, log w, log h,
  objectness, C class scores (sigmoids applied); letterboxed into the top-left corner, BGR 0..255.
PicoDet-S is the NanoDet family with four strides and 8 bins (its format comes from its metadata).
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vision.errors import ModelError

COCO80 = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)

Shape = tuple[Any, ...]


@dataclass
class ModelFormat:
    """How to feed a model and read its outputs."""

    decoder: str                       # "nanodet" | "yolo" | "yolox" | "rows_xyxy_score_class"
    class_names: list[str]
    size: tuple[int, int]              # (width, height) of the input
    layout: str = "NCHW"               # or "NHWC"
    color: str = "RGB"                 # channel order the model wants
    resize: str = "letterbox"          # or "stretch", or "letterbox_tl" (image in the top-left corner)
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (255.0, 255.0, 255.0)
    strides: tuple[int, ...] = (8, 16, 32)
    reg_max: int = 7
    batch: bool = False                # input takes a batch larger than one
    dynamic: bool = False              # input height and width are free (multiples of the largest stride)
    multiple: int | None = None        # a free input's height and width: multiples of this, not the stride
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Letterbox:
    """Maps input pixels back to source pixels: source = (input - pad) / scale."""

    sx: float
    sy: float
    px: float = 0.0
    py: float = 0.0
    size: tuple[int, int] | None = None   # (width, height) of the input tensor, when not the model's own

    def to_source(self, xyxy: np.ndarray, width: int, height: int) -> np.ndarray:
        out = xyxy.astype(np.float32).copy()
        out[:, [0, 2]] = (out[:, [0, 2]] - self.px) / self.sx
        out[:, [1, 3]] = (out[:, [1, 3]] - self.py) / self.sy
        out[:, [0, 2]] = out[:, [0, 2]].clip(0, width)
        out[:, [1, 3]] = out[:, [1, 3]].clip(0, height)
        return out


def parse_names(value: str | None, count: int) -> list[str]:
    """Class names from metadata: Ultralytics' "{0: 'person', ...}", a JSON list, or generic names."""
    names: list[str] = []
    if value:
        try:
            parsed = json.loads(value)
        except ValueError:
            try:
                parsed = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                parsed = None
        if isinstance(parsed, dict):
            names = [str(parsed[k]) for k in sorted(parsed, key=int)]
        elif isinstance(parsed, list):
            names = [str(n) for n in parsed]
    if not names:
        names = list(COCO80) if count == 80 else [f"class{i}" for i in range(count)]
    if count and len(names) != count:
        names = (names + [f"class{i}" for i in range(len(names), count)])[:count]
    return names


def _dim(d: Any) -> int | None:
    return d if isinstance(d, int) and d > 0 else None


def read_model_format(path: Path, metadata: dict[str, str], input_shape: Shape,
                      outputs: list[Shape]) -> ModelFormat:
    """Work out the decoder from output shapes; `sharpeyes.input` metadata (models/convert.py) wins."""
    declared: dict[str, Any] = {}
    if "sharpeyes.input" in metadata:
        try:
            declared = json.loads(metadata["sharpeyes.input"])
        except ValueError:
            raise ModelError(
                f"{path}: metadata 'sharpeyes.input' is not JSON; rebuild it with models/convert.py"
            ) from None
    shapes = [tuple(s) for s in outputs]
    if len(input_shape) != 4:
        raise ModelError(f"{path}: expected one image input of rank 4, got shape {list(input_shape)}")
    layout = declared.get("layout") or ("NHWC" if _dim(input_shape[3]) == 3 else "NCHW")
    h_dim, w_dim = (input_shape[1], input_shape[2]) if layout == "NHWC" else (input_shape[2], input_shape[3])
    imgsz = metadata.get("imgsz")
    if "size" in declared:
        size = (int(declared["size"][0]), int(declared["size"][1]))
    elif _dim(h_dim) and _dim(w_dim):
        size = (int(w_dim), int(h_dim))
    elif imgsz:
        hw = ast.literal_eval(imgsz)
        size = (int(hw[1]), int(hw[0])) if isinstance(hw, list | tuple) else (int(hw), int(hw))
    else:
        size = (640, 640)
    batch = _dim(input_shape[0]) != 1

    def fmt(decoder: str, count: int, **defaults: Any) -> ModelFormat:
        values: dict[str, Any] = {**defaults, **{k: v for k,
                                                 v in declared.items() if k not in ("decoder", "size",
                                                                                    "layout")}}
        if "dynamic" in values:
            values["dynamic"] = bool(values["dynamic"]) and layout == "NCHW"
        for key in ("mean", "std", "strides"):
            if key in values:
                values[key] = tuple(values[key])
        return ModelFormat(decoder=decoder, class_names=parse_names(metadata.get("names"), count), size=size,
                           layout=layout, batch=batch, **values)

    unsupported = (f"{path}: unsupported model outputs {[list(s) for s in shapes]}; expected NanoDet "
                   "(class and box maps per stride), an Ultralytics YOLOv8/11 "
                   "export (1 x (4+C) x N), YOLOX (1 x N x (5+C)) or "
                   "rows of x1,y1,x2,y2,score,class (1 x N x 6); export the model in one of these forms")
    if len(shapes) == 1 and len(shapes[0]) == 3:
        _, a, b = shapes[0]
        if _dim(b) == 6 and declared.get("decoder", "rows_xyxy_score_class") == "rows_xyxy_score_class":
            count = len(parse_names(metadata.get("names"), 0)) if metadata.get("names") else 80
            return fmt("rows_xyxy_score_class", count, color="RGB", resize="letterbox")
        cells = sum(-(-size[0] // st) * -(-size[1] // st) for st in (8, 16, 32))
        if _dim(b) and b > 5 and (declared.get("decoder") == "yolox" or (not declared and a == cells)):
            return fmt("yolox", b - 5, color="BGR", resize="letterbox_tl", mean=(0.0, 0.0, 0.0),
                       std=(1.0, 1.0, 1.0), strides=(8, 16, 32))
        if _dim(a) and a > 4 and (not _dim(b) or b > a):
            return fmt("yolo", a - 4, color="RGB", resize="letterbox")
        raise ModelError(unsupported)
    if len(shapes) >= 2 and len(shapes) % 2 == 0 and all(len(s) == 3 for s in shapes):
        widths = sorted({s[2] for s in shapes if _dim(s[2])})
        if "reg_max" in declared:
            box_w = 4 * (int(declared["reg_max"]) + 1)
        else:  # the box map's width is 4 x (reg_max + 1) for a usual reg_max (7, 10, 16)
            fits = [w for w in widths if w % 4 == 0 and w // 4 - 1 in (7, 10, 16)]
            box_w = fits[0] if fits else -1
        if len(widths) == 2 and box_w in widths:
            cls_w = widths[1] if box_w == widths[0] else widths[0]
            return fmt("nanodet", int(cls_w), color="BGR", resize="stretch", reg_max=box_w // 4 - 1,
                       mean=(103.53, 116.28, 123.675), std=(57.375, 57.12, 58.395))
    raise ModelError(unsupported)


def preprocess(image: np.ndarray, fmt: ModelFormat, enlarge: bool = False,
               own_size: bool = False) -> tuple[np.ndarray, Letterbox]:
    """BGR uint8 HxWx3 -> the model's input tensor (1 x ...) and the map back to source pixels.

    A model with a free input size gets the image at most at its own size (padded to the largest stride);
    `enlarge` letterboxes a small image up to the model's size instead, as for a fixed-size model. A
    free-size model that stretches (PicoDet) stretches every image to its size, as a fixed one, but an
    `own_size` image that fits (motion regions packed for it): that runs as it is, padded."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a BGR image HxWx3, got shape {image.shape}")
    h, w = image.shape[:2]
    tw, th = fmt.size
    r = min(tw / w, th / h)
    step = fmt.multiple or max(fmt.strides)
    if fmt.dynamic and fmt.resize != "stretch" and not (enlarge and r > 1):
        # a free input size: no upscaling, the image at most the model's size, padded to the largest stride
        r = min(1.0, r)
        tw, th = -(-max(1, round(w * r)) // step) * step, -(-max(1, round(h * r)) // step) * step
    elif fmt.dynamic and fmt.resize == "stretch" and own_size and r >= 1:
        # a free input size, a model trained on stretched whole frames: packed motion regions (`own_size`)
        # run at their own size, padded in the bottom and right to the step; whole frames are stretched
        tw, th = -(-w // step) * step, -(-h // step) * step
        resized = np.full((th, tw, 3), 114, dtype=np.uint8)
        resized[:h, :w] = image
        return _blob(resized, fmt), Letterbox(1.0, 1.0, 0.0, 0.0, (tw, th) if (tw, th) != fmt.size else None)
    if fmt.resize == "stretch":
        resized = cv2.resize(image, (tw, th), interpolation=cv2.INTER_LINEAR)
        box = Letterbox(tw / w, th / h)
    else:
        nw, nh = max(1, round(w * r)), max(1, round(h * r))
        px, py = (0, 0) if fmt.resize == "letterbox_tl" else ((tw - nw) // 2, (th - nh) // 2)
        resized = np.full((th, tw, 3), 114, dtype=np.uint8)
        resized[py:py + nh, px:px + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
        box = Letterbox(nw / w, nh / h, px, py, (tw, th) if (tw, th) != fmt.size else None)
    return _blob(resized, fmt), box


def _blob(resized: np.ndarray, fmt: ModelFormat) -> np.ndarray:
    """An image of the input's size -> the input tensor (1 x ...): colour order, mean, std, layout."""
    normalise = any(fmt.mean) or any(s != 1.0 for s in fmt.std)
    if fmt.layout == "NCHW":  # OpenCV's blob: channel swap, mean, 1 / std and HWC->CHW in one C++ pass
        th, tw = resized.shape[:2]
        params = cv2.dnn.Image2BlobParams()
        params.size, params.swapRB, params.ddepth = (tw, th), fmt.color == "RGB", cv2.CV_32F
        params.mean = (float(fmt.mean[0]), float(fmt.mean[1]), float(fmt.mean[2]))
        # float32 1 / std, each channel: the same numbers as multiplying the blob by it after (a second pass
        # over a 416x416 PicoDet input, 0.1-0.25 ms)
        params.scalefactor = tuple(float(v) for v in 1.0 / np.asarray(fmt.std, np.float32))
        return np.asarray(cv2.dnn.blobFromImageWithParams(resized, params), np.float32)
    if fmt.color == "RGB":
        resized = resized[:, :, ::-1]
    x: np.ndarray = resized.astype(np.float32)
    if normalise:
        x -= np.asarray(fmt.mean, np.float32)
        x *= 1.0 / np.asarray(fmt.std, np.float32)
    return np.ascontiguousarray(x[None])


def nms(xyxy: np.ndarray, scores: np.ndarray, class_id: np.ndarray, iou: float) -> np.ndarray:
    """Per-class non-maximum suppression; indices kept, best first."""
    if len(xyxy) == 0:
        return np.zeros((0,), dtype=np.int64)
    # Offsetting each class far apart turns per-class NMS into one pass.
    boxes = xyxy + (class_id.astype(np.float32) * (float(xyxy.max()) + 1.0))[:, None]
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1).clip(0) * (y2 - y1).clip(0)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        ix1 = np.maximum(x1[i], x1[rest])
        iy1 = np.maximum(y1[i], y1[rest])
        ix2 = np.minimum(x2[i], x2[rest])
        iy2 = np.minimum(y2[i], y2[rest])
        inter = (ix2 - ix1).clip(0) * (iy2 - iy1).clip(0)
        union = areas[i] + areas[rest] - inter
        order = rest[inter <= iou * np.maximum(union, 1e-9)]
    return np.asarray(keep, dtype=np.int64)


def _rows_reaching(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Rows of a [N, C] score map with a score >= threshold, ascending: what `np.nonzero(scores.max(axis=1) >=
    threshold)` finds, from one comparison over the flat map (a max along rows of 80 classes took 0.43 of the
    0.56 ms of a PicoDet-S decode; nearly every row is below the threshold)."""
    hits = np.flatnonzero(scores >= threshold) // scores.shape[1]   # ascending: the flat order is row-major
    return hits[np.r_[True, hits[1:] != hits[:-1]]] if len(hits) else hits


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def decode_nanodet(outputs: list[np.ndarray], fmt: ModelFormat, score_threshold: float,
                   size: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's NanoDet maps (each [N, C] or [N, 4*(reg_max+1)]) -> boxes in input pixels. Maps are
    matched to strides by their cells, in output order where two strides have as many (a small free-size
    input: strides 32 and 64 of a 32 x 32 input have one cell each)."""
    tw, th = size or fmt.size
    bins = 4 * (fmt.reg_max + 1)
    cls_maps = [o for o in outputs if o.shape[1] != bins]
    box_maps = [o for o in outputs if o.shape[1] == bins]

    def take(maps: list[np.ndarray], n: int) -> np.ndarray | None:
        for i, m in enumerate(maps):
            if m.shape[0] == n:
                return maps.pop(i)
        return None

    boxes, scores, classes = [], [], []
    for stride in fmt.strides:
        gw, gh = -(-tw // stride), -(-th // stride)
        n = gw * gh
        cls, box_map = take(cls_maps, n), take(box_maps, n)
        if cls is None or box_map is None:
            raise ModelError(f"NanoDet outputs lack the {gh}x{gw} maps of stride {stride} "
                             f"(have {sorted(o.shape[0] for o in outputs)} cells)")
        idx = _rows_reaching(cls, score_threshold)
        if not len(idx):
            continue
        best = cls[idx].argmax(axis=1)
        dist = _softmax(box_map[idx].reshape(-1, 4, fmt.reg_max + 1), axis=2)
        dist = (dist * np.arange(fmt.reg_max + 1, dtype=np.float32)).sum(axis=2) * stride
        # Distances are measured from the cell's centre; from its corner every box sits half a stride
        # up and left of the object (checked on vtest.avi against CenterNet and by eye).
        cx = ((idx % gw).astype(np.float32) + 0.5) * stride
        cy = ((idx // gw).astype(np.float32) + 0.5) * stride
        boxes.append(np.stack([cx - dist[:, 0], cy - dist[:, 1], cx + dist[:, 2], cy + dist[:, 3]], axis=1))
        scores.append(cls[idx, best])
        classes.append(best)
    if not boxes:
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0,), np.int64)
    return np.concatenate(boxes), np.concatenate(scores), np.concatenate(classes)


def decode_yolo(output: np.ndarray, score_threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's Ultralytics [4 + C, N] output -> boxes (input pixels), scores, classes."""
    keep = np.nonzero(output[4:].max(axis=0) >= score_threshold)[0]
    pred = output[:, keep].T  # [kept, 4 + C]
    best = pred[:, 4:].argmax(axis=1)
    cx, cy, w, h = pred[:, :4].T
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return xyxy, pred[np.arange(len(pred)), 4 + best], best


@lru_cache(maxsize=64)
def _yolox_grid(tw: int, th: int, strides: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Cell (col, row) and stride of every output row of a YOLOX input of tw x th."""
    grids, steps = [], []
    for stride in strides:
        gw, gh = -(-tw // stride), -(-th // stride)
        rows, cols = np.divmod(np.arange(gw * gh, dtype=np.float32), gw)
        grids.append(np.stack([cols, rows], axis=1))
        steps.append(np.full(gw * gh, stride, np.float32))
    return np.concatenate(grids), np.concatenate(steps)


def decode_yolox(output: np.ndarray, fmt: ModelFormat, score_threshold: float,
                 size: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's YOLOX [N, 5 + C] output -> boxes (input pixels), scores (objectness x class), classes."""
    tw, th = size or fmt.size
    grid, stride_of = _yolox_grid(tw, th, tuple(fmt.strides))
    if len(grid) != len(output):
        raise ModelError(
            f"YOLOX output has {len(output)} rows; strides {list(fmt.strides)} of a {tw}x{th} input "
            f"give {len(grid)}"
        )
    # a score is objectness x class score, both sigmoids: no more than the objectness when no class score
    # exceeds 1, so only the rows whose objectness reaches the threshold are multiplied out (all 80 classes of
    # every row took half the decode's time)
    rows = (np.nonzero(output[:, 4] >= score_threshold)[0] if float(output[:, 5:].max(initial=0.0)) <= 1.0
            else np.arange(len(output)))
    cls = output[rows, 5:] * output[rows, 4:5]
    best = cls.argmax(axis=1)
    score = cls[np.arange(len(cls)), best]
    kept = np.nonzero(score >= score_threshold)[0]
    keep = rows[kept]
    pred, s = output[keep], stride_of[keep, None]
    cxy = (pred[:, :2] + grid[keep]) * s
    half = np.exp(pred[:, 2:4]) * s / 2
    return np.concatenate([cxy - half, cxy + half], axis=1), score[kept], best[kept]


def decode_rows(output: np.ndarray, score_threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's [N, 6] rows of x1, y1, x2, y2, score, class (already suppressed)."""
    keep = output[:, 4] >= score_threshold
    return output[keep, :4], output[keep, 4], output[keep, 5].round().astype(np.int64)


def decode(outputs: list[np.ndarray], fmt: ModelFormat, score_threshold: float, iou: float,
           size: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's outputs (batch axis removed) -> (xyxy in input pixels, score, class id) after NMS."""
    if fmt.decoder == "nanodet":
        xyxy, score, cls = decode_nanodet(outputs, fmt, score_threshold, size)
    elif fmt.decoder == "yolo":
        xyxy, score, cls = decode_yolo(outputs[0], score_threshold)
    elif fmt.decoder == "yolox":
        xyxy, score, cls = decode_yolox(outputs[0], fmt, score_threshold, size)
    elif fmt.decoder == "rows_xyxy_score_class":
        return decode_rows(outputs[0], score_threshold)
    else:
        raise ModelError(f"unknown decoder {fmt.decoder!r}")
    keep = nms(xyxy, score, cls, iou)
    return xyxy[keep], score[keep], cls[keep]
