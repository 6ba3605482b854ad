FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY adapter adapter
COPY schemas schemas
COPY handlers handlers
COPY pos_drivers pos_drivers
# Installed as root; run as pos-adapter (uid 10001), which owns only the store's volume.
RUN pip install --no-cache-dir . \
 && groupadd --system --gid 10001 pos-adapter \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin pos-adapter \
 && mkdir -p /data \
 && chown pos-adapter:pos-adapter /data
# The store on the volume; the metrics endpoint on every interface of the container, for
# Prometheus and for the port a deployment publishes (outside a container it defaults to
# 127.0.0.1).
ENV POS_ADAPTER_STORE_URL=sqlite+aiosqlite:////data/pos-adapter.db \
    POS_ADAPTER_METRICS_HOST=0.0.0.0
VOLUME /data
EXPOSE 9464
USER 10001:10001
# `pos-adapter health` with the container's settings: the broker, the worker's consumer
# (read from its metrics endpoint), the store, the outbox backlog and the POS. Each check
# gets 5 s and they run side by side; the start period covers migrations and the first
# connection.
HEALTHCHECK --interval=30s --timeout=20s --start-period=30s --retries=3 \
    CMD ["pos-adapter", "health", "--timeout", "5"]
ENTRYPOINT ["pos-adapter"]
CMD ["run"]
