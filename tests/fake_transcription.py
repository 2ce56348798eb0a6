"""A loopback fake of the OpenAI-compatible transcription API (speaches, whisper.cpp, LocalAI).

`POST /v1/audio/transcriptions` with multipart `file`, `model`, `language`, `response_format`
answers `{"text": …}`. The fake "hears" what `spoken()` put into the audio bytes, so a test
knows the transcript of the voice message it sends. `fail` answers 500, `delay` slows answers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.loopback import LoopbackServer, send_json

#: How every fake recording begins (Ogg's magic), before the words it "contains".
_MAGIC = b"OggS\x00fake-opus\x00"


def spoken(words: str) -> bytes:
    """Audio bytes in which the fake hears `words`."""
    return _MAGIC + words.encode("utf-8")


def heard(audio: bytes) -> str:
    """What the fake hears in audio bytes (nothing in bytes not made by `spoken`)."""
    return audio.removeprefix(_MAGIC).decode("utf-8") if audio.startswith(_MAGIC) else ""


def form_fields(content_type: str, body: bytes) -> dict[str, Any]:
    """A multipart/form-data body: text fields as str, the file as (filename, bytes)."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        fields[str(name)] = (filename, payload) if filename else payload.decode("utf-8")
    return fields


@dataclass
class FakeTranscription:
    """The API on one loopback server; `calls` records (path, fields, headers)."""

    calls: list[tuple[str, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    fail: bool = False
    delay: float = 0.0

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fields = form_fields(self.headers.get("Content-Type", ""), body)
                fake.calls.append((self.path, fields, dict(self.headers)))
                if fake.delay:
                    time.sleep(fake.delay)
                if fake.fail or self.path != "/v1/audio/transcriptions" or "file" not in fields:
                    self.send_response(500 if fake.fail else 400)
                    self.end_headers()
                    return
                send_json(self, 200, {"text": heard(fields["file"][1])})

            def log_message(self, *args: object) -> None:
                """Quiet."""

        self.loopback = LoopbackServer(Handler)
        self.url = f"{self.loopback.base}/v1"

    def close(self) -> None:
        """Stop serving."""
        self.loopback.close()
