import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// CloudWatch's `GetMetricData` (query protocol, API version 2010-08-01, XML answers), as the AWS drivers use it.
/// https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html
public enum CloudWatch {
    public static let apiVersion = "2010-08-01"
    /// One call takes at most 500 queries.
    public static let maxQueries = 500

    /// One `MetricStat` query: a metric, its dimensions, a period and one statistic (`Sum`, `Maximum`, `p99`, …).
    public struct Query: Equatable, Sendable {
        /// Starts with a lowercase letter; letters, digits and underscores.
        public var id: String
        public var namespace: String
        public var metric: String
        public var dimensions: [(name: String, value: String)]
        public var periodSeconds: Int
        public var stat: String

        public init(id: String, namespace: String, metric: String, dimensions: [(name: String, value: String)],
                    periodSeconds: Int, stat: String) {
            self.id = id
            self.namespace = namespace
            self.metric = metric
            self.dimensions = dimensions
            self.periodSeconds = periodSeconds
            self.stat = stat
        }

        public static func == (a: Query, b: Query) -> Bool {
            a.id == b.id && a.namespace == b.namespace && a.metric == b.metric && a.periodSeconds == b.periodSeconds
                && a.stat == b.stat && a.dimensions.map { [$0.name, $0.value] } == b.dimensions.map { [$0.name, $0.value] }
        }
    }

    /// The form parameters of one `GetMetricData` call (the query protocol's `member.N` lists).
    public static func parameters(_ queries: [Query], from: Date, to: Date, nextToken: String?) -> [(name: String, value: String)] {
        var form: [(name: String, value: String)] = [
            ("StartTime", timestamp(from)), ("EndTime", timestamp(to)), ("ScanBy", "TimestampAscending"),
        ]
        for (index, query) in queries.enumerated() {
            let prefix = "MetricDataQueries.member.\(index + 1)"
            form += [("\(prefix).Id", query.id), ("\(prefix).ReturnData", "true"),
                     ("\(prefix).MetricStat.Metric.Namespace", query.namespace),
                     ("\(prefix).MetricStat.Metric.MetricName", query.metric),
                     ("\(prefix).MetricStat.Period", String(query.periodSeconds)),
                     ("\(prefix).MetricStat.Stat", query.stat)]
            for (d, dimension) in query.dimensions.enumerated() {
                form += [("\(prefix).MetricStat.Metric.Dimensions.member.\(d + 1).Name", dimension.name),
                         ("\(prefix).MetricStat.Metric.Dimensions.member.\(d + 1).Value", dimension.value)]
            }
        }
        if let nextToken { form.append(("NextToken", nextToken)) }
        return form
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    /// One page of a `GetMetricData` answer: each query's (period start, value) points, and the next page's token.
    public struct Page: Equatable, Sendable {
        public var points: [String: [(start: Date, value: Double)]]
        public var nextToken: String?

        public static func == (a: Page, b: Page) -> Bool {
            a.nextToken == b.nextToken && a.points.mapValues { $0.map { "\($0.start.timeIntervalSince1970)=\($0.value)" } }
                == b.points.mapValues { $0.map { "\($0.start.timeIntervalSince1970)=\($0.value)" } }
        }
    }

    /// Reads a `GetMetricDataResponse`:
    ///
    ///     <GetMetricDataResult><MetricDataResults><member>
    ///       <Id>v1_invocations</Id><Label>…</Label><StatusCode>Complete</StatusCode>
    ///       <Timestamps><member>2026-11-23T09:06:00Z</member></Timestamps><Values><member>40.0</member></Values>
    ///     </member></MetricDataResults><NextToken>…</NextToken></GetMetricDataResult>
    ///
    /// `Timestamps` and `Values` pair up by position.
    public static func parsePage(_ xml: Data) throws -> Page {
        guard let root = XMLElementTree.parse(xml) else { throw AnswerError.notXML }
        guard let result = root.first("GetMetricDataResult") else { throw AnswerError.missing("GetMetricDataResult") }
        var points: [String: [(start: Date, value: Double)]] = [:]
        for member in result.first("MetricDataResults")?.children(named: "member") ?? [] {
            guard let id = member.first("Id")?.text else { continue }
            let times = member.first("Timestamps")?.children(named: "member").map(\.text) ?? []
            let values = member.first("Values")?.children(named: "member").map(\.text) ?? []
            guard times.count == values.count else { throw AnswerError.mismatched(id, times.count, values.count) }
            var series: [(start: Date, value: Double)] = []
            for (time, value) in zip(times, values) {
                guard let start = parseTimestamp(time), let number = Double(value.trimmingCharacters(in: .whitespacesAndNewlines))
                else { throw AnswerError.badPoint(id, time, value) }
                series.append((start, number))
            }
            points[id, default: []] += series
        }
        let token = result.first("NextToken")?.text.trimmingCharacters(in: .whitespacesAndNewlines)
        return Page(points: points, nextToken: token?.isEmpty == false ? token : nil)
    }

    static func parseTimestamp(_ text: String) -> Date? {
        let text = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }

    enum AnswerError: Error, CustomStringConvertible {
        case notXML, missing(String), mismatched(String, Int, Int), badPoint(String, String, String)

        var description: String {
            switch self {
            case .notXML: "answer is not XML"
            case .missing(let element): "answer has no <\(element)>"
            case .mismatched(let id, let times, let values): "series \(id) has \(times) timestamps but \(values) values"
            case .badPoint(let id, let time, let value): "series \(id) has an unreadable point (\(time), \(value))"
            }
        }
    }
}

/// A small element tree read with Foundation's `XMLParser`: enough for AWS's query-protocol answers, which
/// use elements and text only (no attributes the drivers need, no mixed content).
struct XMLElementTree {
    var name: String
    var text: String
    var elements: [XMLElementTree]

    func first(_ name: String) -> XMLElementTree? { elements.first { $0.name == name } }
    func children(named name: String) -> [XMLElementTree] { elements.filter { $0.name == name } }

    static func parse(_ data: Data) -> XMLElementTree? {
        let builder = Builder()
        let parser = XMLParser(data: data)
        parser.delegate = builder
        guard parser.parse() else { return nil }
        return builder.root
    }

    /// Used by one synchronous `parse` call only, never shared between threads.
    private final class Builder: NSObject, XMLParserDelegate {
        var stack: [XMLElementTree] = []
        var root: XMLElementTree?

        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                    qualifiedName: String?, attributes: [String: String] = [:]) {
            stack.append(XMLElementTree(name: elementName, text: "", elements: []))
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            if !stack.isEmpty { stack[stack.count - 1].text += string }
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
            guard let done = stack.popLast() else { return }
            if stack.isEmpty { root = done } else { stack[stack.count - 1].elements.append(done) }
        }
    }
}

extension CloudWatch {
    /// Every point of `queries` from `from` to `to`: at most `maxQueries` per call, each answer read page by page.
    public static func points(_ queries: [Query], from: Date, to: Date, client: AWSClient) async throws -> [String: [(start: Date, value: Double)]] {
        var points: [String: [(start: Date, value: Double)]] = [:]
        for chunk in stride(from: 0, to: queries.count, by: CloudWatch.maxQueries).map({ Array(queries[$0..<min($0 + CloudWatch.maxQueries, queries.count)]) }) {
            var token: String?
            repeat {
                let answer = try await client.query(.cloudWatch, action: "GetMetricData", version: CloudWatch.apiVersion,
                                                    parameters: CloudWatch.parameters(chunk, from: from, to: to, nextToken: token))
                let page: CloudWatch.Page
                do { page = try CloudWatch.parsePage(answer.body) } catch {
                    throw AWSError(kind: .badResponse, operation: "monitoring:GetMetricData", status: answer.status, code: nil,
                                   message: "\(error)", attempts: 1)
                }
                for (id, series) in page.points { points[id, default: []] += series }
                token = page.nextToken
            } while token != nil
        }
        return points
    }
}
