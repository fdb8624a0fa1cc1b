# The image of docker-compose.yml: the project and its runtime dependencies (pyproject.toml), no test tools.
FROM python:3.11-slim
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir .
