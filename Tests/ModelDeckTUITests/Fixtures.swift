import Foundation
import ModelDeckCore
@testable import ModelDeckTUI

/// Dashboards built from values, without a registry: what the views are given.
enum Fixtures {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func endpoint(_ name: String, p99: Double? = 120, requests: Int64 = 1_000, errors: Int64 = 0, rate: Double = 3.3,
                         production: Bool = false, traffic: [VersionWeight] = [VersionWeight(version: "m@v1", weight: 100)],
                         budget: Int64? = nil, today: Int64 = 0) -> EndpointSummary {
        var summary = EndpointSummary(name: name, model: "m", target: "local", production: production, traffic: traffic,
                                      slo: SLO(p99Milliseconds: 1_000, errorRatePPM: 10_000), dailyBudgetMicros: budget,
                                      keepWarm: .fixed(everySeconds: 300, concurrency: 1), concurrency: 1, maxInstances: 4)
        summary.p50Milliseconds = p99.map { $0 / 4 }
        summary.p99Milliseconds = p99
        summary.recentRequests = requests
        summary.recentErrors = errors
        summary.requestsPerSecond = rate
        summary.todayMicros = today
        return summary
    }

    static func data(_ endpoints: [EndpointSummary], events: [Listings.EventRow] = [], daemon: DaemonStatus = DaemonStatus(state: .alive, pid: 42)) -> DashboardData {
        DashboardData(registryPath: "/tmp/registry.sqlite", loadedAt: now, daemon: daemon, endpoints: endpoints, events: events)
    }

    static func render(_ dashboard: inout Dashboard, width: Int = 120, height: Int = 30) -> Screen {
        var screen = Screen(width: width, height: height)
        dashboard.render(into: &screen)
        return screen
    }

    /// Types `text` one key at a time, returning every effect.
    @discardableResult
    static func type(_ text: String, into dashboard: inout Dashboard) -> [Dashboard.Effect] {
        text.flatMap { dashboard.handle(.character($0)) }
    }

    /// The row of the screen whose text contains `needle`.
    static func row(containing needle: String, in screen: Screen) -> Int? {
        (0..<screen.height).first { screen.line($0).contains(needle) }
    }
}
