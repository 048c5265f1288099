# Serving image: the [serve] extra only (no torch), bundled models inside, non-root.
# Needs BuildKit (the default builder since Docker 23; DOCKER_BUILDKIT=1 on Docker 20.10).
#   CPU (default):  docker build -t aezoo .
#   GPU:            docker build -t aezoo-gpu --build-arg BASE_IMAGE=<a CUDA 12 + cuDNN 9 runtime image with python3.11> --build-arg ONNXRUNTIME=onnxruntime-gpu .
#   Debian base:    scripts/container/smoke.sh builds one with debootstrap (no image registry needed)
#   behind a TLS-intercepting proxy: add --secret id=pip-cert,src=<CA bundle> (used by pip only, never stored)
#   run:            docker run -p 8000:8000 aezoo
#
# BASE_IMAGE is any Debian-like image with python3 (>= 3.10), its venv module and useradd:
# the official python image, or Debian's own python3 (PEP 668 "externally managed", hence
# the venv: pip never touches the base's interpreter).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
ARG ONNXRUNTIME=onnxruntime

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH \
    AEZOO_HOME=/home/aezoo/.cache/aezoo
RUN useradd --create-home --uid 10001 aezoo && python3 -m venv /opt/venv

# The build context is mounted, not copied: the image holds the installed package only
# (bundled models included as package data), not a second copy of the sources.
RUN --mount=type=bind,target=/src,rw \
    --mount=type=secret,id=pip-cert \
    if [ -s /run/secrets/pip-cert ]; then export PIP_CERT=/run/secrets/pip-cert; fi \
 && pip install "/src[serve,grpc]" \
 && if [ "$ONNXRUNTIME" != "onnxruntime" ]; then pip uninstall -y onnxruntime && pip install "$ONNXRUNTIME"; fi \
 && python -c "import importlib.util, sys, aezoo.serving.http.app; \
assert importlib.util.find_spec('torch') is None, 'torch is installed in the serving image'; \
assert 'torch' not in sys.modules, 'the serving app imported torch'"

USER aezoo
WORKDIR /home/aezoo
# 8000: HTTP (REST v1 and OIP v2). 8001: OIP over gRPC, off unless asked for:
#   docker run -p 8000:8000 -p 8001:8001 aezoo aezoo serve --host 0.0.0.0 --port 8000 --grpc-port 8001
EXPOSE 8000 8001
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/ready', timeout=4)" || exit 1
CMD ["aezoo", "serve", "--host", "0.0.0.0", "--port", "8000"]
