"""A Bot API without a network, answered in-process (`quartierbot chat`, tests, benchmarks)."""

from __future__ import annotations

import json
from typing import Any

from telegram.request import BaseRequest, RequestData

#: Uploaded files of one call: form field → (file name, content, MIME type).
Files = dict[str, Any]


class OfflineRequest(BaseRequest):
    """Turns each Bot API call into `answer(method, params, files)`, which subclasses decide."""

    @property
    def read_timeout(self) -> float | None:
        """No network, no timeout."""
        return None

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        """Answer one call the way Telegram's HTTP API would (`ok` and `result`)."""
        if method == "GET":
            # A file download (`{base_file_url}{token}/{file_path}`), after getFile.
            content = self.download(url)
            return (200, content) if content is not None else (404, b"Not Found")
        api_method = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        files = dict(request_data.multipart_data or {}) if request_data else {}
        result = self.answer(api_method, params, files)
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def answer(self, method: str, params: dict[str, Any], files: Files) -> Any:
        """The `result` of a call."""
        raise NotImplementedError

    def download(self, url: str) -> bytes | None:
        """The content of a file the bot downloads (None: there is no such file)."""
        return None


def chat_info(chat_id: int, first_name: str) -> dict[str, Any]:
    """A getChat answer (ChatFullInfo) for a private chat, as Telegram gives it."""
    return {
        "id": chat_id,
        "type": "private" if chat_id > 0 else "supergroup",
        "first_name": first_name,
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": {
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        },
    }
