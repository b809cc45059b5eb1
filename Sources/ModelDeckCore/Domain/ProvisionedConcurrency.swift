import Foundation

/// Lambda provisioned concurrency as a keep-warm mode: N execution environments the platform keeps
/// initialised on the endpoint's alias, billed while configured whether used or not
/// (https://docs.aws.amazon.com/lambda/latest/dg/provisioned-concurrency.html). What the user asked for is
/// the intent (`modeldeck warm E --provisioned N [--schedule CRON]`); the daemon applies it with
/// `PutProvisionedConcurrencyConfig`, follows it with `GetProvisionedConcurrencyConfig` until the platform
/// says it is ready, and removes it with `DeleteProvisionedConcurrencyConfig`.
public struct ProvisionedConcurrency: Equatable, Sendable {
    /// Environments provisioned when no schedule entry has fired (0: none).
    public var concurrency: Int
    /// Concurrency by the clock, AWS scheduled scaling's model (`ScheduledConcurrency`): `--provisioned 10
    /// --schedule "0 8 * * MON-FRI"` and `--provisioned 0 --schedule "0 18 * * MON-FRI"` keep ten through
    /// working hours.
    public var schedule: [ScheduledConcurrency]

    /// Lambda's own ceiling is the account's concurrency (1,000 by default); asking for more is refused there.
    public static let limit = 1...1_000

    public init(concurrency: Int, schedule: [ScheduledConcurrency] = []) {
        self.concurrency = concurrency
        self.schedule = schedule
    }

    /// The intent after `warm --provisioned N`: without a cron it replaces everything; with one it adds that
    /// entry to the schedule (replacing an entry of the same cron), the rest kept.
    public func setting(_ count: Int, cron: Cron?) -> ProvisionedConcurrency {
        guard let cron else { return ProvisionedConcurrency(concurrency: count) }
        var next = self
        next.schedule.removeAll { $0.cron == cron }
        next.schedule.append(ScheduledConcurrency(cron: cron, concurrency: count))
        return next
    }

    /// The environments wanted at `now`, and when that may change next.
    public func wanted(at now: Date) -> (concurrency: Int, nextChange: Date?) {
        guard !schedule.isEmpty else { return (concurrency, nil) }
        let force = ScheduledConcurrency.inForce(schedule, at: now)
        return (force.concurrency ?? concurrency, force.next)
    }

    /// `5`, or `5; 10 at 0 8 * * 1-5, 0 at 0 18 * * 1-5` (UTC).
    public var summary: String {
        ([String(concurrency)] + schedule.map { "\($0.concurrency) at \($0.cron)" }).joined(separator: "; ")
    }

    public var isOff: Bool { concurrency == 0 && schedule.isEmpty }
}

/// What the target has, as the daemon last saw it, and how its tries went.
public struct ProvisionedConcurrencyStatus: Equatable, Sendable {
    /// Environments configured on the target (0: no configuration).
    public var applied: Int
    /// Lambda's status of the configuration: `IN_PROGRESS`, `READY` or `FAILED` (nil when there is none).
    public var platformStatus: String?
    /// Environments the platform says are ready now.
    public var available: Int?
    /// Tries in a row that failed, the last one's error, and when the next try is due.
    public var failures: Int
    public var lastError: String?
    public var retryAt: Date?
    /// When the configuration was last checked or changed.
    public var checkedAt: Date?

    public init(applied: Int = 0, platformStatus: String? = nil, available: Int? = nil, failures: Int = 0,
                lastError: String? = nil, retryAt: Date? = nil, checkedAt: Date? = nil) {
        self.applied = applied
        self.platformStatus = platformStatus
        self.available = available
        self.failures = failures
        self.lastError = lastError
        self.retryAt = retryAt
        self.checkedAt = checkedAt
    }
}

/// What the platform answers about an alias's provisioned concurrency.
public struct ProvisionedConcurrencyConfig: Equatable, Sendable {
    public var requested: Int
    public var available: Int
    /// `IN_PROGRESS`, `READY` or `FAILED`.
    public var status: String
    public var reason: String?

    public init(requested: Int, available: Int, status: String, reason: String? = nil) {
        self.requested = requested
        self.available = available
        self.status = status
        self.reason = reason
    }
}

/// The daemon's decision for one endpoint's provisioned concurrency, as a pure function of the intent, what
/// the target has, and the clock.
public enum ProvisionedConcurrencyPlanner {
    public enum Action: Equatable, Sendable {
        case none
        /// Configure `n` environments on the alias (`PutProvisionedConcurrencyConfig`).
        case put(Int)
        /// Remove the configuration (`DeleteProvisionedConcurrencyConfig`).
        case delete
        /// Ask how the configuration stands (`GetProvisionedConcurrencyConfig`): it is still being allocated.
        case check
    }

    /// How often a configuration being allocated is asked about.
    public static let checkSeconds: TimeInterval = 5
    /// The pause after a failed try: 5 s, doubling, at most 5 minutes.
    public static let retries = RetrySchedule(first: 5, cap: 300)

    /// The action due at `now` (none while a failed try waits), and when to look again.
    public static func step(_ intent: ProvisionedConcurrency, status: ProvisionedConcurrencyStatus, now: Date) -> (action: Action, wakeAt: Date?) {
        let wanted = intent.wanted(at: now)
        if let retryAt = status.retryAt, retryAt > now { return (.none, earlier(retryAt, wanted.nextChange)) }
        if wanted.concurrency != status.applied || (wanted.concurrency > 0 && status.platformStatus == "FAILED") {
            return (wanted.concurrency > 0 ? .put(wanted.concurrency) : .delete, nil)
        }
        if status.applied > 0, status.platformStatus == nil || status.platformStatus == "IN_PROGRESS" {
            let due = (status.checkedAt ?? .distantPast).addingTimeInterval(checkSeconds)
            return due <= now ? (.check, nil) : (.none, earlier(due, wanted.nextChange))
        }
        return (.none, wanted.nextChange)
    }

    /// The status after `action` was answered with `config` (nil after a delete, or when a get found none). A
    /// configuration the platform could not allocate (`FAILED`) counts as a failed try: it is put again later.
    public static func answered(_ action: Action, config: ProvisionedConcurrencyConfig?, previous: ProvisionedConcurrencyStatus,
                                now: Date) -> ProvisionedConcurrencyStatus {
        let applied: Int
        switch action {
        case .put(let n): applied = n
        case .delete, .none: applied = 0
        case .check: applied = config?.requested ?? 0
        }
        var next = ProvisionedConcurrencyStatus(applied: applied, platformStatus: config?.status, available: config?.available, checkedAt: now)
        if config?.status == "FAILED" {
            next.failures = previous.failures + 1
            next.lastError = "the platform could not allocate \(applied) environments: \(config?.reason ?? "no reason given")"
            next.retryAt = now.addingTimeInterval(retries.pause(afterFailures: next.failures))
        }
        return next
    }

    /// The status after `action` failed with `error`: what the target has is unchanged; the next try waits.
    public static func failed(_ status: ProvisionedConcurrencyStatus, error: String, now: Date) -> ProvisionedConcurrencyStatus {
        var next = status
        next.failures += 1
        next.lastError = error
        next.retryAt = now.addingTimeInterval(retries.pause(afterFailures: next.failures))
        next.checkedAt = now
        return next
    }

    private static func earlier(_ a: Date, _ b: Date?) -> Date { b.map { min(a, $0) } ?? a }
}

extension ProvisionedRates {
    /// What `environments` provisioned environments of `memoryMB` cost per hour while configured, requests apart.
    public func perHour(environments: Int, memoryMB: Int) -> Decimal {
        Decimal(environments) * Decimal(memoryMB) / 1_024 * 3_600 * perGBSecondEnabled
    }
}
