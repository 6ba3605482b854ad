FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY adapter adapter
COPY schemas schemas
COPY handlers handlers
COPY pos_drivers pos_drivers
RUN pip install --no-cache-dir .
ENV POS_ADAPTER_STORE_URL=sqlite+aiosqlite:////data/pos-adapter.db
VOLUME /data
ENTRYPOINT ["pos-adapter"]
CMD ["run"]
