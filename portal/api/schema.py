"""The OpenAPI schema says what every API answer can be, errors included.

drf-spectacular documents the success of each operation; ``document_error_responses`` (a postprocessing
hook) adds the errors every operation may give, with one shared shape each: 400 (a refused request: messages
by field, or ``detail``), 401 (no or bad credentials), 403 (the role does not allow it), 404 (no such object
or page) and, for operations that take a body, 415 (not JSON). Optional query parameters are marked
``allowEmptyValue``: the filters, shared with the pages' forms, read an empty value as "no filter".
"""

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "description": "Why the request failed.",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": (
        "Why the request was refused: under each field of the request, its messages (a list of strings, or "
        "nested like the field for lists and objects); ``non_field_errors`` for the request as a whole, or "
        "only ``detail`` when the request could not be read (not JSON, too large, a NUL character)."
    ),
    "properties": {
        "detail": {"type": "string"},
        "non_field_errors": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": True,
}
ERRORS = {
    "400": ("The request was refused.", "ValidationError"),
    "401": ("No credentials, or credentials that are not valid (any more).", "Error"),
    "403": ("The role or the caller's place in the organisation does not allow it.", "Error"),
    "404": ("No such object for this caller, or no such page.", "Error"),
}
BODY_ERRORS = {"415": ("The body is not JSON.", "Error")}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def document_error_responses(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    schemas["ValidationError"] = VALIDATION_ERROR_SCHEMA
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and not parameter.get("required"):
                    parameter["allowEmptyValue"] = True
            responses = operation.setdefault("responses", {})
            errors = {**ERRORS, **(BODY_ERRORS if "requestBody" in operation else {})}
            for code, (description, name) in errors.items():
                documented = responses.get(code)
                if documented is None:
                    responses[code] = {
                        "description": description, "content": {"application/json": {"schema": _ref(name)}},
                    }
                elif code == "400":
                    # An operation's own 400 (rows with their problems) still gives the shared one when the
                    # body cannot be read or does not have the fields it needs.
                    content = documented.setdefault("content", {}).setdefault("application/json", {})
                    own = content.get("schema")
                    content["schema"] = {"anyOf": [own, _ref(name)]} if own else _ref(name)
    return result
