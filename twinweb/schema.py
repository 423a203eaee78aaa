"""The API schema says what the API answers: every operation documents its error responses (drf-spectacular
postprocessing hook), each with the one error body the exception handler (twinweb/errors.py) writes."""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "description": "An error: `detail` says what is wrong; a refused domain rule adds its `code`. A validation "
    "error maps each field to its messages instead.",
    "properties": {"detail": {}, "code": {"type": "string"}},
    "additionalProperties": True,
}
ERRORS = {
    "400": "The request is malformed or breaks a rule of the record (validation error).",
    "401": "No valid credentials.",
    "403": "The signed-in role may not do this.",
    "404": "No such record, or not visible to this role.",
    "409": "The record's state does not allow it now (already decided, contained, lapsed claim...).",
    "415": "The body is not JSON.",
    "429": "Too many failed authentication attempts from this client.",
}
READ_ONLY = {"get", "head", "options"}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for code, description in ERRORS.items():
                if code in ("409", "415") and method in READ_ONLY:
                    continue
                operation["responses"].setdefault(
                    code,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    },
                )
    return result
