/// The pre-flight fit check: can this version run on this endpoint's target?
///
/// Pure: it reads values and returns the first problem as one line that names the value and the limit,
/// so nothing is sent to a platform that would refuse it anyway.
public enum FitCheck {
    /// Problems with an endpoint's own settings on its target (memory range and step, concurrency, instances).
    public static func problems(endpoint: Endpoint, target: Target) -> [String] {
        let limits = target.limits
        var problems: [String] = []
        let memory = endpoint.memoryMB
        if !limits.memoryMB.contains(memory) {
            problems.append("endpoint '\(endpoint.name)' memory \(Format.megabytes(memory)) is outside target \(target.label) range \(Format.megabytes(limits.memoryMB.lowerBound))–\(Format.megabytes(limits.memoryMB.upperBound))")
        } else if limits.memoryStepMB > 1, (memory - limits.memoryMB.lowerBound) % limits.memoryStepMB != 0 {
            problems.append("endpoint '\(endpoint.name)' memory \(Format.megabytes(memory)) is not a step of \(Format.megabytes(limits.memoryStepMB)) from \(Format.megabytes(limits.memoryMB.lowerBound)), as target \(target.label) requires")
        }
        if let problem = target.descriptor.checkEndpoint(endpoint, target) { problems.append(problem) }
        if let perInstance = limits.maxConcurrencyPerInstance, endpoint.concurrency > perInstance {
            problems.append("endpoint '\(endpoint.name)' concurrency \(endpoint.concurrency) per instance; target \(target.label) serves at most \(perInstance) request at a time per instance")
        }
        if let maxInstances = limits.maxInstances, endpoint.maxInstances > maxInstances {
            problems.append("endpoint '\(endpoint.name)' max instances \(endpoint.maxInstances); target \(target.label) allows at most \(maxInstances)")
        }
        return problems
    }

    /// Problems with running `version` on `endpoint` (which runs on `target`).
    public static func problems(version: ModelVersion, endpoint: Endpoint, target: Target) -> [String] {
        let limits = target.limits
        let id = "version '\(version.id)'"
        var problems: [String] = []

        switch target.descriptor.packaging {
        case .none:
            problems.append("\(id) cannot be deployed to target \(target.label): ModelDeck only observes and pings an http target")
        case .command where version.command == nil:
            problems.append("\(id) has no command; target \(target.label) runs a command that serves HTTP on $PORT")
        case .image where version.image == nil:
            problems.append("\(id) has no container image; target \(target.label) runs images only")
        case .commandOrImage where version.command == nil && version.image == nil:
            problems.append("\(id) has neither a command nor an image; target \(target.label) needs one")
        default:
            break
        }

        if version.memoryMB > endpoint.memoryMB {
            problems.append("\(id) needs \(Format.megabytes(version.memoryMB)); endpoint '\(endpoint.name)' gives it \(Format.megabytes(endpoint.memoryMB))")
        }
        if version.memoryMB > limits.memoryMB.upperBound {
            problems.append("\(id) needs \(Format.megabytes(version.memoryMB)); target \(target.label) allows at most \(Format.megabytes(limits.memoryMB.upperBound))")
        }
        if version.gpus > limits.gpus {
            problems.append(limits.gpus == 0
                ? "\(id) needs \(version.gpus == 1 ? "a GPU" : "\(version.gpus) GPUs"); target \(target.label) has none"
                : "\(id) needs \(version.gpus) GPUs; target \(target.label) has \(limits.gpus)")
        }

        let isImage = version.image != nil && (version.command == nil || target.descriptor.packaging == .image)
        if isImage {
            if let max = limits.maxImageBytes, version.sizeBytes > max {
                problems.append("\(id) image is \(Format.bytes(version.sizeBytes)); target \(target.label) allows at most \(Format.bytes(max))")
            }
        } else {
            if let max = limits.maxZippedBytes, version.sizeBytes > max {
                problems.append("\(id) package is \(Format.bytes(version.sizeBytes)); target \(target.label) allows at most \(Format.bytes(max)) zipped (use a container image up to \(Format.bytes(limits.maxImageBytes ?? max)))")
            }
            if let max = limits.maxUnzippedBytes, let unzipped = version.unzippedSizeBytes, unzipped > max {
                problems.append("\(id) unpacks to \(Format.bytes(unzipped)); target \(target.label) allows at most \(Format.bytes(max)) unzipped")
            }
        }

        if let timeout = version.timeoutSeconds, let max = limits.maxTimeoutSeconds, timeout > max {
            problems.append("\(id) timeout \(Format.duration(seconds: timeout)); target \(target.label) allows at most \(Format.duration(seconds: max)) per request")
        }
        return problems
    }

    /// Throws the first problem of the endpoint or of the version, if any.
    public static func require(version: ModelVersion, endpoint: Endpoint, target: Target) throws {
        if let first = (problems(endpoint: endpoint, target: target) + problems(version: version, endpoint: endpoint, target: target)).first {
            throw ModelDeckError(first)
        }
    }
}
