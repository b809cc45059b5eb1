import NIOHTTP1
import Testing
@testable import ModelDeckTargets

/// The gateway's request lines: which ones it answers, and how.
struct GatewayRouteTests {
    @Test func invokeTakesAnEndpointNameAndIgnoresTheQuery() {
        #expect(GatewayRoute.of(method: .POST, uri: "/endpoints/sentiment/invoke") == .invoke(endpoint: "sentiment"))
        #expect(GatewayRoute.of(method: .POST, uri: "/endpoints/sentiment/invoke?x=1") == .invoke(endpoint: "sentiment"))
        #expect(GatewayRoute.of(method: .POST, uri: "/endpoints/a%2Db/invoke") == .invoke(endpoint: "a-b"))
    }

    @Test func otherLinesAreNotFound() {
        #expect(GatewayRoute.of(method: .GET, uri: "/endpoints/sentiment/invoke") == .notFound)
        #expect(GatewayRoute.of(method: .POST, uri: "/endpoints//invoke") == .notFound)
        #expect(GatewayRoute.of(method: .POST, uri: "/endpoints/sentiment/invoke/more") == .notFound)
        #expect(GatewayRoute.of(method: .POST, uri: "endpoints/sentiment/invoke") == .notFound)
        #expect(GatewayRoute.of(method: .POST, uri: "/healthz") == .notFound)
        #expect(GatewayRoute.of(method: .GET, uri: "/") == .notFound)
        #expect(GatewayRoute.of(method: .GET, uri: "") == .notFound)
    }

    @Test func healthAndReadiness() {
        #expect(GatewayRoute.of(method: .GET, uri: "/healthz") == .health)
        #expect(GatewayRoute.of(method: .GET, uri: "/readyz?verbose") == .ready)
    }
}
