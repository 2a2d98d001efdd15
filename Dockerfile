# The Switchboard server, dashboard included. Node runs the TypeScript directly.
FROM node:24-slim
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts ./scripts
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build --if-present
ENV PORT=8080 NODE_ENV=production
# Give every container the same AUTH_SECRET and ADMIN_TOKEN (see compose.yaml): left unset, each
# generates its own under DATA_DIR (/app/.data), lost with the container.
EXPOSE 8080
# SIGTERM starts a graceful drain (DRAIN_TIMEOUT_MS); give it time before SIGKILL.
STOPSIGNAL SIGTERM
CMD ["node", "--max-semi-space-size=16", "--no-allocation-site-pretenuring", "server/src/main.ts"]
