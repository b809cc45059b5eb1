import Foundation
import ModelDeckCore

/// The detail page of one endpoint: everything the row summarises, spelled out, with the latency chart,
/// the latency distribution (cold starts apart), per-version figures and recent events. Scrolls when
/// the terminal is short.
extension Dashboard {
    typealias Segment = (text: String, role: Role)

    func renderDetail(_ name: String, into screen: inout Screen, top: Int, height: Int) {
        guard let summary = summary(name) else { return }
        let lines = detailLines(summary, detail: detail, width: screen.width)
        let offset = max(0, min(detailOffset, lines.count - height))
        for (index, line) in lines.dropFirst(offset).prefix(height).enumerated() {
            var x = 0
            for segment in line { x += screen.put(segment.text, row: top + index, column: x, role: segment.role) }
        }
        if offset + height < lines.count {
            screen.put("↓ more (j)", row: top + height - 1, column: screen.width - 11, role: .dim)
        }
    }

    func detailLines(_ s: EndpointSummary, detail: EndpointDetail?, width: Int) -> [[Segment]] {
        var lines: [[Segment]] = []
        let label = { (text: String) -> Segment in (text.padded(11), .title) }
        let breaches = s.breaches

        var title: [Segment] = [(s.name, breaches.isEmpty ? .title : .error)]
        if s.production { title.append(("  ★ production", .production)) }
        title.append(("   model \(s.model) · target \(s.target) (\(s.targetKind))", .dim))
        lines.append(title)

        // Traffic split as bars.
        var traffic: [Segment] = [label("Traffic")]
        if s.traffic.isEmpty { traffic.append(("no version takes traffic yet", .dim)) }
        for share in s.traffic {
            traffic.append(("\(Cells.label(share.version)) ", .normal))
            traffic.append((Charts.bar(Double(share.weight), top: 100, width: 20), s.traffic.count > 1 ? .accent : .ok))
            traffic.append((" \(share.weight)%   ", .normal))
        }
        lines.append(traffic)

        if let drift = s.drift { lines.append([label("Drift"), ("⚠ \(drift)", .error)]) }
        var deploy: [Segment] = [label("Deploy")]
        if let d = s.deployment {
            let strategy = (try? DeploymentStrategy(parsing: d.strategy))
            let steps = strategy?.steps.count ?? 1
            deploy.append(("#\(d.id ?? 0) \(d.kind.rawValue) \(d.fromVersion.map(Cells.label) ?? "-")→\(Cells.label(d.toVersion)) \(d.strategy)", .normal))
            deploy.append((" · \(d.state.rawValue) step \(min(d.step + 1, steps))/\(steps) at \(d.currentWeight)% since \(Cells.clock(d.stepStartedAt))",
                           d.state == .rollingBack ? .error : .warning))
            lines.append(deploy)
            if let alarm = d.alarm { lines.append([label(""), ("alarm: \(alarm)", .error)]) }
            if d.pausedAt != nil { lines.append([label(""), ("‖ paused: \(d.pauseNote ?? "by hand") (resume or promote)", .warning)]) }
            if let waiting = data.deployments.first(where: { $0.id == d.id })?.waitingFor {
                lines.append([label(""), ("the step waits for \(waiting) on \(Cells.label(d.toVersion))", .warning)])
            }
        } else {
            deploy.append(("none in flight", .dim))
            lines.append(deploy)
        }

        lines.append([label("Latency"), ("p50 \(Cells.milliseconds(s.p50Milliseconds))  ", .normal),
                      ("p99 \(Cells.milliseconds(s.p99Milliseconds))", breaches.contains(.latency) ? .error : .normal),
                      (" (SLO \(Format.duration(milliseconds: s.slo.p99Milliseconds)), last 5m)", .dim),
                      ("   warm p99 \(Cells.milliseconds(detail?.warmP99))  cold p99 \(Cells.milliseconds(detail?.coldP99)) (last hour)", .normal)])
        lines.append([label("Errors"), ("\(Cells.percent(ppm: s.errorRatePPM)) of \(Format.grouped(s.recentRequests)) \(s.fromProbes ? "probes" : "requests")", breaches.contains(.errors) ? .error : .normal),
                      (" (SLO \(Format.percent(ppm: s.slo.errorRatePPM)), last 5m)", .dim),
                      ("   cold starts \(s.coldStartsLastHour) in the last hour", s.coldStartsLastHour > 0 ? .warning : .normal)])
        if let availability = s.availability {
            // An endpoint someone else runs: latency and errors above are its probes'.
            lines.append([label("Probes"), ("available \(Cells.percent(ppm: Int64((availability * 1_000_000).rounded()))) of probes", availability < 1 ? .warning : .ok),
                          (s.fromProbes ? " (last 5m; latency, errors and cold starts above are the probes')" : " (last 5m)", .dim)])
        }
        var capacity: [Segment] = [label("Capacity"), ("\(Cells.rate(s.requestsPerSecond)) req/s · in flight \(s.inFlight)/\(s.maxConcurrency) · warm instances \(s.warmInstances) of at most \(s.maxInstances)", .normal)]
        if !s.crashLooping.isEmpty {
            capacity.append((" · crash-looping: \(s.crashLooping.map(Cells.label).joined(separator: ", ")) (starts keep failing; retried with backoff)", .error))
        }
        lines.append(capacity)

        var cost: [Segment] = [label("Cost"), ("\(Cells.dollars(s.burnMicrosPerHour))/h now (keep-warm \(Cells.dollars(s.warmupBurnMicrosPerHour))/h)", .normal),
                               (" · today \(Cells.dollars(s.todayMicros)) (keep-warm \(Cells.dollars(s.todayWarmupMicros))\(s.todayBenchMicros > 0 ? ", bench \(Cells.dollars(s.todayBenchMicros))" : ""))", .normal),
                               (" · month ≈ \(Cells.dollars(s.projectedMonthMicros))", .normal)]
        if let budget = s.dailyBudgetMicros, let percent = s.budgetPercent {
            cost.append((" · budget \(Format.dollars(micros: budget))/day: \(percent)%", breaches.contains(.budget) ? .error : percent >= 80 ? .warning : .ok))
        }
        lines.append(cost)

        var warm: [Segment] = [label("Keep-warm"), (s.keepWarm.summary, .normal)]
        if let next = s.nextPing, s.keepWarm != .off { warm.append((" · next ping \(Cells.clock(next)) (\(Cells.time(next, now: now)))", .normal)) }
        if s.pingRequested { warm.append((" · ping requested", .warning)) }
        if let last = s.lastPingResult { warm.append((" · last: \(last)", .dim)) }
        lines.append(warm)
        if let hour = detail?.hour, hour.requests > 0 || hour.pings > 0 {
            // What warming bought this hour, against what it cost: the figures to judge a policy by.
            var bought: [Segment] = [label("")]
            if let hit = hour.warmHitRate {
                bought.append(("warm-hit \(String(format: "%.1f", hit * 100))% of \(Format.grouped(hour.requests)) requests (\(hour.coldStarts) cold", hour.coldStarts > 0 ? .warning : .normal))
                bought.append((hour.coldStarts > 0 ? ", p99 \(Cells.milliseconds(hour.coldP99Milliseconds)))" : ")", hour.coldStarts > 0 ? .warning : .normal))
            } else {
                bought.append(("no user requests", .dim))
            }
            bought.append((" · \(Format.grouped(hour.pings)) \(hour.pings == 1 ? "ping" : "pings") (\(hour.pingColdStarts) arrived cold) cost \(Cells.dollars(hour.pingCostMicros)) · last hour", .dim))
            lines.append(bought)
        }
        if let provisioned = detail?.provisioned {
            // Provisioned concurrency beside the pings: what it costs per hour configured, against what pings cost last hour.
            let status = provisioned.status
            var line: [Segment] = [label("Provisioned"), ("\(provisioned.intent.summary) asked · \(status.applied) on the alias", .normal)]
            if let platform = status.platformStatus {
                line.append((" (\(status.available ?? 0) ready, \(TerminalText.sanitize(platform)))", platform == "READY" ? .ok : platform == "FAILED" ? .error : .warning))
            }
            if let perHour = detail?.provisionedMicrosPerHour {
                line.append((" · \(Cells.dollars(perHour))/h configured vs pings \(Cells.dollars(detail?.hour?.pingCostMicros ?? 0)) last hour", .dim))
            }
            if let error = status.lastError { line.append((" · \(TerminalText.sanitize(error))", .error)) }
            lines.append(line)
        }
        if let detail, s.keepWarm != .off {
            if let learned = detail.keepAlive {
                lines.append([label(""), ("platform keep-alive learned: warm after idle gaps up to \(Format.duration(seconds: learned.seconds)), cold from \(Format.duration(seconds: learned.shortestColdGapSeconds))", .normal),
                              (" (\(learned.warmObservations) warm, \(learned.coldObservations) cold gaps, last day\(Self.benchSource(learned)); planned with it)", .dim)])
            } else {
                lines.append([label(""), ("platform keep-alive not learned yet (\(KeepAliveLearner.minimumEach) cold and \(KeepAliveLearner.minimumEach) warm gaps of 1m+ needed, or a bench run's luke-warm curve): planned with idle_timeout", .dim)])
            }
        }

        guard let detail else {
            lines.append([])
            lines.append([("loading the last hour…", .dim)])
            return lines
        }

        // Latency over time: one column per 10 s bucket, as many as fit.
        lines.append([])
        let chartWidth = max(10, width - 8)
        let points = detail.points.suffix(chartWidth)
        let top = points.compactMap(\.p99).max() ?? 0
        lines.append([("p99 latency, last hour", .title), ("  (one column per bucket; top \(Cells.milliseconds(top)), SLO \(Format.duration(milliseconds: s.slo.p99Milliseconds)))", .dim)])
        if points.isEmpty {
            lines.append([("  no requests in the last hour", .dim)])
        } else {
            let slo = Double(s.slo.p99Milliseconds)
            let rows = Charts.bars(points.map(\.p99), width: chartWidth, height: 5)
            for (index, row) in rows.enumerated() {
                let axis = index == 0 ? Cells.milliseconds(top) : index == rows.count - 1 ? "0" : ""
                lines.append([(axis.padded(7), .dim), (row, top > slo ? .warning : .ok)])
            }
        }

        lines.append([])
        let bandTop = Double(detail.bands.map { max($0.warm, $0.cold) }.max() ?? 0)
        lines.append([("Latency distribution, last hour", .title), ("  warm ", .dim), ("█", .ok), ("  cold start ", .dim), ("█", .warning)])
        let barWidth = max(4, (width - 30) / 2)
        for band in detail.bands where band.warm > 0 || band.cold > 0 {
            lines.append([(band.label.padded(9), .dim),
                          ((Charts.bar(Double(band.warm), top: bandTop, width: barWidth) + (band.warm > 0 ? " \(band.warm)" : "")).padded(barWidth + 8), .ok),
                          (Charts.bar(Double(band.cold), top: bandTop, width: barWidth) + (band.cold > 0 ? " \(band.cold)" : ""), .warning)])
        }
        if detail.bands.allSatisfy({ $0.warm == 0 && $0.cold == 0 }) { lines.append([("  no requests in the last hour", .dim)]) }

        lines.append([])
        lines.append([("Versions, last hour", .title)])
        let weights = Dictionary(s.traffic.map { ($0.version, $0.weight) }, uniquingKeysWith: { a, _ in a })
        let versions = Set(detail.versions.map(\.version)).union(weights.keys).sorted()
        if versions.isEmpty { lines.append([("  none", .dim)]) }
        for version in versions {
            let figures = detail.versions.first { $0.version == version }
            let requests = figures?.requests ?? 0
            let errors = figures?.errors ?? 0
            let rate = requests > 0 ? errors * 1_000_000 / requests : nil
            lines.append([("  \(version)".padded(22), .normal),
                          ("\(weights[version] ?? 0)%".padded(6), weights[version] != nil ? .accent : .dim),
                          ("\(Format.grouped(requests)) req · \(Cells.percent(ppm: rate)) errors · \(figures?.coldStarts ?? 0) cold · \(figures?.warmups ?? 0) pings · p99 \(Cells.milliseconds(figures?.p99))",
                           rate.map { $0 > s.slo.errorRatePPM } == true ? .error : .normal)])
        }

        lines += benchLines(detail.bench)

        lines.append([])
        lines.append([("Recent events", .title)])
        if detail.events.isEmpty { lines.append([("  none", .dim)]) }
        for event in detail.events.suffix(10).reversed() {
            lines.append([("  \(Cells.stamp(event.at)) ", .dim), (event.kind.padded(18) + " ", .accent),
                          ("\(event.actor): ", .dim), (event.message, .normal)])
        }
        return lines
    }

    /// Where a learned keep-alive came from besides traffic: the bench run whose luke-warm curve counted.
    static func benchSource(_ learned: LearnedKeepAlive) -> String {
        guard learned.benchObservations > 0 else { return "" }
        return ", \(learned.benchObservations) of them from bench run" + (learned.benchRun.map { " #\($0)" } ?? "")
    }
}

extension String {
    /// Exactly `columns` wide: padded with spaces, or cut with "…" (never silently).
    func padded(_ columns: Int) -> String {
        let fitted = Screen.fit(self, columns: columns)
        return fitted + String(repeating: " ", count: max(0, columns - Screen.columns(of: fitted)))
    }
}
