import Foundation
import GRDB
@testable import ModelDeckCore

/// A fresh folder under the system temp dir, removed by the caller with `cleanUp`.
struct Scratch {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "modeldeck-test-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String, _ contents: String) -> String {
        let full = path + "/" + name
        _ = FileManager.default.createFile(atPath: full, contents: Data(contents.utf8))
        return full
    }

    var registryPath: String { path + "/registry.sqlite" }

    func cleanUp() { try? FileManager.default.removeItem(atPath: path) }
}

/// A deck with a local target, a lambda target, one model in two versions and one endpoint.
/// `edit` replaces lines to build bad variants.
func sampleDeck(_ replacements: [(String, String)] = [], extra: String = "") -> String {
    var text = """
    apiVersion: modeldeck/v1
    targets:
      - name: local
        kind: local
      - name: lambda-eu
        kind: aws-lambda
        region: eu-central-1
        role_arn: arn:aws:iam::123456789012:role/modeldeck-lambda
    models:
      - name: sentiment
        versions:
          - version: v1
            artifact: s3://models/sentiment-v1.zip
            digest: sha256:\(String(repeating: "a", count: 64))
            size: 20MB
            command: [python3, server.py]
            memory: 256MB
          - version: v2
            artifact: s3://models/sentiment-v2.zip
            digest: sha256:\(String(repeating: "b", count: 64))
            size: 21MB
            command: [python3, server.py]
            memory: 256MB
    endpoints:
      - name: sentiment
        model: sentiment
        target: local
        memory: 512MB
        max_instances: 4
        slo: {p99: 500ms, error_rate: 1%}
        traffic: {v1: 100}
    """ + extra
    for (old, new) in replacements {
        precondition(text.contains(old), "sample deck has no '\(old)'")
        text = text.replacingOccurrences(of: old, with: new)
    }
    return text
}

func parseDeck(_ text: String) throws -> Deck {
    try DeckReader(sourceName: "deck.yaml", baseDirectory: NSTemporaryDirectory()).parse(text)
}

/// Every row of every table, as text: two dumps are equal exactly when the registry is unchanged.
func dump(_ registry: Registry) throws -> [String] {
    try registry.read { db in
        var lines: [String] = []
        for table in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name") {
            for row in try Row.fetchAll(db, sql: "SELECT * FROM \(table.quotedDatabaseIdentifier)") {
                lines.append("\(table): \(row)")
            }
        }
        return lines
    }
}
