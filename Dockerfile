# Egressway image, for machines with a container engine and registry access. Without them,
# scripts/build-image.sh builds the same layout with buildah from scratch (the offline path, tested).
#   docker build -t egressway:0.1.0 .        # or: buildah bud -t egressway:0.1.0 .
# Runs as UID 65532 with a read-only root filesystem (mount an emptyDir at /tmp).

# --- build: compile src/ to dist/, then keep production dependencies only --------------------------
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the `node` devDependency's install script downloads a second Node; the base has one.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json --declaration false \
 && (cd src && find . -type f ! -name '*.ts' -exec cp --parents {} ../dist/ \;) \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# --- runtime: Node 24, dist/ + production node_modules, non-root -------------------------------
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/bin/egressway.js ./bin/egressway.js
COPY --from=build /src/dist ./dist
COPY --from=build /src/node_modules ./node_modules
USER 65532:65532
EXPOSE 15001 15008 15020 15021
# V8's young generation capped at 8 MiB semi-spaces for the main thread too (worker threads get it from
# `run --max-semi-space-size`): peak RSS at saturation 148 against 180 MiB, CPU per request unchanged
# within noise (bench/README.md, "Young generation").
ENTRYPOINT ["/usr/local/bin/node", "--max-semi-space-size=8", "/app/bin/egressway.js"]
CMD ["--help"]
