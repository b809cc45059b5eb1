import Foundation
import Yams

// The deck's endpoints and notification channels, with their keep-warm policies.
extension DeckReader {
    func endpoint(_ node: Node) throws -> EndpointDeclaration {
        let fields = try mapping(node, what: "an endpoint", allowed: nil)
        let name = try requiredName(fields, in: node, what: "endpoint")
        let what = "endpoint '\(name)'"
        try checkFields(node, allowed: ["name", "model", "target", "memory", "concurrency", "min_instances",
                                          "max_instances", "idle_timeout", "slo", "daily_budget", "keep_warm",
                                          "traffic", "production", "rollout", "gate"], what: what)
        guard let modelNode = fields["model"] else { throw error(at: node, "\(what) has no model") }
        guard let targetNode = fields["target"] else { throw error(at: node, "\(what) has no target") }
        guard let memoryNode = fields["memory"] else { throw error(at: node, "\(what) has no memory, e.g. memory: 512MB") }
        var endpoint = Endpoint(
            name: name, model: try string(modelNode, what: "model"), target: try string(targetNode, what: "target"),
            memoryMB: try at(memoryNode) { try Quantity.megabytes(try string(memoryNode, what: "memory"), what: "\(what) memory") })
        var declared: Set<EndpointSetting> = [.memory]
        if let n = fields["concurrency"] {
            endpoint.concurrency = try integer(n, what: "\(what) concurrency", range: 1...10_000)
            declared.insert(.concurrency)
        }
        if let n = fields["min_instances"] {
            endpoint.minInstances = try integer(n, what: "\(what) min_instances", range: 0...10_000)
            declared.insert(.minInstances)
        }
        if let n = fields["max_instances"] {
            endpoint.maxInstances = try integer(n, what: "\(what) max_instances", range: 1...10_000)
            declared.insert(.maxInstances)
        }
        if endpoint.minInstances > endpoint.maxInstances {
            throw error(at: fields["min_instances"] ?? node, "\(what): min_instances \(endpoint.minInstances) is more than max_instances \(endpoint.maxInstances)")
        }
        if let n = fields["idle_timeout"] {
            endpoint.idleTimeoutSeconds = try at(n) { try Quantity.seconds(try string(n, what: "idle_timeout"), what: "\(what) idle_timeout") }
            declared.insert(.idleTimeout)
        }
        if let sloNode = fields["slo"] {
            let slo = try mapping(sloNode, what: "\(what) slo", allowed: ["p99", "error_rate"])
            if let n = slo["p99"] {
                endpoint.slo.p99Milliseconds = try at(n) { try Quantity.milliseconds(try string(n, what: "p99"), what: "\(what) slo p99") }
                guard endpoint.slo.p99Milliseconds > 0 else { throw error(at: n, "\(what): slo p99 must be more than 0ms") }
                declared.insert(.sloP99)
            }
            if let n = slo["error_rate"] {
                endpoint.slo.errorRatePPM = try at(n) { try Quantity.ppm(try string(n, what: "error_rate"), what: "\(what) slo error_rate") }
                declared.insert(.sloErrorRate)
            }
        }
        if let n = fields["daily_budget"] {
            endpoint.dailyBudgetMicros = try at(n) { try Quantity.microdollars(try string(n, what: "daily_budget"), what: "\(what) daily_budget") }
            declared.insert(.dailyBudget)
        }
        if let n = fields["keep_warm"] {
            (endpoint.keepWarm, endpoint.keepWarmSchedule) = try keepWarm(n, what: what)
            declared.insert(.keepWarm)
        }
        if let n = fields["production"] {
            endpoint.production = try boolean(n, what: "\(what) production")
            declared.insert(.production)
        }
        if let n = fields["rollout"] {
            let text = try string(n, what: "\(what) rollout")
            _ = try at(n) { try DeploymentStrategy.rollout(parsing: text) }
            endpoint.rollout = text
            declared.insert(.rollout)
        }
        if let gateNode = fields["gate"] {
            endpoint.gate = try gate(gateNode, what: what)
            declared.insert(.gate)
        }

        var traffic: [String: Int] = [:]
        if let trafficNode = fields["traffic"] {
            guard case .mapping(let pairs) = trafficNode else {
                throw error(at: trafficNode, "\(what): traffic must map versions to weights, e.g. traffic: {v1: 90, v2: 10}")
            }
            for (key, value) in pairs {
                let version = try string(key, what: "version")
                guard traffic[version] == nil else { throw error(at: key, "\(what): version '\(version)' appears twice in traffic") }
                traffic[version] = try integer(value, what: "\(what) weight for '\(version)'", range: 0...100)
            }
            let sum = traffic.values.reduce(0, +)
            guard sum == 100 else {
                throw error(at: trafficNode, "\(what): traffic weights sum to \(sum), they must sum to 100")
            }
        }
        return EndpointDeclaration(endpoint: endpoint, traffic: traffic, declared: declared)
    }

    /// A `notifications:` entry: a webhook `url` or a `command`, a `format`, optional `events`, `endpoints`
    /// and `production` filters, and `headers`. `${NAME}`s must be set in the environment now.
    func notification(_ node: Node) throws -> NotificationChannel {
        let fields = try mapping(node, what: "a notification", allowed: nil)
        let name = try requiredName(fields, in: node, what: "notification")
        let what = "notification '\(name)'"
        try checkFields(node, allowed: ["name", "url", "command", "format", "events", "endpoints", "production", "headers"], what: what)
        let destination: NotificationChannel.Destination
        switch (fields["url"], fields["command"]) {
        case (let url?, nil): destination = .url(try string(url, what: "\(what) url"))
        case (nil, let command?):
            if case .sequence(let items) = command {
                destination = .command(try items.map { try string($0, what: "\(what) command") })
            } else {
                destination = .command(try string(command, what: "\(what) command").split(separator: " ").map(String.init))
            }
        case (_?, _?): throw error(at: node, "\(what) has both url and command; give one")
        case (nil, nil): throw error(at: node, "\(what) has no url or command; give a webhook url or a command to run")
        }
        guard let formatNode = fields["format"] else {
            throw error(at: node, "\(what) has no format; use \(NotificationChannel.Format.allCases.map(\.rawValue).joined(separator: " or "))")
        }
        let formatText = try string(formatNode, what: "\(what) format")
        guard let format = NotificationChannel.Format(rawValue: formatText) else {
            throw error(at: formatNode, "\(what): format '\(formatText)' is not \(NotificationChannel.Format.allCases.map(\.rawValue).joined(separator: " or "))")
        }
        var channel = NotificationChannel(name: name, destination: destination, format: format)
        if let eventsNode = fields["events"] {
            channel.events = try sequence(eventsNode, what: "\(what) events").map { try string($0, what: "\(what) event kind") }
            guard !channel.events.isEmpty else { throw error(at: eventsNode, "\(what): events is empty; leave it out for the on-call kinds") }
        }
        if let endpointsNode = fields["endpoints"] {
            channel.endpoints = try sequence(endpointsNode, what: "\(what) endpoints").map { try string($0, what: "\(what) endpoint") }
        }
        if let productionNode = fields["production"] {
            channel.productionOnly = try boolean(productionNode, what: "\(what) production")
        }
        if let headersNode = fields["headers"] {
            guard case .mapping(let pairs) = headersNode else {
                throw error(at: headersNode, "\(what): headers must map names to values, e.g. headers: {Authorization: \"Bearer ${TOKEN}\"}")
            }
            for (key, value) in pairs {
                channel.headers[try string(key, what: "\(what) header name")] = try string(value, what: "\(what) header")
            }
        }
        if case .command = destination, let headersNode = fields["headers"] {
            throw error(at: headersNode, "\(what): headers apply to a webhook url, not to a command")
        }
        if let problem = channel.problem(environment: environment) { throw error(at: node, problem) }
        return channel
    }

    func keepWarm(_ node: Node, what: String) throws -> (KeepWarmPolicy, [ScheduledConcurrency]) {
        if case .scalar = node {
            switch try string(node, what: "keep_warm") {
            case "off", "false": return (.off, [])
            case "adaptive": return (.adaptive, [])
            case let other:
                throw error(at: node, "\(what): keep_warm '\(other)' is not off, adaptive or a mapping {mode: fixed, every: 5m, concurrency: 1}")
            }
        }
        let fields = try mapping(node, what: "\(what) keep_warm", allowed: ["mode", "every", "concurrency", "schedule"])
        let mode = try fields["mode"].map { try string($0, what: "mode") } ?? (fields["every"] != nil ? "fixed" : "off")
        if mode != "fixed", let schedule = fields["schedule"] {
            throw error(at: schedule, "\(what): keep_warm schedule needs mode fixed (a concurrency per schedule for fixed pings)")
        }
        switch mode {
        case "off": return (.off, [])
        case "adaptive": return (.adaptive, [])
        case "fixed":
            guard let every = fields["every"] else { throw error(at: node, "\(what): keep_warm fixed needs every, e.g. every: 5m") }
            let seconds = try at(every) { try Quantity.seconds(try string(every, what: "every"), what: "\(what) keep_warm every") }
            guard seconds >= 1 else { throw error(at: every, "\(what): keep_warm every must be at least 1s") }
            let concurrency = try fields["concurrency"].map { try integer($0, what: "\(what) keep_warm concurrency", range: 1...1_000) } ?? 1
            var schedule: [ScheduledConcurrency] = []
            let entries = try sequence(fields["schedule"], what: "\(what) keep_warm schedule")
            guard entries.count <= 24 else { throw error(at: fields["schedule"]!, "\(what): keep_warm schedule has \(entries.count) entries; at most 24") }
            for entry in entries {
                let parts = try mapping(entry, what: "\(what) keep_warm schedule entry", allowed: ["cron", "concurrency"])
                guard let cronNode = parts["cron"], let countNode = parts["concurrency"] else {
                    throw error(at: entry, "\(what): each keep_warm schedule entry needs cron and concurrency, e.g. {cron: \"0 8 * * MON-FRI\", concurrency: 10}")
                }
                let cron = try at(cronNode) { try Cron(parsing: try string(cronNode, what: "cron")) }
                schedule.append(ScheduledConcurrency(cron: cron, concurrency: try integer(countNode, what: "\(what) keep_warm schedule concurrency", range: 0...1_000)))
            }
            return (.fixed(everySeconds: seconds, concurrency: concurrency), schedule)
        default:
            throw error(at: fields["mode"]!, "\(what): keep_warm mode '\(mode)' is not off, fixed or adaptive")
        }
    }
}
