import Foundation
import ModelDeckCore
import Testing
@testable import ModelDeckTargets

/// The signer against botocore's: same generated requests, same `Authorization` header.
struct SigV4Tests {
    @Test func agreesWithBotocoreOnGeneratedRequests() throws {
        var generator = SplitMix64(seed: 0x5167_0004)
        let cases = (0..<240).map { _ in SigningCase.random(using: &generator) }
        let references = try BotocoreSigner.sign(cases)
        try #require(references.count == cases.count)

        var mismatches: [String] = []
        for (index, (signingCase, reference)) in zip(cases, references).enumerated() {
            let signer = SigV4Signer(service: signingCase.service, region: signingCase.region)
            let headers = signer.headers(for: signingCase.request, credentials: signingCase.credentials, date: signingCase.date)
            let authorization = headers.first { $0.name == "Authorization" }?.value
            if authorization != reference.authorization {
                let canonical = signer.canonicalRequest(signingCase.request, signedHeaders: signer.signedHeaders(
                    signingCase.request, adding: headers.filter { $0.name != "Authorization" }))
                mismatches.append("case \(index): ours \(authorization ?? "none")\n\(canonical)\nbotocore \(reference.authorization)\n\(reference.canonical)")
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(cases.count) differ; first: \(mismatches.first ?? "")")
    }

    /// The "get-vanilla" case of AWS's SigV4 test suite, independent of botocore.
    @Test func matchesAWSDocumentedVanillaGet() {
        let signer = SigV4Signer(service: "service", region: "us-east-1")
        let credentials = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
        let headers = signer.headers(for: .init(method: "GET", host: "example.amazonaws.com", path: "/"),
                                     credentials: credentials, date: Date(timeIntervalSince1970: 1_440_938_160))
        #expect(headers.map(\.name) == ["X-Amz-Date", "Authorization"])
        #expect(headers[0].value == "20150830T123600Z")
        #expect(headers[1].value == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    }

    @Test func sessionTokenIsSentAndSigned() {
        let signer = SigV4Signer(service: "lambda", region: "eu-west-1")
        let credentials = AWSCredentials(accessKeyID: "AKID", secretAccessKey: "secret", sessionToken: "token/+=")
        let headers = signer.headers(for: .init(method: "POST", host: "lambda.eu-west-1.amazonaws.com", path: "/"),
                                     credentials: credentials, date: Date(timeIntervalSince1970: 0))
        #expect(headers.first { $0.name == "X-Amz-Security-Token" }?.value == "token/+=")
        #expect(headers.last?.value.contains("SignedHeaders=host;x-amz-date;x-amz-security-token,") == true)
    }

    @Test func encodesAllButUnreservedCharactersAsUppercaseHex() {
        #expect(SigV4Signer.encode("AZaz09-_.~ /+=&ü*") == "AZaz09-_.~%20%2F%2B%3D%26%C3%BC%2A")
        #expect(SigV4Signer.encode("/a b/%41", keepingSlashes: true) == "/a%20b/%2541")
    }

    @Test func normalizesDotSegmentsAndRepeatedSlashes() {
        #expect(SigV4Signer.normalizedPath("") == "/")
        #expect(SigV4Signer.normalizedPath("//a/./b/../c//") == "/a/c/")
        #expect(SigV4Signer.normalizedPath("/..") == "/")
    }
}

/// One generated request and what it is signed with.
struct SigningCase {
    var service: String
    var region: String
    var request: SigV4Signer.Request
    var credentials: AWSCredentials
    var date: Date

    static func random(using g: inout SplitMix64) -> SigningCase {
        let segments = ["2015-03-31", "functions", "my fn", "ünïcödé", "a+b", "semi;colon", "50%", "~tilde",
                        "a=b&c", "rocket🚀", "..", ".", "", "x:y", "(paren)", "*star*", "invocations", "q?#"]
        var path = "/" + (0..<Int.random(in: 0...4, using: &g))
            .map { _ in SigV4Signer.encode(segments.randomElement(using: &g)!) }.joined(separator: "/")
        if Bool.random(using: &g), path != "/" { path += "/" }

        let names = ["Action", "Version", "a", "A", "b", "key with space", "ü", "x[]", "empty", "z", "a"]
        let values = ["", "1", "10", "2", "a b", "a+b", "=", "&", "ünï", "~-_.", "/slash/", "*", ""]
        let query = (0..<Int.random(in: 0...5, using: &g)).map { _ in
            (name: names.randomElement(using: &g)!, value: values.randomElement(using: &g)!)
        }

        // Distinct names (botocore takes a dictionary), though two may differ only in case.
        let headerNames = ["Content-Type", "X-Amz-Target", "x-custom", "X-Custom", "Accept", "X-Amz-Invocation-Type",
                           "User-Agent", "X-Amzn-Trace-Id", "X-Amz-Client-Context"]
        let headerValues = ["  application/json  ", "a   b\t c", "", "value", "AWSLambda.Invoke", " x ,  y ", "\tTail"]
        let headers = headerNames.shuffled(using: &g).prefix(Int.random(in: 0...4, using: &g)).map {
            (name: $0, value: headerValues.randomElement(using: &g)!)
        }

        let body: Data
        switch Int.random(in: 0...2, using: &g) {
        case 0: body = Data()
        case 1: body = Data(#"{"inputs": "I love this", "n": \#(Int.random(in: 0...999, using: &g)), "ü": true}"#.utf8)
        default: body = Data((0..<Int.random(in: 1...64, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) })
        }

        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+")
        func word(_ count: Int) -> String { String((0..<count).map { _ in alphabet.randomElement(using: &g)! }) }
        let credentials = AWSCredentials(accessKeyID: "AKIA" + word(16).uppercased().filter(\.isLetter),
                                         secretAccessKey: word(40),
                                         sessionToken: Bool.random(using: &g) ? word(120) + "==" : nil)

        let (service, host) = [("lambda", "lambda.REGION.amazonaws.com"), ("sagemaker", "api.sagemaker.REGION.amazonaws.com"),
                               ("sagemaker", "runtime.sagemaker.REGION.amazonaws.com"), ("monitoring", "monitoring.REGION.amazonaws.com"),
                               ("sts", "sts.amazonaws.com"), ("lambda", "127.0.0.1:5000")].randomElement(using: &g)!
        let region = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1"].randomElement(using: &g)!
        // Seconds from 2020 to 2030, sometimes just before or after a UTC midnight (the scope's date changes).
        var seconds = Int.random(in: 1_577_836_800...1_893_456_000, using: &g)
        if Int.random(in: 0...4, using: &g) == 0 { seconds = seconds / 86_400 * 86_400 + [-1, 0].randomElement(using: &g)! }

        return SigningCase(
            service: service, region: region,
            request: .init(method: ["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"].randomElement(using: &g)!,
                           host: host.replacingOccurrences(of: "REGION", with: region), path: path,
                           query: query, headers: headers, body: body),
            credentials: credentials, date: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }
}

/// Runs python3 with botocore once over all cases and returns its `Authorization` headers.
enum BotocoreSigner {
    struct Reference: Decodable {
        let authorization: String
        let canonical: String
    }

    static let script = #"""
    import base64, datetime, json, sys
    from unittest import mock
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    class Recording(SigV4Auth):
        def canonical_request(self, request):
            self.canonical = super().canonical_request(request)
            return self.canonical

    out = []
    for case in json.load(sys.stdin):
        scheme = "http" if case["host"].startswith("127.") else "https"
        request = AWSRequest(method=case["method"], url=f'{scheme}://{case["host"]}{case["path"]}',
                             headers=dict(case["headers"]), data=base64.b64decode(case["body"]),
                             params=[tuple(pair) for pair in case["query"]])
        signer = Recording(Credentials(case["key"], case["secret"], case["token"]), case["service"], case["region"])
        instant = datetime.datetime.fromtimestamp(case["seconds"], datetime.timezone.utc).replace(tzinfo=None)
        with mock.patch("botocore.auth.get_current_datetime", return_value=instant):
            signer.add_auth(request)
        out.append({"authorization": request.headers["Authorization"], "canonical": signer.canonical})
    json.dump(out, sys.stdout)
    """#

    static func sign(_ cases: [SigningCase]) throws -> [Reference] {
        let input: [[String: Any]] = cases.map { c in [
            "method": c.request.method, "host": c.request.host, "path": c.request.path,
            "query": c.request.query.map { [$0.name, $0.value] },
            "headers": c.request.headers.map { [$0.name, $0.value] },
            "body": c.request.body.base64EncodedString(),
            "key": c.credentials.accessKeyID, "secret": c.credentials.secretAccessKey,
            "token": c.credentials.sessionToken as Any? ?? NSNull(),
            "service": c.service, "region": c.region, "seconds": Int(c.date.timeIntervalSince1970),
        ] }
        let folder = NSTemporaryDirectory() + "modeldeck-sigv4-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try JSONSerialization.data(withJSONObject: input).write(to: URL(fileURLWithPath: folder + "/cases.json"))

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        process.standardInput = FileHandle(forReadingAtPath: folder + "/cases.json")
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BotocoreFailure(message: "python3 with botocore failed (\(process.terminationStatus)): \(errorText)")
        }
        return try JSONDecoder().decode([Reference].self, from: data)
    }

    struct BotocoreFailure: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }
}
