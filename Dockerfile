# One process with embedded defaults; set DATABASE_URL / REDIS_URL / secrets to scale out (see README).
FROM python:3.11-slim-bookworm

RUN apt-get update && apt-get install -y --no-install-recommends make nodejs npm && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.lock pyproject.toml package.json package-lock.json ./
RUN pip install --no-cache-dir -r requirements.lock && npm ci --no-audit --no-fund --loglevel=error
COPY . .
# The portal page (agent_portal/web/, Preact) bundled by Vite into agent_portal/static/portal/.
RUN npm run build && pip install --no-cache-dir --no-deps -e .
# Train the turn classifier into the image, so a container starts without training it.
ENV MODEL_CACHE_DIR=/app/.models
RUN python -c "from pathlib import Path; from engine.understanding import load_understanding; from engine.knowledge import SHIPPED_KB, KnowledgeBase; load_understanding(Path('/app/.models')); KnowledgeBase(SHIPPED_KB, Path('/app/.models'))"

ENV DATA_DIR=/data
VOLUME /data
EXPOSE 8000
CMD ["chainlit", "run", "app.py", "--host", "0.0.0.0", "--port", "8000", "--headless"]
