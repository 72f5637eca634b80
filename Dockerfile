# syntax=docker/dockerfile:1
# Build stage: compile TypeScript with the dev dependencies.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json tsconfig.ui.json ./
COPY scripts ./scripts
COPY src ./src
COPY ui ./ui
RUN npm run build

# Runtime stage: production dependencies, compiled code, the bundled profiles.
#   docker run -p 1025:1025 -p 8025:8025 mailwharf --dev     the dev sink, UI on :8025
#   docker run -p 25:25 -p 587:587 -p 465:465 -v mail:/data mailwharf   production
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
# Lets the unprivileged node user bind 25, 465 and 587 without running as root. Only this
# image's node has the capability (outside a container, use systemd's AmbientCapabilities).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcap2-bin \
 && setcap cap_net_bind_service=+ep "$(command -v node)" \
 && apt-get purge -y libcap2-bin && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY config ./config
COPY contrib/docker/healthcheck.mjs ./contrib/docker/healthcheck.mjs
# /app stays root-owned and is never written; everything the server keeps is under /data.
RUN mkdir -p /data && chown node:node /data
# Every listener and the UI on all of the container's addresses (the profiles say 127.0.0.1
# or 0.0.0.0; inside a container only 0.0.0.0 is reachable through -p). Any setting of
# `mailwharf --help` can be given the same way: -e MAILWHARF_SMTP_PORT=2025.
ENV MAILWHARF_HOST=0.0.0.0 \
    MAILWHARF_SPOOL_DIR=/data/spool \
    MAILWHARF_CERTS_DIR=/data/certs
USER node
VOLUME ["/data"]
# dev profile: SMTP 1025 1587 1465 2525, web UI and API 8025; production: 25 587 465 2525.
EXPOSE 1025 1587 1465 2525 8025 25 587 465
# /readyz when the UI is on (dev), else the SMTP greeting on the relay port (production).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "contrib/docker/healthcheck.mjs"]
# node is PID 1: mailwharf handles SIGTERM/SIGINT itself (graceful stop, exit 0) and SIGHUP
# (certificate reload), so no init process is needed. --max-semi-space-size=8 keeps V8's young
# generation at 2 x 8 MiB (src/cli/young-generation.ts does it from inside on Node 20; the V8
# of newer Node may refuse that way, so the image says it on node's command line).
ENTRYPOINT ["node", "--max-semi-space-size=8", "dist/src/cli.js"]
CMD ["--config", "config/mailwharf.yaml"]
