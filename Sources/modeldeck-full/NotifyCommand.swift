import ArgumentParser
import Foundation
import ModelDeckCLI
import ModelDeckCore
import ModelDeckDaemon

struct NotifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notify",
        abstract: "Try the deck's notification entries.",
        subcommands: [NotifyTestCommand.self])
}

struct NotifyTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Send one test event to a notification entry, now, and say whether it arrived.",
        discussion: """
            The event (kind notify.test) is recorded in the audit log and sent at once from this process, in the \
            entry's format, with its id as Idempotency-Key. ${VARIABLES} in the entry are read from this \
            process's environment. Deliveries of real events are the daemon's (`modeldeck get notifications`).
            """)

    @Argument(help: ArgumentHelp("The notification entry's name.", valueName: "name"))
    var name: String

    @OptionGroup var registry: RegistryOptions

    func run() async throws {
        let opened = try registry.open()
        let (channel, event) = try opened.recordNotificationTest(name, actor: Actor.current, now: Date())
        do {
            try await NotificationTransport().send(NotificationDelivery(channel: channel, event: event))
        } catch let error as ModelDeckError {
            throw ModelDeckError("notification '\(name)': test event \(event.id) did not arrive: \(error.message)")
        }
        print("test event \(event.id) sent to \(name) (\(channel.format.rawValue) to \(TerminalText.sanitize(channel.destinationSummary)))")
    }
}
