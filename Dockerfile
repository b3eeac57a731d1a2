# The app image: one image, two entry points (scripts/api.ts, the default, and scripts/worker.ts), TypeScript run by tsx.

FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# tsx, the workflow bundler and drizzle's migrator are runtime dependencies, so dev dependencies can stay out.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    TAKEDOWN_DATA_DIR=/var/lib/takedown \
    NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /app
# Code and dependencies stay owned by root: the app (user node) can read them but not rewrite them.
COPY --from=deps /app/node_modules ./node_modules
# The whole context minus .dockerignore: a new source folder cannot be forgotten (test/unit/compose.test.ts walks the
# imports of the entry points and checks none of them is ignored).
COPY . .
RUN mkdir -p /var/lib/takedown && chown node:node /var/lib/takedown
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=5 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node itself, not `npm run api`: npm runs its scripts through `sh -c`, and dash passes no SIGTERM on, so the app never
# drained (docker stop ended in SIGKILL). The same for the worker's command in docker-compose.yml.
CMD ["node", "--max-semi-space-size=32", "--import", "tsx", "scripts/api.ts"]
