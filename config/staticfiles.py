"""WhiteNoise, runnable on Django's async path.

WhiteNoise's middleware is sync only. Under ASGI Django then runs it, and every middleware
outside it, on the sync thread, hops back to the event loop for the async middleware inside it,
and to the thread again for the view: three crossings per request instead of one, on every API
request. This subclass answers on either path; on the async one a path that is not a static file
(a dictionary lookup) goes straight on, and only the file lookup of DEBUG's autorefresh and the
opening of a file run on a thread.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        super().__init__(get_response)
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        return super().__call__(request)

    async def _acall(self, request):
        if self.autorefresh:
            static_file = await sync_to_async(self.find_file)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve)(static_file, request)
        return await self.get_response(request)
