import Foundation
import GRDB

/// The registry's first schema (migration "2026-11-23 registry v1"). Shipped: never edited.
extension Migrations {
    static func createRegistryV1(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE targets (
                name TEXT PRIMARY KEY NOT NULL,
                kind TEXT NOT NULL CHECK (kind IN ('local','aws-lambda','sagemaker-serverless','ecs-fargate','http')),
                region TEXT,
                config TEXT NOT NULL DEFAULT '{}',
                created_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')),
                updated_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now'))
            );

            CREATE TABLE models (
                name TEXT PRIMARY KEY NOT NULL,
                description TEXT,
                created_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now'))
            );

            CREATE TABLE model_versions (
                id TEXT PRIMARY KEY NOT NULL,
                model TEXT NOT NULL REFERENCES models(name),
                version TEXT NOT NULL,
                artifact TEXT,
                digest TEXT NOT NULL CHECK (digest GLOB 'sha256:*'),
                size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
                unzipped_size_bytes INTEGER,
                command TEXT,
                workdir TEXT,
                image TEXT,
                memory_mb INTEGER NOT NULL CHECK (memory_mb > 0),
                gpus INTEGER NOT NULL DEFAULT 0,
                timeout_s INTEGER,
                notes TEXT,
                created_by TEXT NOT NULL,
                created_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')),
                UNIQUE (model, version)
            );
            -- Versions are immutable: a different artifact is a new version.
            CREATE TRIGGER model_versions_are_immutable BEFORE UPDATE ON model_versions
            BEGIN SELECT RAISE(ABORT, 'model versions are immutable; declare a new version instead'); END;

            CREATE TABLE endpoints (
                name TEXT PRIMARY KEY NOT NULL,
                model TEXT NOT NULL REFERENCES models(name),
                target TEXT NOT NULL REFERENCES targets(name),
                memory_mb INTEGER NOT NULL CHECK (memory_mb > 0),
                concurrency INTEGER NOT NULL CHECK (concurrency >= 1),
                min_instances INTEGER NOT NULL CHECK (min_instances >= 0),
                max_instances INTEGER NOT NULL CHECK (max_instances >= 1 AND max_instances >= min_instances),
                idle_timeout_s INTEGER NOT NULL CHECK (idle_timeout_s >= 0),
                slo_p99_ms INTEGER NOT NULL CHECK (slo_p99_ms > 0),
                slo_error_ppm INTEGER NOT NULL CHECK (slo_error_ppm BETWEEN 0 AND 1000000),
                daily_budget_micros INTEGER CHECK (daily_budget_micros >= 0),
                keep_warm_mode TEXT NOT NULL DEFAULT 'off' CHECK (keep_warm_mode IN ('off','fixed','adaptive')),
                keep_warm_every_s INTEGER CHECK (keep_warm_every_s > 0),
                keep_warm_concurrency INTEGER NOT NULL DEFAULT 1 CHECK (keep_warm_concurrency >= 1),
                production BOOLEAN NOT NULL DEFAULT 0,
                created_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')),
                updated_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now'))
            );

            -- Desired weights (written by apply, deploy and rollback); live_weight is what the daemon
            -- observed on the target after acting.
            CREATE TABLE traffic (
                endpoint TEXT NOT NULL REFERENCES endpoints(name) ON DELETE CASCADE,
                version_id TEXT NOT NULL REFERENCES model_versions(id),
                weight INTEGER NOT NULL CHECK (weight BETWEEN 0 AND 100),
                live_weight INTEGER CHECK (live_weight BETWEEN 0 AND 100),
                updated_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')),
                PRIMARY KEY (endpoint, version_id)
            );

            CREATE TABLE deployments (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                endpoint TEXT NOT NULL REFERENCES endpoints(name) ON DELETE CASCADE,
                kind TEXT NOT NULL CHECK (kind IN ('deploy','rollback')),
                from_version TEXT REFERENCES model_versions(id),
                to_version TEXT NOT NULL REFERENCES model_versions(id),
                strategy TEXT NOT NULL,
                bake_s INTEGER NOT NULL DEFAULT 0 CHECK (bake_s >= 0),
                state TEXT NOT NULL CHECK (state IN ('pending','provisioning','shifting','baking','succeeded',
                                                     'rolling_back','rolled_back','failed','cancelled')),
                step INTEGER NOT NULL DEFAULT 0,
                current_weight INTEGER NOT NULL DEFAULT 0 CHECK (current_weight BETWEEN 0 AND 100),
                step_started_at DATETIME NOT NULL,
                alarm TEXT,
                reason TEXT,
                actor TEXT NOT NULL,
                created_at DATETIME NOT NULL,
                updated_at DATETIME NOT NULL
            );
            -- At most one deploy in flight per endpoint; a second one is refused, not queued silently.
            CREATE UNIQUE INDEX one_active_deploy_per_endpoint ON deployments(endpoint)
                WHERE kind = 'deploy' AND state IN ('pending','provisioning','shifting','baking','rolling_back');
            CREATE INDEX deployments_by_state ON deployments(state);

            CREATE TABLE instances (
                id TEXT PRIMARY KEY NOT NULL,
                endpoint TEXT NOT NULL REFERENCES endpoints(name) ON DELETE CASCADE,
                version_id TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('starting','idle','busy','draining')),
                in_flight INTEGER NOT NULL DEFAULT 0,
                max_concurrency INTEGER NOT NULL DEFAULT 1,
                pid INTEGER,
                address TEXT,
                cold_start_ms INTEGER,
                started_at DATETIME NOT NULL,
                last_used_at DATETIME,
                updated_at DATETIME NOT NULL
            );
            CREATE INDEX instances_by_endpoint ON instances(endpoint);

            -- Per endpoint, version and interval: 10 s buckets recently, 1 min once rolled up.
            CREATE TABLE metric_buckets (
                endpoint TEXT NOT NULL,
                version_id TEXT NOT NULL,
                start INTEGER NOT NULL,
                width_s INTEGER NOT NULL CHECK (width_s > 0),
                requests INTEGER NOT NULL DEFAULT 0,
                errors INTEGER NOT NULL DEFAULT 0,
                cold_starts INTEGER NOT NULL DEFAULT 0,
                warmups INTEGER NOT NULL DEFAULT 0,
                warmup_cold_starts INTEGER NOT NULL DEFAULT 0,
                latency_hist BLOB,
                cold_latency_hist BLOB,
                p50_ms REAL,
                p95_ms REAL,
                p99_ms REAL,
                max_in_flight INTEGER NOT NULL DEFAULT 0,
                instances INTEGER NOT NULL DEFAULT 0,
                mb_ms INTEGER NOT NULL DEFAULT 0,
                cost_micros INTEGER NOT NULL DEFAULT 0,
                warmup_cost_micros INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (endpoint, version_id, start, width_s)
            );
            CREATE INDEX metric_buckets_by_time ON metric_buckets(start);

            -- The audit log. No foreign keys: the history outlives what it talks about.
            CREATE TABLE events (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                at DATETIME NOT NULL,
                actor TEXT NOT NULL,
                endpoint TEXT,
                deployment_id INTEGER,
                kind TEXT NOT NULL,
                message TEXT NOT NULL
            );
            CREATE INDEX events_by_endpoint ON events(endpoint, id);

            -- What the keep-warm scheduler plans and last did, per endpoint (the TUI shows the next ping).
            CREATE TABLE keep_warm_state (
                endpoint TEXT PRIMARY KEY NOT NULL REFERENCES endpoints(name) ON DELETE CASCADE,
                next_ping_at DATETIME,
                last_ping_at DATETIME,
                plan TEXT NOT NULL DEFAULT '',
                last_result TEXT,
                pings_sent INTEGER NOT NULL DEFAULT 0,
                updated_at DATETIME NOT NULL
            );

            -- One row: the daemon's heartbeat, so the TUI can tell alive from offline.
            CREATE TABLE daemon (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                pid INTEGER NOT NULL,
                host TEXT NOT NULL,
                version TEXT NOT NULL,
                started_at DATETIME NOT NULL,
                heartbeat_at DATETIME NOT NULL,
                stopped_at DATETIME
            );
            """)
    }

    /// "Ping now" from the TUI or `modeldeck ping`: the request waits in the registry until the daemon has
    /// sent it, so a daemon that is down sends it when it comes back.
}
