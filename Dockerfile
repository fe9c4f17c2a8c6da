# One image per service, built from the workspace: docker build --build-arg SERVICE=intake .
FROM python:3.11-slim AS build
COPY --from=ghcr.io/astral-sh/uv:0.5 /uv /usr/local/bin/uv
ARG SERVICE
WORKDIR /app
COPY . .
RUN uv sync --frozen --no-dev --package prokopim-${SERVICE}

FROM python:3.11-slim
ARG SERVICE
RUN useradd --system --uid 10001 prokopim
COPY --from=build --chown=prokopim /app /app
ENV PATH=/app/.venv/bin:$PATH SERVICE=${SERVICE} HOST=0.0.0.0 PORT=8000
USER prokopim
WORKDIR /app
CMD ["sh", "-c", "exec prokopim-${SERVICE}"]
