# Front-end libraries from npm, copied into static/vendor/.
FROM node:20-slim AS assets
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY scripts ./scripts
RUN npm run build

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
RUN pip install --no-cache-dir --upgrade pip && pip install --no-cache-dir .
COPY . .
COPY --from=assets /app/static/vendor ./static/vendor
# The same entrypoint as docker-compose and the production smoke test (`make smoke`).
RUN SECRET_KEY=collectstatic-only scripts/entrypoint.sh collectstatic
RUN useradd --create-home opportune && chown -R opportune /app
USER opportune
EXPOSE 8000
ENTRYPOINT ["scripts/entrypoint.sh"]
CMD ["web"]
