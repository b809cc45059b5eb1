import Foundation
import GRDB

extension SimulatedTarget {
    public static func settings(_ db: Database, endpoint name: String, table: PriceTable) throws -> EndpointSettings {
        let endpoint = try Intents.requireEndpoint(db, name)
        guard let target = try Target.fetchOne(db, key: endpoint.target) else {
            throw ModelDeckError("endpoint '\(name)' names target '\(endpoint.target)', which the registry lacks")
        }
        let measured = try Int64.fetchOne(db, sql: "SELECT MAX(cold_start_ms) FROM instances WHERE endpoint = ?", arguments: [name])
        return EndpointSettings(memoryMB: endpoint.memoryMB, idleTimeoutSeconds: endpoint.idleTimeoutSeconds,
                                rates: try TargetPricing.rates(for: target, table: table), target: target,
                                coldStartMilliseconds: measured.flatMap { $0 > 0 ? $0 : nil })
    }
}

extension Registry {
    /// What `modeldeck simulate --like ENDPOINT` replays a trace against (`SimulatedTarget.settings`).
    public func simulationSettings(endpoint: String, table: PriceTable) throws -> SimulatedTarget.EndpointSettings {
        try read { db in try SimulatedTarget.settings(db, endpoint: endpoint, table: table) }
    }
}
