"""WordPress REST errors: `{code, message, data: {status, ...}}`, raised anywhere, rendered once."""


class WooError(Exception):
    def __init__(self, status: int, code: str, message: str, **data) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.data = data

    def body(self) -> dict:
        return {"code": self.code, "message": self.message, "data": {"status": self.status, **self.data}}


_SCHEMA_ERRORS = (  # message → the code `rest_validate_value_from_schema` gives it
    ("is not of type", "rest_invalid_type"), ("is not one of", "rest_not_in_enum"),
    ("must be between", "rest_out_of_bounds"), ("must be greater than", "rest_out_of_bounds"),
    ("Invalid date.", "rest_invalid_date"), ("Invalid email address.", "rest_invalid_email"),
)


def invalid_params(params: dict[str, str]) -> WooError:
    """WordPress argument validation failure, e.g. per_page=101: each parameter's message, and since
    WordPress 5.7 the schema error behind it under `details` (only a type error names its parameter)."""
    details = {}
    for name, message in params.items():
        code = next(code for found, code in _SCHEMA_ERRORS if found in message)
        details[name] = {"code": code, "message": message,
                         "data": {"param": name} if code == "rest_invalid_type" else None}
    return WooError(400, "rest_invalid_param", f"Invalid parameter(s): {', '.join(params)}", params=params,
                    details=details)


def no_route() -> WooError:
    return WooError(404, "rest_no_route", "No route was found matching the URL and request method.")


def invalid_id(post_type: str, status: int) -> WooError:
    """CRUD resources answer an unknown id with 404 on GET/DELETE but 400 on update."""
    return WooError(status, f"woocommerce_rest_{post_type}_invalid_id", "Invalid ID.")


class BareDataError(WooError):
    """`new WP_Error(code, message, 404)`: WordPress reads a status only from array data, so the
    response is HTTP 500 with `data` the bare int (contract §3 footnote); the refunds controller does this."""

    def __init__(self, code: str, message: str, data: int) -> None:
        super().__init__(500, code, message)
        self.bare_data = data

    def body(self) -> dict:
        return {"code": self.code, "message": self.message, "data": self.bare_data}
