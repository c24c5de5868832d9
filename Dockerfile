# Build stage: compile TypeScript with the dev dependencies, then keep only production ones.
FROM node:lts-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bench ./bench
COPY scripts ./scripts
COPY ui ./ui
RUN npm ci && npm prune --omit=dev

# Runtime stage: compiled code, production dependencies and the embedded config; runs as `node`.
FROM node:lts-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/ui ./dist/ui
COPY package.json ./
COPY config ./config
RUN mkdir -p /app/var && chown node:node /app/var
USER node
EXPOSE 8080
ENTRYPOINT ["node", "--max-semi-space-size=8", "--heap-growing-percent=100", "dist/src/cli/main.js"]
CMD ["serve"]
