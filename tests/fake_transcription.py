"""A loopback fake of the OpenAI-compatible transcription API (speaches, whisper.cpp, LocalAI).

`POST /v1/audio/transcriptions` with multipart `file`, `model`, `language`, `response_format`
answers `{"text": …}`. The fake "hears" what `spoken()` put into the audio bytes, so a test
knows the transcript of the voice message it sends. `fail` answers 500, `delay` slows answers.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

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
                payload = json.dumps({"text": heard(fields["file"][1])}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
