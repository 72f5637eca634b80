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

# Runtime stage: production dependencies, compiled code, production config.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
# Lets the unprivileged node user bind 25 and 465/587 without running as root.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcap2-bin \
 && setcap cap_net_bind_service=+ep "$(command -v node)" \
 && apt-get purge -y libcap2-bin && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY config ./config
RUN mkdir -p /var/spool/mailwharf /var/lib/mailwharf/certs \
 && chown -R node:node /var/spool/mailwharf /var/lib/mailwharf
USER node
VOLUME ["/var/spool/mailwharf", "/var/lib/mailwharf/certs"]
EXPOSE 25 587 465 2525
# Healthy when the submission port answers with a 220 greeting.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "const s=require('net').connect(587,'127.0.0.1');s.setTimeout(4000,()=>process.exit(1));s.on('data',d=>process.exit(String(d).startsWith('220')?0:1));s.on('error',()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["--config", "config/mailwharf.yaml"]
