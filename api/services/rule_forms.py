"""The rule forms of the cameras page, generated from the config's own rule models (vision.config), so
the contract stays the one source of truth: a new rule kind or field shows up in the page by itself."""

from __future__ import annotations

from types import UnionType
from typing import Literal, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel
from pydantic_core import PydanticUndefined


def rule_models() -> dict[str, type[BaseModel]]:
    """Rule kind -> its model, read from the discriminated union."""
    from vision.config import Rule  # not at import: vision.config loads OpenCV

    union = get_args(Rule)[0]
    out: dict[str, type[BaseModel]] = {}
    for model in get_args(union):
        kind = get_args(model.model_fields["kind"].annotation)[0]
        out[str(kind)] = model
    return out


def _widget(name: str, annotation: object) -> tuple[str, list[object]]:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return "enum", list(args)
    if origin is Union or origin is UnionType:
        return _widget(name, next(a for a in args if a is not type(None)))
    if annotation is bool:
        return "bool", []
    if annotation is int:
        return "integer", []
    if annotation is float:
        return "number", []
    if annotation is str:
        return "text", []
    if origin is list and args and args[0] is str:
        return ("schedule" if name == "schedule" else "labels"), []
    if origin is list and args and get_origin(args[0]) is tuple:
        return "points", []
    if origin is dict:
        return "label_scores", []
    return "json", []


def rule_form_schema() -> dict[str, object]:
    """{kind: {description, fields: [{name, widget, required, default, min, max, options, description}]}}"""
    kinds: dict[str, object] = {}
    for kind, model in rule_models().items():
        fields = []
        for name, info in model.model_fields.items():
            if name == "kind":
                continue
            widget, options = _widget(name, info.annotation)
            field: dict[str, object] = {"name": name, "widget": widget, "required": info.is_required(),
                                     "description": info.description or ""}
            if options:
                field["options"] = options
            if info.default is not PydanticUndefined and info.default_factory is None:
                field["default"] = info.default
            for meta in info.metadata:
                if isinstance(meta, (Ge, Gt)):
                    field["min"] = meta.ge if isinstance(meta, Ge) else meta.gt
                    field["min_exclusive"] = isinstance(meta, Gt)
                if isinstance(meta, (Le, Lt)):
                    field["max"] = meta.le if isinstance(meta, Le) else meta.lt
            fields.append(field)
        # the fields a user must fill first, then the rest in the model's order
        fields.sort(key=lambda f: (not f["required"], 0))
        kinds[kind] = {"description": model.model_fields["kind"].description or "", "fields": fields}
    return kinds
