# Build stage: compile TypeScript with the dev dependencies.
FROM node:20-bookworm-slim AS build
# swagger-ui-dist's telemetry postinstall: off
ENV SCARF_ANALYTICS=false
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# The service and its migrations only: tests, tools/ and bench/ are not part of the image.
COPY tsconfig.base.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
RUN npx tsc -p tsconfig.build.json

# Runtime stage: production dependencies and compiled code only, as a non-root user.
FROM node:20-bookworm-slim
ENV NODE_ENV=production API_HOST=0.0.0.0 API_PORT=8000 SCARF_ANALYTICS=false
WORKDIR /app
COPY package.json package-lock.json ./
# The embedded PostgreSQL is for machines without one; in a container the database is a service.
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/migrations ./dist/migrations
USER node
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:8000/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# A heap ceiling (the live heap peaks near 60 MB) makes V8 collect before growing. The young
# generation is 16 MB: at 4 MB scavenges took about 6% of an allocation's CPU more (peak RSS
# 95-98 MB at 4, 120-121 MB at 16; numbers in BENCHMARKS.md, "What each change bought").
CMD ["node", "--max-semi-space-size=16", "--max-old-space-size=128", "dist/src/allocation/entrypoints/main.js", "api"]
