import Foundation
import ModelDeckCore

/// A registry applied from a deck with one target, the model `sentiment` in v1 and v2 as container images (1 GB
/// each), and one endpoint: what the cloud drivers' tests start from.
public enum ImageDeck {
    /// `target` and `endpoint` are flow mappings (`{name: sm, kind: …}`).
    public static func registry(target: String, endpoint: String) throws -> Registry {
        let folder = NSTemporaryDirectory() + "modeldeck-images-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try """
        targets:
          - \(target)
        models:
          - name: sentiment
            versions:
              - {version: v1, image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/sentiment:v1, digest: 'sha256:\(String(repeating: "a", count: 64))', size: 200MB, memory: 1GB}
              - {version: v2, image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/sentiment:v2, digest: 'sha256:\(String(repeating: "b", count: 64))', size: 300MB, memory: 1GB}
        endpoints:
          - \(endpoint)
        """.write(toFile: folder + "/deck.yaml", atomically: true, encoding: .utf8)
        let registry = try Registry(path: folder + "/registry.sqlite")
        try DeckApplier.apply(try DeckReader.read(path: folder + "/deck.yaml"), to: registry, source: "test")
        return registry
    }
}
