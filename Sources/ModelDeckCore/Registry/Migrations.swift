import Foundation
import GRDB

/// Every schema change, registered by name in order. A migration that has shipped is never edited:
/// a change is a new migration appended at the end.
public enum Migrations {
    /// Every migration, oldest first: its name and its body. A new one is appended at the end.
    static let all: [(name: String, migrate: @Sendable (Database) throws -> Void)] = [
        ("2026-11-23 registry v1", createRegistryV1),
        ("2026-11-24 ping requests", addPingRequests),
        ("2026-11-25 ping due time", addPingDueTime),
        ("2026-11-30 target kinds checked in Swift", dropTargetKindCheck),
        ("2026-11-30 version environment", addVersionEnvironment),
        ("2026-11-30 latency sketches", convertLatencyHistograms),
        ("2026-11-30 catalog generation", addCatalogGeneration),
        ("2026-11-30 keep-warm schedule", addKeepWarmSchedule),
        ("2026-11-30 crash-looping instance state", allowCrashLoopingInstances),
        ("2026-11-30 rollout control", addRolloutControl),
        ("2026-11-30 probes", addProbes),
        ("2026-11-30 notifications", addNotifications),
        ("2026-11-30 bench runs", addBenchRuns),
        ("2026-11-30 provisioned concurrency", addProvisionedConcurrency),
        ("2026-11-30 instance utilization", addInstanceUtilization),
        ("2026-11-30 deployment generation", addDeploymentGeneration),
        ("2026-11-30 bucket write sequence", addBucketWriteSequence),
        ("2026-11-30 keep-warm generation", addKeepWarmGeneration),
    ]

    /// The names of every migration this build knows, oldest first. Reading them builds no migrator: a
    /// command opening a registry that is already current (most do) compares these with the registry's
    /// own list and skips GRDB's migrator, whose generic setup costs milliseconds at each start.
    public static let names: [String] = all.map(\.name)

    public static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for migration in all {
            migrator.registerMigration(migration.name, migrate: migration.migrate)
        }
        return migrator
    }

    private static func addPingRequests(_ db: Database) throws {
        try db.execute(sql: """
            ALTER TABLE keep_warm_state ADD COLUMN ping_requested_at DATETIME;
            ALTER TABLE keep_warm_state ADD COLUMN ping_requested_by TEXT;
            """)
    }

    /// When the last ping was due (its plan's next ping, or the "ping now" request), next to when it was
    /// sent (`last_ping_at`): how late the scheduler is, per endpoint.
    private static func addPingDueTime(_ db: Database) throws {
        try db.execute(sql: "ALTER TABLE keep_warm_state ADD COLUMN last_ping_due_at DATETIME")
    }

    /// The first migration listed the target kinds in a CHECK constraint, so every new kind would have needed a
    /// migration. Kinds are now checked in Swift, against the descriptors (`TargetKind(rawValue:)` refuses a
    /// kind no descriptor declares, when a deck is read and when a row is). SQLite cannot drop a constraint, so
    /// the table is rebuilt by its documented procedure (https://www.sqlite.org/lang_altertable.html#otheralter):
    /// create the new table, copy the rows, drop the old one, rename the new one. GRDB runs a migration with
    /// foreign keys off and checks them all before it commits (`foreignKeyChecks: .deferred`, its default), so
    /// `endpoints.target`, which refers to `targets(name)`, still refers to the rebuilt table.
    private static func dropTargetKindCheck(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE targets_new (
                name TEXT PRIMARY KEY NOT NULL,
                kind TEXT NOT NULL,
                region TEXT,
                config TEXT NOT NULL DEFAULT '{}',
                created_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')),
                updated_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now'))
            );
            INSERT INTO targets_new (name, kind, region, config, created_at, updated_at)
                SELECT name, kind, region, config, created_at, updated_at FROM targets;
            DROP TABLE targets;
            ALTER TABLE targets_new RENAME TO targets;
            """)
    }

    /// The environment a version declares for its model processes (`env:` in the deck), as JSON.
    private static func addVersionEnvironment(_ db: Database) throws {
        try db.execute(sql: "ALTER TABLE model_versions ADD COLUMN environment TEXT")
    }

    /// Latency histograms move from HDR (value, count) pairs, which grow with the number of distinct
    /// latencies, to bounded sketches (`LatencyHistogram`): every stored blob is converted in place, every
    /// count kept (each pair's count goes into the sketch bin of its value). p50/p95/p99 columns stay as they
    /// were computed. The (width_s, start) index lets the tiered rollup find each tier's oldest buckets.
    /// The file keeps its size until `modeldeck registry compact` (VACUUM cannot run inside a migration).
    private static func convertLatencyHistograms(_ db: Database) throws {
        func convert(_ blob: Data?) throws -> Data? {
            guard let blob, !blob.isEmpty else { return blob }
            return try LatencyHistogram(legacyPairs: blob).encoded()
        }
        let update = try db.makeStatement(sql: "UPDATE metric_buckets SET latency_hist = ?, cold_latency_hist = ? WHERE rowid = ?")
        // In rowid order, a page at a time, so no row is read after it was rewritten.
        var after: Int64 = -1
        while true {
            let rows = try Row.fetchAll(db, sql: """
                SELECT rowid AS row_id, latency_hist, cold_latency_hist FROM metric_buckets WHERE rowid > ? ORDER BY rowid LIMIT 1000
                """, arguments: [after])
            guard let last = rows.last else { break }
            for row in rows {
                try update.execute(arguments: [try convert(row["latency_hist"]), try convert(row["cold_latency_hist"]), row["row_id"] as Int64])
            }
            after = last["row_id"]
        }
        try db.execute(sql: "CREATE INDEX metric_buckets_by_width ON metric_buckets(width_s, start)")
    }

    /// A counter that moves only when what a gateway serves changes: targets, endpoints, versions and desired
    /// weights. `PRAGMA data_version` moves at every commit (each request's instance state, each bucket,
    /// each keep-warm plan), and a gateway that re-read its thousand endpoints at each one spent its time
    /// there; now it reads this one row and re-reads the rest only when it moved. Triggers keep it, so no
    /// writer can forget to; no row yet counts as 0. `live_weight` (the daemon's own record of what the
    /// target routes) is left out.
    private static func addCatalogGeneration(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE catalog_generation (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL)
            """)
        let watched = [("targets", ""), ("endpoints", ""), ("model_versions", ""), ("traffic", " OF endpoint, version_id, weight")]
        for (table, columns) in watched {
            for event in ["INSERT", "UPDATE\(columns)", "DELETE"] {
                let name = "\(table)_\(event.split(separator: " ")[0].lowercased())_moves_catalog"
                try db.execute(sql: """
                    CREATE TRIGGER \(name) AFTER \(event) ON \(table)
                    BEGIN
                        INSERT INTO catalog_generation (id, value) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET value = value + 1;
                    END
                    """)
            }
        }
    }

    /// A fixed keep-warm policy's concurrency schedule (JSON list of {cron, concurrency}); NULL for none.
    private static func addKeepWarmSchedule(_ db: Database) throws {
        try db.execute(sql: "ALTER TABLE endpoints ADD COLUMN keep_warm_schedule TEXT")
    }

    /// `instances.state` may be `crash-looping` (a version whose starts keep failing, waiting for its next
    /// try). SQLite cannot alter a CHECK constraint, so the table is recreated by GRDB's documented sequence
    /// (GRDB 7.10, Documentation.docc/Migrations.md, "How to Recreate a Database Table", after
    /// https://www.sqlite.org/lang_altertable.html#otheralter): create `new_instances` in the new shape, copy
    /// every row, drop `instances`, rename `new_instances`, then recreate its index. It runs with GRDB's
    /// default deferred foreign-key checks, as a table rebuild must (`endpoint` still refers to `endpoints`,
    /// checked before the migration commits).
    private static func allowCrashLoopingInstances(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE new_instances (
                id TEXT PRIMARY KEY NOT NULL,
                endpoint TEXT NOT NULL REFERENCES endpoints(name) ON DELETE CASCADE,
                version_id TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('starting','idle','busy','draining','crash-looping')),
                in_flight INTEGER NOT NULL DEFAULT 0,
                max_concurrency INTEGER NOT NULL DEFAULT 1,
                pid INTEGER,
                address TEXT,
                cold_start_ms INTEGER,
                started_at DATETIME NOT NULL,
                last_used_at DATETIME,
                updated_at DATETIME NOT NULL
            );
            INSERT INTO new_instances (id, endpoint, version_id, state, in_flight, max_concurrency, pid, address,
                                       cold_start_ms, started_at, last_used_at, updated_at)
                SELECT id, endpoint, version_id, state, in_flight, max_concurrency, pid, address,
                       cold_start_ms, started_at, last_used_at, updated_at FROM instances;
            DROP TABLE instances;
            ALTER TABLE new_instances RENAME TO instances;
            CREATE INDEX instances_by_endpoint ON instances(endpoint);
            """)
    }

    /// Rollouts under control (issue #17): a deployment's plan may hold (`paused_at`, with who or which step
    /// paused it); an endpoint names its default plan (`rollout`) and its gate settings (`gate`, JSON); and
    /// drift between what a target routes and the registry is kept, per endpoint, until it is resolved.
    private static func addRolloutControl(_ db: Database) throws {
        try db.execute(sql: """
            ALTER TABLE deployments ADD COLUMN paused_at DATETIME;
            ALTER TABLE deployments ADD COLUMN pause_note TEXT;
            ALTER TABLE endpoints ADD COLUMN rollout TEXT;
            ALTER TABLE endpoints ADD COLUMN gate TEXT;
            CREATE TABLE endpoint_drift (
                endpoint TEXT PRIMARY KEY NOT NULL REFERENCES endpoints(name) ON DELETE CASCADE,
                registry_weights TEXT NOT NULL,
                target_weights TEXT NOT NULL,
                detected_at DATETIME NOT NULL
            );
            """)
    }

    /// Probes of endpoints someone else runs (http targets): synthetic requests the daemon sends on an interval,
    /// counted apart from user traffic and keep-warm pings, with their own latency sketch. Their cost is counted
    /// with the pings' (`warmup_cost_micros`): both are requests ModelDeck sends itself.
    private static func addProbes(_ db: Database) throws {
        try db.execute(sql: "ALTER TABLE metric_buckets ADD COLUMN probes INTEGER NOT NULL DEFAULT 0")
        try db.execute(sql: "ALTER TABLE metric_buckets ADD COLUMN probe_errors INTEGER NOT NULL DEFAULT 0")
        try db.execute(sql: "ALTER TABLE metric_buckets ADD COLUMN probe_cold_starts INTEGER NOT NULL DEFAULT 0")
        try db.execute(sql: "ALTER TABLE metric_buckets ADD COLUMN probe_latency_hist BLOB")
    }
    /// The deck's `notifications:` entries (`config`: the entry as JSON, with `${VARIABLE}` templates and never
    /// a secret's value) and each one's delivery state: `cursor` is the id of the last audit event delivered or
    /// passed over (the outbox is the `events` table itself), the rest is what `get notifications` and the
    /// dashboard show, and when the next try after a failure is due.
    private static func addNotifications(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE notifications (
                name TEXT PRIMARY KEY NOT NULL,
                config TEXT NOT NULL,
                cursor INTEGER NOT NULL DEFAULT 0,
                last_success_at DATETIME,
                last_error TEXT,
                failing_since DATETIME,
                failures INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
                failed_total INTEGER NOT NULL DEFAULT 0 CHECK (failed_total >= 0),
                next_attempt_at DATETIME,
                created_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')),
                updated_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now'))
            );
            """)
    }

    /// `modeldeck bench` runs (issue #18): what was asked (`plan`, JSON), what was measured (`figures`, JSON),
    /// whether it was cut short (`partial`), and its cost. `token` is the run's random pass: the local gateway
    /// treats a request as bench traffic (pinned version, kept out of user figures) only while it names the
    /// token of a running run.
    private static func addBenchRuns(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE bench_runs (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                endpoint TEXT NOT NULL REFERENCES endpoints(name) ON DELETE CASCADE,
                version_id TEXT NOT NULL,
                target TEXT NOT NULL,
                target_kind TEXT NOT NULL,
                memory_mb INTEGER NOT NULL,
                token TEXT NOT NULL UNIQUE,
                state TEXT NOT NULL CHECK (state IN ('running', 'finished', 'partial', 'failed')),
                partial INTEGER NOT NULL DEFAULT 0,
                plan TEXT NOT NULL,
                figures TEXT,
                cost_micros INTEGER NOT NULL DEFAULT 0 CHECK (cost_micros >= 0),
                actor TEXT NOT NULL,
                reason TEXT,
                started_at DATETIME NOT NULL,
                finished_at DATETIME
            );
            CREATE INDEX bench_runs_by_endpoint ON bench_runs(endpoint, id);
            """)
    }

    /// Provisioned concurrency as a keep-warm mode (issue #19): per endpoint, what the user asked for
    /// (`concurrency` and its cron `schedule`, JSON) and what the daemon last saw on the target (`applied`, the
    /// platform's status, the tries that failed and when the next one is due).
    private static func addProvisionedConcurrency(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE provisioned_concurrency (
                endpoint TEXT PRIMARY KEY NOT NULL REFERENCES endpoints(name) ON DELETE CASCADE,
                concurrency INTEGER NOT NULL CHECK (concurrency >= 0),
                schedule TEXT NOT NULL DEFAULT '[]',
                applied INTEGER NOT NULL DEFAULT 0 CHECK (applied >= 0),
                platform_status TEXT,
                available INTEGER,
                failures INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
                last_error TEXT,
                retry_at DATETIME,
                checked_at DATETIME,
                updated_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now'))
            );
            """)
    }

    /// Where a platform runs instances by the hour (SageMaker real-time), the highest average CPU (percent of one
    /// core, so up to 100 × vCPUs) and memory (percent) its instances reported in the bucket; NULL where none did.
    private static func addInstanceUtilization(_ db: Database) throws {
        try db.execute(sql: "ALTER TABLE metric_buckets ADD COLUMN cpu_utilization_pct REAL")
        try db.execute(sql: "ALTER TABLE metric_buckets ADD COLUMN memory_utilization_pct REAL")
    }

    /// A counter that moves whenever a deployment row is written, kept by triggers like the catalog generation.
    /// With it, the daemon's drift check of targets that route by the registry's own traffic table (the local
    /// kind) runs only when a deployment or the catalog moved, instead of reading every endpoint's latest
    /// deployment at each tick.
    private static func addDeploymentGeneration(_ db: Database) throws {
        try db.execute(sql: "CREATE TABLE deployment_generation (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL)")
        for event in ["INSERT", "UPDATE", "DELETE"] {
            try db.execute(sql: """
                CREATE TRIGGER deployments_\(event.lowercased())_moves_generation AFTER \(event) ON deployments
                BEGIN
                    INSERT INTO deployment_generation (id, value) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET value = value + 1;
                END
                """)
        }
    }

    /// The write sequence of `metric_buckets` (`BucketWriteSequence`): a one-row counter bumped once per
    /// transaction that writes buckets, and `write_seq` on every bucket, indexed, so that the dashboard reads
    /// only the buckets written since its last refresh (issue #20). Buckets already stored keep 0; the
    /// counter's row is made by the first write, like `deployment_generation`'s.
    private static func addBucketWriteSequence(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE bucket_write_sequence (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
            ALTER TABLE metric_buckets ADD COLUMN write_seq INTEGER NOT NULL DEFAULT 0;
            CREATE INDEX metric_buckets_by_write_seq ON metric_buckets(write_seq);
            """)
    }

    /// A counter that moves when someone asks for a ping (`modeldeck ping`, the TUI's `p`) or a request is
    /// answered: what keep-warm reads besides the catalog and traffic. With it and the catalog generation, the
    /// daemon's keep-warm loop re-reads its endpoints only when one of them moved, not at every commit (each
    /// ping's own record is one). The daemon's writes of plans and pings leave it as it is.
    private static func addKeepWarmGeneration(_ db: Database) throws {
        try db.execute(sql: "CREATE TABLE keep_warm_generation (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL)")
        let moves = "INSERT INTO keep_warm_generation (id, value) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET value = value + 1;"
        try db.execute(sql: """
            CREATE TRIGGER keep_warm_state_insert_moves_generation AFTER INSERT ON keep_warm_state
            WHEN NEW.ping_requested_at IS NOT NULL BEGIN \(moves) END;
            CREATE TRIGGER keep_warm_state_update_moves_generation AFTER UPDATE OF ping_requested_at ON keep_warm_state
            WHEN OLD.ping_requested_at IS NOT NEW.ping_requested_at BEGIN \(moves) END;
            CREATE TRIGGER keep_warm_state_delete_moves_generation AFTER DELETE ON keep_warm_state
            WHEN OLD.ping_requested_at IS NOT NULL BEGIN \(moves) END;
            """)
    }
}
