import ArgumentParser
import Foundation
import Logging
import ModelDeckCLI
import ModelDeckCore
import ModelDeckDaemon

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the local target's gateway: endpoints answer at POST /endpoints/NAME/invoke.",
        discussion: """
            Model-server processes start on the first request (a cold start), serve `concurrency` requests \
            each, and stop after the endpoint's idle timeout (scale to zero). Traffic follows the registry's \
            weights, read again whenever the registry changes. Listens on 127.0.0.1 unless told otherwise. \
            Ctrl-C or SIGTERM stops every instance.
            """)

    @OptionGroup var listen: ListenOptions

    @OptionGroup var registry: RegistryOptions

    func run() async throws {
        let opened = try registry.open()
        let listen = try self.listen.resolve(opened)
        var logger = Logger(label: "modeldeck.gateway")
        logger.logLevel = .info
        try await LocalTargetHost.serve(registry: opened, listen: listen, logger: logger) { port in
            print("gateway for target '\(listen.target)' listening on http://\(listen.host):\(port) — POST /endpoints/NAME/invoke")
            // stdout is block-buffered when piped (to a log or a supervisor): say it now.
            fflush(nil) // nil: every output stream; `stdout` itself is shared mutable state to Swift 6
        }
    }
}
