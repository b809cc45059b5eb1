import Foundation
import Logging
import ModelDeckCore
import ModelDeckTargets
import ServiceLifecycle

/// Brings the figures that cloud platforms measure (CloudWatch) into the registry's metric buckets, once a
/// minute, for every endpoint on a target that is not measured at a local gateway. The first pass reaches
/// back an hour; later ones re-read the last 15 minutes, since CloudWatch revises recent periods.
struct MetricsCollector: Service {
    let registry: Registry
    let drivers: any DriverSource
    let logger: Logger
    var interval: Duration = .seconds(60)
    /// What the platforms' figures are priced with (`TargetPricing`).
    var prices: PriceTable = (try? PriceTable.load()) ?? .standard

    static let firstLookBack: TimeInterval = 3_600
    static let lookBack: TimeInterval = 900

    func run() async throws {
        var lookBack = Self.firstLookBack
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            await collect(now: Date(), lookBack: lookBack)
            lookBack = Self.lookBack
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    func collect(now: Date, lookBack: TimeInterval) async {
        let endpoints: [Endpoint]
        do {
            endpoints = try await registry.perform { try $0.endpoints() }
        } catch {
            logger.error("metrics collection failed", metadata: ["error": "\(error)"])
            return
        }
        for endpoint in endpoints {
            guard let driver = drivers[endpoint.target], driver.collectsPlatformMetrics, driver.unavailableReason == nil else { continue }
            do {
                let from = now.addingTimeInterval(-lookBack)
                // Only the versions that may have served in the window: CloudWatch bills every metric asked for.
                let versions = try await registry.perform { registry in
                    try registry.versions(ids: Array(registry.servingVersions(endpoint: endpoint.name, since: from)))
                }
                let measured = try await driver.collectMetrics(of: endpoint, versions: versions, from: from, to: now)
                if !measured.refused.isEmpty {
                    logger.warning("metrics out of range, left out", metadata: [
                        "endpoint": "\(endpoint.name)", "count": "\(measured.refused.count)",
                        "points": "\(measured.refused.prefix(5).joined(separator: ", "))",
                    ])
                }
                let buckets = measured.buckets(rates: try? TargetPricing.rates(for: driver.target, table: prices),
                                               taskRates: try? TargetPricing.taskRates(for: driver.target, table: prices),
                                               perInstanceHour: TargetPricing.instanceRate(for: driver.target, table: prices)?.rate.perHour)
                try await registry.perform { try $0.replaceObserved(buckets, platformCountsColdStarts: measured.countsColdStarts) }
            } catch {
                logger.warning("metrics collection failed", metadata: [
                    "endpoint": "\(endpoint.name)", "error": "\((error as? ModelDeckError)?.message ?? "\(error)")",
                ])
            }
        }
    }
}
