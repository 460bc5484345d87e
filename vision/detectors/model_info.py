"""A model's class names without loading a runtime (no ONNX Runtime session, no torch): for config checks.

`class_names(cfg, base_dir)` answers from the detector section's `classes` key, else from an ONNX file's
`names` metadata (the Ultralytics form "{0: 'person', ...}" or a JSON list; read straight from the file's
protobuf), else None (a .pt file, an OpenVINO IR, an ONNX file without names: known only once loaded).
"""

from __future__ import annotations

import mmap
from pathlib import Path

from vision.detectors.decoding import parse_names

_METADATA_PROPS = 14   # ModelProto.metadata_props (repeated StringStringEntryProto {key = 1, value = 2})


def _varint(buf: bytes | mmap.mmap, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf: bytes | mmap.mmap, start: int, end: int) -> list[tuple[int, int, int]]:
    """(field number, start, end) of the length-delimited fields of one message; others skipped."""
    out = []
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = _varint(buf, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = _varint(buf, pos)
            out.append((number, pos, pos + length))
            pos += length
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    if pos != end:
        raise ValueError("message overruns its end")
    return out


def onnx_metadata(path: Path) -> dict[str, str]:
    """The `metadata_props` of an ONNX file, read from its protobuf; {} if it is not one."""
    try:
        with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            meta: dict[str, str] = {}
            for number, start, end in _fields(buf, 0, len(buf)):
                if number != _METADATA_PROPS:
                    continue
                entry = {n: bytes(buf[s:e]).decode("utf-8", "replace") for n, s, e in _fields(buf, start,
                                                                                              end)}
                meta[entry.get(1, "")] = entry.get(2, "")
            return meta
    except (OSError, ValueError):
        return {}


def class_names(classes: list[str] | None, model: Path | None) -> list[str] | None:
    """Declared `classes`, else the names an ONNX model carries, else None (unknown until it loads)."""
    if classes:
        return list(classes)
    if model is None or model.suffix.lower() != ".onnx" or not model.is_file():
        return None
    names = onnx_metadata(model).get("names")
    return parse_names(names, 0) if names else None
