# syntax=docker/dockerfile:1
# invite-mailer's image: docs/deployment.md. Its build steps run as a production
# install in test/deploy/production-install.test.ts on every npm test.

FROM node:24-bookworm-slim AS build
WORKDIR /app
# The dependencies first, in a layer of their own: rebuilt only when they change.
# postinstall applies patches/ (patch-package).
COPY package.json package-lock.json ./
COPY patches ./patches
RUN npm ci
COPY . .
# dist/: the service compiled and bundled, its V8 code cache and the compiled templates (docs/design/start-up.md).
RUN npm run build
RUN npm prune --omit=dev

FROM node:24-bookworm-slim
ENV HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/var/lib/invite-mailer
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/templates ./templates
COPY --from=build /app/locales ./locales
COPY --from=build /app/examples ./examples
# The outbox's folder, the user's own (the service makes it 0700 and its files 0600).
RUN mkdir -p /var/lib/invite-mailer && chown node:node /var/lib/invite-mailer
USER node
VOLUME /var/lib/invite-mailer
EXPOSE 8080
# Liveness: the process works. (Readiness, /readyz, is for a load balancer: docs/deployment.md.)
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1 and gets docker stop's SIGTERM itself, which starts the drain (give it
# time: docker stop -t 30, compose's stop_grace_period). npm start's command: a young generation of
# 8 MB from the start (ten fan-outs back to back peaked at 186 MB with it, 296 MB without).
STOPSIGNAL SIGTERM
CMD ["node", "--min-semi-space-size=8", "--max-semi-space-size=8", "dist/start.js"]
