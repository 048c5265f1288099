# Serving image: the [serve] extra only (no torch), bundled models inside, non-root.
#   CPU (default):  docker build -t aezoo .
#   GPU:            docker build -t aezoo-gpu --build-arg BASE_IMAGE=<a CUDA 12 + cuDNN 9 runtime image with python3.11> --build-arg ONNXRUNTIME=onnxruntime-gpu .
#   run:            docker run -p 8000:8000 aezoo
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
ARG ONNXRUNTIME=onnxruntime

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    AEZOO_HOME=/home/aezoo/.cache/aezoo
RUN useradd --create-home --uid 10001 aezoo
WORKDIR /opt/aezoo
COPY pyproject.toml README.md ./
COPY aezoo ./aezoo
RUN pip install ".[serve]" \
 && if [ "$ONNXRUNTIME" != "onnxruntime" ]; then pip uninstall -y onnxruntime && pip install "$ONNXRUNTIME"; fi \
 && python -c "import sys, aezoo.serving.app; assert 'torch' not in sys.modules"

USER aezoo
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/ready', timeout=4)" || exit 1
CMD ["aezoo", "serve", "--host", "0.0.0.0", "--port", "8000"]
