"""Loopback fakes of LibreTranslate's and DeepL's HTTP APIs, with their wire formats.

Known phrases translate as a person would; anything else becomes "[<target>] <text>" from
English. `fail` makes every request answer 500, `delay` slows every answer down.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.loopback import LoopbackServer, send_json

#: text → (its language, {target: translation})
PHRASES: dict[str, tuple[str, dict[str, str]]] = {
    "Merdiven ışığı iki haftadır yanmıyor.": (
        "tr",
        {"de": "Das Treppenlicht brennt seit zwei Wochen nicht."},
    ),
    "Wir kommen morgen vorbei.": ("de", {"tr": "Yarın uğrayacağız.", "ar": "سنمر غدًا."}),
    "<b>Straßenfest</b> am Samstag!": (
        "de",
        {
            "tr": "<b>Sokak şenliği</b> cumartesi!",
            "ar": "<b>مهرجان الشارع</b> يوم السبت!",
            "uk": "<b>Вуличне свято</b> в суботу!",
            # A translation that dropped the tags: the bot must not send it.
            "ru": "Уличный праздник в субботу!",
        },
    ),
    "Hâlâ bozuk, bekliyorum.": ("tr", {"de": "Immer noch kaputt, ich warte."}),
    "Musik, Essen und Spiele für Kinder.": (
        "de",
        {
            "tr": "Müzik, yemek ve çocuklar için oyunlar.",
            "ar": "موسيقى وطعام وألعاب للأطفال.",
            "uk": "Музика, їжа та ігри для дітей.",
        },
    ),
    "Straßenfest am Samstag": (
        "de",
        {
            "tr": "Cumartesi sokak şenliği",
            "ar": "مهرجان الشارع يوم السبت",
            "uk": "Вуличне свято в суботу",
        },
    ),
}


def translate(text: str, target: str, source: str | None) -> tuple[str, str]:
    """(translation, source language) of one text."""
    known = PHRASES.get(text)
    if known is not None:
        language, translations = known
        return translations.get(
            target, text if language == target else f"[{target}] {text}"
        ), language
    language = source or "en"
    return (text if language == target else f"[{target}] {text}"), language


@dataclass
class FakeTranslation:
    """Both APIs on one loopback server; `calls` records (path, body, headers)."""

    calls: list[tuple[str, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    fail: bool = False
    delay: float = 0.0

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                fake.calls.append((self.path, body, dict(self.headers)))
                if fake.delay:
                    time.sleep(fake.delay)
                if fake.fail:
                    self.send_response(500)
                    self.end_headers()
                    return
                answer = fake.answer(self.path, body)
                send_json(self, 200 if answer is not None else 404, answer)

            def log_message(self, *args: object) -> None:
                """Quiet."""

        self.loopback = LoopbackServer(Handler)
        self.url = self.loopback.base

    def answer(self, path: str, body: dict[str, Any]) -> object:
        """LibreTranslate's /translate or DeepL's /v2/translate."""
        if path == "/translate":
            texts = body["q"] if isinstance(body["q"], list) else [body["q"]]
            source = None if body.get("source") == "auto" else body.get("source")
            done = [translate(text, body["target"], source) for text in texts]
            result: dict[str, Any] = {"translatedText": [t for t, _ in done]}
            if source is None:
                result["detectedLanguage"] = [{"language": s, "confidence": 90.0} for _, s in done]
            if not isinstance(body["q"], list):
                result = {k: v[0] for k, v in result.items()}
            return result
        if path == "/v2/translate":
            target = body["target_lang"].split("-")[0].lower()
            source = body.get("source_lang", "").lower() or None
            return {
                "translations": [
                    {"detected_source_language": s.upper(), "text": t}
                    for t, s in (translate(text, target, source) for text in body["text"])
                ]
            }
        return None

    def translations_to(self, target: str) -> int:
        """How many requests asked for this target language."""
        return sum(
            1
            for path, body, _ in self.calls
            if body.get("target") == target
            or str(body.get("target_lang", "")).split("-")[0].lower() == target
        )

    def close(self) -> None:
        """Stop serving."""
        self.loopback.close()
