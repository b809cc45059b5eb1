import Foundation
import ModelDeckTargets

/// Puts figures into CloudWatch (moto's) the way a platform reports them, so a driver's `collectMetrics`
/// has something real to read back through `GetMetricData`.
public enum CloudWatchFixture {
    /// One `PutMetricData` in `namespace`: each metric with its (value, count) samples, all at `at`.
    public static func put(_ client: AWSClient, namespace: String, dimensions: [(String, String)], at: Date,
                           metrics: [(name: String, samples: [(value: Double, count: Int)])]) async throws {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        var form: [(name: String, value: String)] = [(name: "Namespace", value: namespace)]
        for (m, metric) in metrics.enumerated() {
            let p = "MetricData.member.\(m + 1)"
            form += [(name: "\(p).MetricName", value: metric.name), (name: "\(p).Timestamp", value: formatter.string(from: at))]
            for (d, (dimension, value)) in dimensions.enumerated() {
                form += [(name: "\(p).Dimensions.member.\(d + 1).Name", value: dimension), (name: "\(p).Dimensions.member.\(d + 1).Value", value: value)]
            }
            for (v, sample) in metric.samples.enumerated() {
                form += [(name: "\(p).Values.member.\(v + 1)", value: String(sample.value)), (name: "\(p).Counts.member.\(v + 1)", value: String(sample.count))]
            }
        }
        _ = try await client.query(.cloudWatch, action: "PutMetricData", version: CloudWatch.apiVersion, parameters: form)
    }
}
