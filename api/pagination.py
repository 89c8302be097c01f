from base64 import b64encode
from urllib import parse

from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination


class NewestFirstCursorPagination(CursorPagination):
    """Stable under inserts: a page never repeats or skips a generation created meanwhile.

    A cursor that is not one of ours names no page: 404, not a 500 from the database (a forged
    position). A cursor is opaque, so no schema can tell a well-formed one from a forged one; a
    404 is the answer a client must expect for any string (and the schema documents it). A bad
    page_size is a 400, never a silent default (`page_size=null`). "Ours" means exactly the string
    `encode_cursor` writes: the base64 decoder drops characters outside its alphabet, so `%00`
    or `=` decoded to an empty cursor (page 1) until a cursor had to re-encode to itself."""

    ordering = ("-created_at", "-id")
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
            position = cursor.position if cursor is not None else None
            if position is not None and parse_datetime(position) is None:
                raise ValueError
            if cursor is not None and request.query_params[self.cursor_query_param] != (
                self._encoded(cursor)
            ):
                raise ValueError
        except (NotFound, ValueError):
            raise NotFound("No such page: the cursor is not one this API gave out.") from None
        return cursor

    @staticmethod
    def _encoded(cursor) -> str | None:
        """The cursor string `encode_cursor` gives out for this cursor; None for the empty one it
        never gives out (offset 0, forward, no position is the first page, which has no cursor)."""
        tokens = {}
        if cursor.offset != 0:
            tokens["o"] = str(cursor.offset)
        if cursor.reverse:
            tokens["r"] = "1"
        if cursor.position is not None:
            tokens["p"] = cursor.position
        if not tokens:
            return None
        return b64encode(parse.urlencode(tokens, doseq=True).encode("ascii")).decode("ascii")

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or len(raw) > 3 or not 1 <= int(raw) <= self.max_page_size:
            message = f"Must be an integer from 1 to {self.max_page_size}."
            raise ValidationError({self.page_size_query_param: [message]})
        return int(raw)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
        return parameters
