# Each target installs what it needs (npm ci when the lock file changed), builds, and runs.
# Without DATABASE_URL / REDIS_URL the project starts its own PostgreSQL and Redis.
.PHONY: install build run run-api run-consumer migrate test tests unit-tests integration-tests \
	e2e-tests console-screenshots citus-test lint format bench up down clean

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

install: node_modules/.package-lock.json

build: install
	npm run --silent build

run: build
	npm run --silent start

run-api: build
	npm run --silent start:api

run-consumer: build
	npm run --silent start:consumer

migrate: build
	npm run --silent migrate

test tests: build
	npm run --silent test

unit-tests: build
	npm run --silent test:unit

integration-tests: build
	npm run --silent test:integration

e2e-tests: build
	npm run --silent test:e2e

# The console's browser test, saving a screenshot of each page to docs/console/ (committed).
console-screenshots: build
	npm run --silent console-screenshots

# The e2e suite against the Citus coordinator in CITUS_URL (SCALING.md, "Citus", says how to
# build and start one). Not part of make test: building Citus takes minutes.
citus-test: build
	@test -n "$(CITUS_URL)" || { echo 'CITUS_URL is not set (SCALING.md, "Citus")'; exit 2; }
	DATABASE_URL='$(CITUS_URL)' npm run --silent test:e2e

# ARGS passes flags, e.g. make bench ARGS="--duration 5 --only spread,hot" (see --help).
bench: build
	npm run --silent bench -- $(ARGS)

lint: install
	npm run --silent lint

format: install
	npm run --silent format

up:
	docker compose up --build -d

down:
	docker compose down

clean:
	rm -rf dist .data
