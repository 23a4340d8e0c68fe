"""drf-spectacular: how the personal token appears in the schema (a bearer token)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.TokenAuthentication"
    name = "token"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (Settings > API tokens).",
        }


ERRORS = {
    "400": "Bad input (a field, a filter or the body); nothing was changed.",
    "401": "No valid token or session.",
    "403": "Not allowed, e.g. a write with a read-only token.",
    "404": "No such record, or you may not see it.",
    "405": "This endpoint does not offer the method.",
    "406": "The Accept header asks for a format the API does not serve (it serves JSON).",
    "413": "The request body is too large.",
    "415": "Send JSON (Content-Type: application/json).",
    "429": "Too many requests; wait for the seconds in Retry-After.",
}
WRITE_ONLY = {"413", "415"}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": True},
                "current": {"type": "object", "additionalProperties": True},
            },
        }
    },
}


def error_responses(result, generator, request, public):
    """Every operation documents the API's error answers in the one error shape, so clients
    (and the schema tests) know every status they can get."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["ApiError"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/ApiError"}
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            responses = operation.setdefault("responses", {})
            for code, text in ERRORS.items():
                if code in WRITE_ONLY and method in ("get", "head"):
                    continue
                responses.setdefault(
                    code, {"description": text, "content": {"application/json": {"schema": ref}}}
                )
            if method in ("get", "head"):
                responses.setdefault(
                    "304", {"description": "Not modified (If-None-Match matched the ETag)."}
                )
    return result
