import Foundation
import ModelDeckCore

// The aws-lambda driver's traffic: the alias `live` and its weights.
extension LambdaDriver {
    /// Points the alias `live` at the version with the highest weight and sends the other's share through
    /// `RoutingConfig.AdditionalVersionWeights` (Lambda takes at most one additional version).
    public func setWeights(_ weights: [String: Int], on endpoint: Endpoint, versions: [String: ModelVersion]) async throws {
        try await setWeights(weights, endpoint: endpoint.name)
    }

    private func setWeights(_ weights: [String: Int], endpoint: String) async throws {
        let taking = weights.filter { $0.value > 0 }.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
        let name = functionName(endpoint)
        guard let primary = taking.first else {
            throw ModelDeckError("no version of endpoint '\(endpoint)' takes traffic in \(Self.describe(weights)); a Lambda alias always routes to one version")
        }
        guard taking.count <= 2 else {
            throw ModelDeckError("a Lambda alias routes to at most two versions (one plus one additional); asked to split '\(endpoint)' \(Self.describe(weights))")
        }
        let numbers = try await versionNumbers(name, endpoint: endpoint)
        func number(_ id: String) throws -> String {
            guard let number = numbers[id] else {
                throw ModelDeckError("version '\(id)' was never provisioned on Lambda function '\(name)' (no published version carries it); provision it before routing traffic to it")
            }
            return number
        }
        let total = Double(taking.reduce(0) { $0 + $1.value })
        let functionVersion = try number(primary.key)
        var additional: [String: Double] = [:]
        for (id, weight) in taking.dropFirst() { additional[try number(id)] = Double(weight) / total }

        let path = "\(Self.path(name))/aliases/\(Self.alias)"
        if let current = try await alias(name) {
            if current.FunctionVersion == functionVersion && (current.RoutingConfig?.AdditionalVersionWeights ?? [:]) == additional { return }
            _ = try await call("UpdateAlias", .PUT, path, LambdaAPI.UpdateAlias(
                FunctionVersion: functionVersion, RoutingConfig: .init(AdditionalVersionWeights: additional)))
        } else {
            do {
                _ = try await call("CreateAlias", .POST, "\(Self.path(name))/aliases", LambdaAPI.CreateAlias(
                    Name: Self.alias, FunctionVersion: functionVersion, Description: "ModelDeck traffic of endpoint \(endpoint)",
                    RoutingConfig: additional.isEmpty ? nil : .init(AdditionalVersionWeights: additional)))
            } catch let error as AWSError where error.kind == .conflict {
                return try await setWeights(weights, endpoint: endpoint) // made meanwhile: update it instead
            }
        }
    }

    /// The alias `live` as version id → percent. A version ModelDeck did not publish shows as `lambda:<function>:<number>`.
    /// A function without the alias routes nothing (`[:]`, so the daemon's drift check makes the alias again);
    /// a function that does not exist is an `AWSError` of kind `notFound` that names it and the endpoint.
    public func liveWeights(of endpoint: Endpoint, versions: [String: ModelVersion]) async throws -> [String: Int] {
        try await liveWeights(endpoint: endpoint.name)
    }

    private func liveWeights(endpoint: String) async throws -> [String: Int] {
        let name = functionName(endpoint)
        let current: LambdaAPI.Alias
        do {
            current = try await client.send(.lambda, operation: "GetAlias", method: .GET, path: "\(Self.path(name))/aliases/\(Self.alias)")
                .decode(LambdaAPI.Alias.self, operation: "lambda:GetAlias")
        } catch var error as AWSError where error.kind == .notFound {
            if try await publishedVersions(name) != nil { return [:] }
            error.message = "Lambda function '\(name)' does not exist: endpoint '\(endpoint)' was never deployed to target \(target.label) (\(error.message))"
            throw error
        }
        let ids = try await modelDeckVersions(name, endpoint: endpoint).reduce(into: [String: String]()) { $0[$1.number] = $1.id }
        return Self.weights(current, ids: ids, function: name)
    }

    /// Alias → version id → percent: the additional versions' shares rounded to whole percents
    /// (Lambda stores 0.1 as a double; ×100 gives 10.000000000000002), the main version the rest.
    static func weights(_ alias: LambdaAPI.Alias, ids: [String: String], function: String) -> [String: Int] {
        func id(_ number: String) -> String { ids[number] ?? "lambda:\(function):\(number)" }
        var weights: [String: Int] = [:]
        for (number, share) in alias.RoutingConfig?.AdditionalVersionWeights ?? [:] {
            weights[id(number), default: 0] += Int(AWSNumber.whole(share * 100, limit: 100) ?? 0)
        }
        weights[id(alias.FunctionVersion), default: 0] += 100 - weights.values.reduce(0, +)
        return weights
    }

    private func alias(_ name: String) async throws -> LambdaAPI.Alias? {
        do {
            return try await client.send(.lambda, operation: "GetAlias", method: .GET, path: "\(Self.path(name))/aliases/\(Self.alias)")
                .decode(LambdaAPI.Alias.self, operation: "lambda:GetAlias")
        } catch let error as AWSError where error.kind == .notFound {
            return nil
        }
    }

    private static func describe(_ weights: [String: Int]) -> String {
        weights.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)%" }.joined(separator: ", ")
    }
}
