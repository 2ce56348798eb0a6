# quartierbot — small image, non-root user, database on a volume, health check.
#   docker build -t quartierbot .
#   docker run -d --name quartierbot -e TELEGRAM_BOT_TOKEN=… \
#     -v /srv/quartierbot/config.toml:/config/config.toml:ro -v quartierbot-data:/data quartierbot
# In config.toml set  [bot] database = "/data/quartierbot.sqlite3"  so the data lives on the volume.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
COPY locales ./locales
# Only quartierbot's own wheel: its dependencies come from the lock below, hash-checked.
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
# DejaVu Sans: `quartierbot poster` needs a font with Latin, Cyrillic and Arabic letters.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.lock /tmp/requirements.lock
COPY --from=build /wheels /wheels
# Exactly the versions CI tested (requirements.lock), then the bot itself without resolving again.
RUN pip install --no-cache-dir --require-hashes -r /tmp/requirements.lock \
    && pip install --no-cache-dir --no-deps /wheels/*.whl && rm -rf /wheels /tmp/requirements.lock \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin quartierbot \
    && mkdir -p /data /config && chown quartierbot /data
USER quartierbot
WORKDIR /data
VOLUME ["/data"]
ENV QUARTIERBOT_CONFIG=/config/config.toml \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# Healthy while the bot polls Telegram (or, in webhook mode, while its event loop runs).
HEALTHCHECK --interval=60s --timeout=10s --start-period=30s --retries=3 \
    CMD ["quartierbot", "health"]
# SIGTERM (docker stop) shuts the bot down cleanly; everything confirmed is already committed.
STOPSIGNAL SIGTERM
ENTRYPOINT ["quartierbot"]
CMD ["run"]
