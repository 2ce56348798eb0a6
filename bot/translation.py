"""Machine translation of what people write: LibreTranslate (self-hosted) or DeepL, optional.

With `[translation] backend = "none"` (the default) no text leaves the bot. Otherwise texts go to
the configured service over its documented HTTP API (httpx, which python-telegram-bot brings).
A translation never blocks or loses a message: the service down, slower than `timeout_seconds`,
an error or a language it lacks all give `None`, and the caller shows the original.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from bot.config import TranslationSettings
from storage.translations import StoredTranslation, TranslationRepository, text_subject

log = logging.getLogger(__name__)

#: The service's key, from the environment only (LibreTranslate api_key, DeepL auth key).
API_KEY_ENV = "QUARTIERBOT_TRANSLATION_API_KEY"

#: After the service was down or too slow, how long the bot shows originals without asking it:
#: otherwise every event card and every reader would wait out the timeout again.
OUTAGE_REST_SECONDS = 30.0

#: DeepL names a few target languages with a variant; the others are the code in capitals.
_DEEPL_TARGETS = {"en": "EN-GB", "pt": "PT-PT"}


@dataclass(frozen=True)
class Translated:
    """One translated text and the language it was translated from (detected or given)."""

    text: str
    source_language: str


class Backend(Protocol):
    """One translation service."""

    async def translate(
        self, texts: Sequence[str], target: str, source: str | None, html: bool
    ) -> list[Translated]:
        """Translate every text into `target`; raises on any problem."""
        ...


class LibreTranslate:
    """`POST {url}/translate` with `{q, source, target, format}`; `q` may be a list."""

    def __init__(self, url: str, api_key: str, client: httpx.AsyncClient) -> None:
        self.url = url
        self.api_key = api_key
        self.client = client

    async def translate(
        self, texts: Sequence[str], target: str, source: str | None, html: bool
    ) -> list[Translated]:
        """One request for all texts."""
        body: dict[str, Any] = {
            "q": list(texts),
            "source": source or "auto",
            "target": target,
            "format": "html" if html else "text",
        }
        if self.api_key:
            body["api_key"] = self.api_key
        response = await self.client.post(f"{self.url}/translate", json=body)
        response.raise_for_status()
        data = response.json()
        translated = data["translatedText"]
        detected = data.get("detectedLanguage")
        if isinstance(translated, str):
            translated, detected = [translated], [detected]
        if not isinstance(detected, list):
            detected = [detected] * len(translated)
        if len(translated) != len(texts):
            raise ValueError("the service answered a different number of texts")
        return [
            Translated(str(text), _language(found, source))
            for text, found in zip(translated, detected, strict=True)
        ]


class DeepL:
    """`POST {url}/v2/translate` with `text` (a list), `target_lang`, optional `source_lang`."""

    def __init__(self, url: str, api_key: str, client: httpx.AsyncClient) -> None:
        self.url = url
        self.api_key = api_key
        self.client = client

    async def translate(
        self, texts: Sequence[str], target: str, source: str | None, html: bool
    ) -> list[Translated]:
        """One request for all texts."""
        body: dict[str, Any] = {
            "text": list(texts),
            "target_lang": _DEEPL_TARGETS.get(target, target.upper()),
        }
        if source:
            body["source_lang"] = source.upper()
        if html:
            body["tag_handling"] = "html"
        response = await self.client.post(
            f"{self.url}/v2/translate",
            json=body,
            headers={"Authorization": f"DeepL-Auth-Key {self.api_key}".strip()},
        )
        response.raise_for_status()
        translations = response.json()["translations"]
        if len(translations) != len(texts):
            raise ValueError("the service answered a different number of texts")
        return [
            Translated(
                str(item["text"]),
                str(item.get("detected_source_language") or source or "").lower()[:2],
            )
            for item in translations
        ]


def _outage(error: Exception) -> bool:
    """The service is away (no answer in time, no connection, a server error, a rate or quota
    limit), not just refusing one request (another 4xx, say for a language it lacks)."""
    if isinstance(error, httpx.HTTPStatusError):
        # 429: too many requests; 456: DeepL's quota is used up. Both concern every request.
        return error.response.status_code >= 500 or error.response.status_code in (429, 456)
    return isinstance(error, TimeoutError | httpx.TransportError)


def _language(detected: object, source: str | None) -> str:
    """LibreTranslate's detectedLanguage ({language, confidence}), else the given source."""
    if isinstance(detected, dict) and detected.get("language"):
        return str(detected["language"]).lower()
    return (source or "").lower()


class TranslationService:
    """The bot's one way to translate; None whenever a translation cannot be had in time."""

    def __init__(self, settings: TranslationSettings, default_language: str) -> None:
        self.settings = settings
        self.staff_language = settings.staff_language or default_language
        self._client: httpx.AsyncClient | None = None
        self._backend: Backend | None = None
        self._resting_until = 0.0

    @property
    def enabled(self) -> bool:
        """A service is configured."""
        return self.settings.enabled

    def _service(self) -> Backend:
        """The backend, with its HTTP client created in the running loop."""
        if self._backend is None:
            self._client = httpx.AsyncClient(timeout=self.settings.timeout_seconds)
            api_key = os.environ.get(API_KEY_ENV, "").strip()
            kind = DeepL if self.settings.backend == "deepl" else LibreTranslate
            self._backend = kind(self.settings.url, api_key, self._client)
        return self._backend

    async def translate(
        self, texts: Sequence[str], target: str, source: str | None = None, html: bool = False
    ) -> list[Translated] | None:
        """Every text in `target`, or None (disabled, down, slow, an error, a missing language)."""
        if not self.enabled or not texts or time.monotonic() < self._resting_until:
            return None
        try:
            async with asyncio.timeout(self.settings.timeout_seconds):
                return await self._service().translate(texts, target, source, html)
        except (TimeoutError, httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            # The type only: the error may quote the request, and with it residents' texts.
            log.warning("translation unavailable: %s", type(exc).__name__)
            if _outage(exc):
                self._resting_until = time.monotonic() + OUTAGE_REST_SECONDS
            return None

    async def close(self) -> None:
        """Close the HTTP client (at shutdown)."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
            self._backend = None


async def translate_stored(
    service: TranslationService,
    store: TranslationRepository,
    texts: Sequence[str],
    target: str,
    html: bool = False,
) -> list[StoredTranslation] | None:
    """Staff texts in `target`: stored ones by content, the rest in one call, then stored.

    None when the service is off, or could not answer for the texts not stored yet (a later
    look tries again). A translation whose source is `target` means: written in it already.
    """
    if not service.enabled:
        return None
    subjects = [text_subject(text, html) for text in texts]
    found: list[StoredTranslation | None] = []
    for subject, text in zip(subjects, texts, strict=True):
        found.append(await store.get(subject, target) if text else None)
    missing = [index for index, text in enumerate(texts) if text and found[index] is None]
    if missing:
        answer = await service.translate([texts[i] for i in missing], target, html=html)
        if answer is None:
            return None
        for index, translated in zip(missing, answer, strict=True):
            stored = StoredTranslation(translated.text, translated.source_language or target)
            await store.put(subjects[index], target, stored)
            found[index] = stored
    # An empty text needs no translation: it stands as it is.
    return [
        stored or StoredTranslation(text, target) for stored, text in zip(found, texts, strict=True)
    ]
