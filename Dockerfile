# syntax=docker/dockerfile:1
# remote-cluster-gateway — multi-stage build: compile with dev dependencies, run with production ones only.

ARG NODE_VERSION=24

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# `prepare` builds; skip it here (sources aren't copied yet) and build explicitly below.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    RCGW_CONFIG=/etc/rcgw/gateway.yml \
    RCGW_DATA_DIR=/var/lib/rcgw \
    RCGW_LISTEN_HOST=0.0.0.0 \
    RCGW_ADMIN_HOST=0.0.0.0
WORKDIR /opt/rcgw
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY config/gateway.yml /etc/rcgw/gateway.yml
COPY grafana ./grafana
RUN mkdir -p /var/lib/rcgw && chown -R node:node /var/lib/rcgw /etc/rcgw
USER 1000:1000
EXPOSE 9443 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "require('http').get('http://127.0.0.1:9464/healthz', r => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))"]
# The GC flags for the image's Node 24 (src/cli/node-flags.ts gcFlagsFor; a build with another NODE_VERSION relaunches
# itself with that runtime's values at start).
ENTRYPOINT ["node", "--min-semi-space-size=2", "--max-semi-space-size=2", "/opt/rcgw/dist/cli/main.js"]
CMD ["start", "--config", "/etc/rcgw/gateway.yml"]
