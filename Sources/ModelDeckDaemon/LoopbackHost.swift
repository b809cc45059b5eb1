import HTTPTypes
import Hummingbird
import ModelDeckTargets
import NIOCore

/// On loopback, only requests whose `Host` is a loopback name: a web page can point its own domain at
/// 127.0.0.1 (DNS rebinding) and then read the API as same-origin, but its requests still name that domain.
/// The gateway applies the same rule (`GatewayAdmission`).
struct LoopbackHost<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let host = request.head.authority ?? ""
        guard GatewayAdmission.isLoopback(GatewayAdmission.hostName(host)) else {
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(status: .misdirectedRequest, headers: headers,
                            body: .init(byteBuffer: ByteBuffer(string: "{\"error\":\"Host is not this API; it answers localhost, 127.0.0.1 and [::1] only\"}")))
        }
        return try await next(request, context)
    }
}
