import Foundation
import ModelDeckCore
import NIOHTTP1

/// Provisioned concurrency on the alias `live`: `PutProvisionedConcurrencyConfig`,
/// `GetProvisionedConcurrencyConfig` and `DeleteProvisionedConcurrencyConfig`, each
/// `/2019-09-30/functions/{name}/provisioned-concurrency?Qualifier=live`
/// (https://docs.aws.amazon.com/lambda/latest/api/API_PutProvisionedConcurrencyConfig.html). Lambda allocates
/// the environments after answering (`IN_PROGRESS`, then `READY` or `FAILED`); the daemon asks until it settles.
extension LambdaDriver {
    struct ProvisionedConfigBody: Encodable {
        var ProvisionedConcurrentExecutions: Int
    }

    struct ProvisionedConfigAnswer: Decodable {
        var RequestedProvisionedConcurrentExecutions: Int?
        var AllocatedProvisionedConcurrentExecutions: Int?
        var AvailableProvisionedConcurrentExecutions: Int?
        var Status: String?
        var StatusReason: String?

        func config(asked: Int?) -> ProvisionedConcurrencyConfig {
            ProvisionedConcurrencyConfig(requested: RequestedProvisionedConcurrentExecutions ?? asked ?? 0,
                                         available: AvailableProvisionedConcurrentExecutions ?? 0,
                                         status: Status ?? "IN_PROGRESS", reason: StatusReason)
        }
    }

    static func provisionedPath(_ function: String) -> String {
        "/2019-09-30/functions/\(SigV4Signer.encode(function))/provisioned-concurrency"
    }

    public func setProvisionedConcurrency(_ count: Int, on endpoint: Endpoint) async throws -> ProvisionedConcurrencyConfig? {
        let path = Self.provisionedPath(functionName(endpoint.name))
        let qualifier = [(name: "Qualifier", value: Self.alias)]
        guard count > 0 else {
            do {
                _ = try await client.send(.lambda, operation: "DeleteProvisionedConcurrencyConfig", method: .DELETE, path: path, query: qualifier)
            } catch let error as AWSError where error.kind == .notFound {
                // Already gone: what was asked for.
            }
            return nil
        }
        return try await client.send(.lambda, operation: "PutProvisionedConcurrencyConfig", method: .PUT, path: path, query: qualifier,
                                     headers: [(name: "Content-Type", value: "application/json")],
                                     body: try JSONEncoder().encode(ProvisionedConfigBody(ProvisionedConcurrentExecutions: count)))
            .decode(ProvisionedConfigAnswer.self, operation: "lambda:PutProvisionedConcurrencyConfig").config(asked: count)
    }

    public func provisionedConcurrency(of endpoint: Endpoint) async throws -> ProvisionedConcurrencyConfig? {
        do {
            return try await client.send(.lambda, operation: "GetProvisionedConcurrencyConfig", method: .GET,
                                         path: Self.provisionedPath(functionName(endpoint.name)), query: [(name: "Qualifier", value: Self.alias)])
                .decode(ProvisionedConfigAnswer.self, operation: "lambda:GetProvisionedConcurrencyConfig").config(asked: nil)
        } catch let error as AWSError where error.kind == .notFound {
            return nil
        }
    }
}
