"""Reading request bodies: size limit, JSON, and validation into wire models.

A body that is too large, is not JSON, has a value of the wrong JSON type or a member the
resource does not have is rejected with ``InvalidRequestContent``; a value that breaks a
rule is ``InvalidParameter``. Either way the message names the field (as the JSON path the
caller wrote, e.g. ``properties.maintenanceWindow.duration``) and nothing is stored.

Member names match without case, as ARM's providers match them (``{"Properties": …}`` is
``properties``); what is stored and echoed uses the spec's spelling.
"""

from __future__ import annotations

import json
from types import UnionType
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from upkeep.arm.errors import ArmError, invalid_content

MAX_BODY_BYTES = 4 * 1024 * 1024  # ARM's own request limit

Model = TypeVar("Model", bound=BaseModel)

# Pydantic error types that mean "the JSON has the wrong shape" rather than "a bad value".
_SHAPE_ERRORS = frozenset(
    {
        "extra_forbidden",
        "model_type",
        "model_attributes_type",
        "dict_type",
        "list_type",
        "string_type",
        "bool_type",
        "int_type",
        "float_type",
        "missing",
    }
)


async def read_json(request: Request, *, required: bool = True) -> Any:
    """The request body as JSON, or ``None`` when it is empty and not required."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large(int(declared))
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise _too_large(len(raw))
    if not raw.strip():
        if required:
            raise invalid_content("The request body is empty; a JSON object is required.")
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise invalid_content("The request body is not valid UTF-8.") from None
    except json.JSONDecodeError as error:
        raise invalid_content(
            f"The request body is not valid JSON: {error.msg} at line {error.lineno},"
            f" column {error.colno}."
        ) from None


#: Envelope members a client may send back in a PATCH; the server sets them.
READ_ONLY_MEMBERS = ("id", "name", "type", "systemData")


async def read_patch(request: Request) -> dict[str, Any]:
    """A PATCH body: a JSON object, without the read-only envelope members."""
    changes = await read_json(request)
    if not isinstance(changes, dict):
        raise invalid_content(f"The request body must be a JSON object, not {_json_type(changes)}.")
    return {key: value for key, value in changes.items() if key not in READ_ONLY_MEMBERS}


def parse_model(model: type[Model], data: Any, *, prefix: str = "") -> Model:
    """Validate ``data`` into ``model``; map every validation error to an ARM 400."""
    if not isinstance(data, dict):
        raise invalid_content(
            f"The request body must be a JSON object, not {_json_type(data)}.",
            target=prefix or None,
        )
    try:
        return model.model_validate(spec_spelling(model, data))
    except ValidationError as error:
        raise validation_error(error, prefix) from None


def spec_spelling(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with each member renamed to the model's spelling when only case differs."""
    fields = {(info.alias or name).lower(): (info.alias or name, info.annotation)
              for name, info in model.model_fields.items()}  # fmt: skip
    renamed: dict[str, Any] = {}
    for key, value in data.items():
        spelling, annotation = fields.get(key.lower(), (key, None))
        renamed[spelling] = _respell(annotation, value)
    return renamed


def _respell(annotation: Any, value: Any) -> Any:
    """Apply :func:`spec_spelling` inside nested models and lists of them."""
    for candidate in _member_types(annotation):
        if (
            isinstance(candidate, type)
            and issubclass(candidate, BaseModel)
            and isinstance(value, dict)
        ):
            return spec_spelling(candidate, value)
        if get_origin(candidate) is list and isinstance(value, list):
            (item,) = get_args(candidate) or (None,)
            return [_respell(item, element) for element in value]
    return value


def _member_types(annotation: Any) -> list[Any]:
    """The types an annotation allows, without ``Optional``/``Union``/``Annotated`` wrappers."""
    if get_origin(annotation) is Annotated:
        return _member_types(get_args(annotation)[0])
    if get_origin(annotation) in (Union, UnionType):
        return [inner for arg in get_args(annotation) for inner in _member_types(arg)]
    return [annotation]


def validation_error(error: ValidationError, prefix: str = "") -> ArmError:
    """One ARM error for a pydantic ``ValidationError``: the first problem, all in details."""
    problems = [_problem(item, prefix) for item in error.errors(include_url=False)]
    first = problems[0]
    return ArmError(
        400,
        first.code,
        first.message,
        target=first.target,
        details=problems if len(problems) > 1 else None,
    )


def field_path(location: tuple[int | str, ...], prefix: str = "") -> str:
    """``("properties", "tags", 0)`` -> ``properties.tags[0]``."""
    path = prefix
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: objects merge, ``null`` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def _problem(item: Any, prefix: str) -> ArmError:
    location = tuple(part for part in item["loc"] if not _is_validator_tag(part))
    target = field_path(location, prefix) or "body"
    kind = item["type"]
    if kind == "extra_forbidden":
        return invalid_content(
            f"Could not find member '{location[-1]}' at '{target}': the resource has no such"
            " property.",
            target,
        )
    if kind == "missing":
        return ArmError(400, "InvalidParameter", f"{target}: a value is required.", target=target)
    message = item["msg"]
    if kind == "value_error":
        message = message.removeprefix("Value error, ")
    if kind in _SHAPE_ERRORS:
        actual = _json_type(item.get("input"))
        return invalid_content(f"{target}: {message} (got {actual}).", target)
    return ArmError(400, "InvalidParameter", f"{target}: {message}", target=target)


def _is_validator_tag(part: int | str) -> bool:
    # pydantic puts the name of a function validator or union member into the location
    return isinstance(part, str) and (part.startswith("function-") or part in {"str", "int"})


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _too_large(size: int) -> ArmError:
    return invalid_content(
        f"The request body is {size} bytes; the largest body accepted is {MAX_BODY_BYTES} bytes."
    )
