"""Speech to text for residents' and officers' voice messages, optional and self-hostable.

With `[transcription] backend = "none"` (the default) no audio leaves the bot: voice messages
go to staff as they are. With "openai", the audio goes to any server that speaks the
OpenAI-compatible `POST {url}/audio/transcriptions` (speaches with faster-whisper, whisper.cpp's
server, LocalAI): multipart `file`, `model`, `language`, `response_format=json` → `{"text": …}`,
over httpx, which python-telegram-bot brings. The audio is held in memory for the one request
and never written to disk. Any failure gives None, and the voice goes on untranscribed.
"""

from __future__ import annotations

import asyncio
import logging
import os

import httpx
from telegram import Bot
from telegram.error import TelegramError

from bot.config import TranscriptionSettings
from storage.concerns import Voice

log = logging.getLogger(__name__)

#: The server's key, from the environment only, sent as a bearer token when set.
API_KEY_ENV = "QUARTIERBOT_TRANSCRIPTION_API_KEY"

#: Bots may download files up to 20 MB through getFile; larger ones stay untranscribed.
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024

#: The file name tells the server the container (Telegram voice notes are Ogg/Opus).
_FILE_NAMES = {"voice": "voice.ogg", "audio": "audio.mp3", "video_note": "video_note.mp4"}


class TranscriptionService:
    """The bot's one way to turn speech into text; None whenever that cannot be had."""

    def __init__(self, settings: TranscriptionSettings) -> None:
        self.settings = settings
        self._client: httpx.AsyncClient | None = None

    @property
    def enabled(self) -> bool:
        """A service is configured."""
        return self.settings.enabled

    def too_long(self, voice: Voice) -> bool:
        """Longer than `max_seconds`: refused, whether or not a service is configured."""
        return voice.seconds > self.settings.max_seconds

    async def transcribe_voice(
        self, bot: Bot, voice: Voice, size: int | None, language: str | None
    ) -> str | None:
        """Download a voice message from Telegram (in memory) and transcribe it, or None.

        Too large for a bot to download (over 20 MB), Telegram refusing, the service failing:
        None, and the voice goes on as it is.
        """
        if not self.enabled or (size is not None and size > MAX_DOWNLOAD_BYTES):
            return None
        # One deadline for the download and the service together: a resident (or an officer in
        # the staff group) waits at most `timeout_seconds` for the whole.
        try:
            async with asyncio.timeout(self.settings.timeout_seconds):
                audio = await fetch_recording(bot, voice.file_id)
                if audio is None:
                    return None
                return await self.transcribe(audio, voice.kind, language)
        except TimeoutError:
            log.warning("transcription unavailable: TimeoutError")
            return None

    def _http(self) -> httpx.AsyncClient:
        """The HTTP client, created in the running loop."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.settings.timeout_seconds)
        return self._client

    async def transcribe(self, audio: bytes, kind: str, language: str | None) -> str | None:
        """The spoken text, or None (disabled, down, slow, an error, nothing understood)."""
        if not self.enabled or not audio:
            return None
        data = {"model": self.settings.model, "response_format": "json"}
        if language:
            # A hint, not a rule: Whisper still hears another language if one is spoken.
            data["language"] = language
        headers = {}
        api_key = os.environ.get(API_KEY_ENV, "").strip()
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        files = {"file": (_FILE_NAMES.get(kind, "voice.ogg"), audio, "application/octet-stream")}
        try:
            async with asyncio.timeout(self.settings.timeout_seconds):
                response = await self._http().post(
                    f"{self.settings.url}/audio/transcriptions",
                    data=data,
                    files=files,
                    headers=headers,
                )
                response.raise_for_status()
                text = response.json()["text"]
        except (TimeoutError, httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            # The type only: an error may quote the request or the answer.
            log.warning("transcription unavailable: %s", type(exc).__name__)
            return None
        if not isinstance(text, str) or not text.strip():
            return None
        return " ".join(text.split())

    async def close(self) -> None:
        """Close the HTTP client (at shutdown)."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None


async def fetch_recording(bot: Bot, file_id: str) -> bytes | None:
    """A recording's bytes from Telegram, in memory (never on disk); None if it cannot be had
    (over the 20 MB bots may download, gone, Telegram unreachable)."""
    try:
        file = await bot.get_file(file_id)
        return bytes(await file.download_as_bytearray())
    except TelegramError as exc:
        log.warning("voice message not downloaded: %s", type(exc).__name__)
        return None
