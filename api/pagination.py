from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination


class NewestFirstCursorPagination(CursorPagination):
    """Stable under inserts: a page never repeats or skips a generation created meanwhile.

    A cursor that is not one of ours names no page: 404, not a 500 from the database (a forged
    position). A cursor is opaque, so no schema can tell a well-formed one from a forged one; a
    404 is the answer a client must expect for any string (and the schema documents it). A bad
    page_size is a 400, never a silent default (`page_size=null`)."""

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
        except (NotFound, ValueError):
            raise NotFound("No such page: the cursor is not one this API gave out.") from None
        return cursor

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
