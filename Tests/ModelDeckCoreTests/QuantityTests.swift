import Testing
@testable import ModelDeckCore

struct QuantityTests {
    @Test func durationsParseEveryUnitAndCompounds() throws {
        #expect(try Quantity.milliseconds("250ms") == 250)
        #expect(try Quantity.milliseconds("30s") == 30_000)
        #expect(try Quantity.milliseconds("5m") == 300_000)
        #expect(try Quantity.milliseconds("1h30m") == 5_400_000)
        #expect(try Quantity.milliseconds("2d") == 172_800_000)
        #expect(try Quantity.seconds("5m") == 300)
    }

    @Test(arguments: ["", "5", "m", "5x", "-5m", "5m x", "1.5m", "five minutes"])
    func malformedDurationsAreRefusedWithTheExpectedForm(_ text: String) {
        #expect(throws: ModelDeckError.self) { try Quantity.milliseconds(text) }
        do { _ = try Quantity.milliseconds(text, what: "--every") } catch let error as ModelDeckError {
            #expect(error.message.contains("--every '\(text)'"))
            #expect(error.message.contains("e.g. 250ms"))
        } catch { Issue.record("unexpected \(error)") }
    }

    @Test func wholeSecondsAreRequiredWhereTheRegistryStoresSeconds() {
        #expect(throws: ModelDeckError("idle '1500ms' must be a whole number of seconds")) {
            try Quantity.seconds("1500ms", what: "idle")
        }
    }

    @Test func sizesAreBinaryAsAWSCountsThem() throws {
        #expect(try Quantity.bytes("50MB") == 52_428_800)
        #expect(try Quantity.bytes("10GB") == 10_737_418_240)
        #expect(try Quantity.bytes("1.5KB") == 1_536)
        #expect(try Quantity.bytes("512") == 512)
        #expect(try Quantity.megabytes("10240") == 10_240)
        #expect(try Quantity.megabytes("1GB") == 1_024)
        #expect(throws: ModelDeckError.self) { try Quantity.bytes("12 parsecs") }
        #expect(throws: ModelDeckError.self) { try Quantity.bytes("1.2.3MB") }
        #expect(throws: ModelDeckError("memory '1.5' must be a whole number of MB")) { try Quantity.megabytes("1.5") }
    }

    @Test func ratesAreExactPartsPerMillion() throws {
        #expect(try Quantity.ppm("1%") == 10_000)
        #expect(try Quantity.ppm("0.5%") == 5_000)
        #expect(try Quantity.ppm("0.01") == 10_000)
        #expect(throws: ModelDeckError.self) { try Quantity.ppm("150%") }
        #expect(throws: ModelDeckError.self) { try Quantity.ppm("-1%") }
    }

    @Test func moneyIsIntegerMicrodollars() throws {
        #expect(try Quantity.microdollars("$5") == 5_000_000)
        #expect(try Quantity.microdollars("12.50") == 12_500_000)
        #expect(throws: ModelDeckError.self) { try Quantity.microdollars("0.0000166667") }
        #expect(throws: ModelDeckError.self) { try Quantity.microdollars("five dollars") }
    }

    @Test func formattingIsTheInverseForPeople() {
        #expect(Format.megabytes(10_240) == "10,240 MB")
        #expect(Format.bytes(52_428_800) == "50 MB")
        #expect(Format.bytes(10_737_418_240) == "10 GB")
        #expect(Format.bytes(1_600) == "1.6 KB")
        #expect(Format.duration(seconds: 5_400) == "1h30m")
        #expect(Format.duration(milliseconds: 250) == "250ms")
        #expect(Format.percent(ppm: 10_000) == "1%")
        #expect(Format.percent(ppm: 125) == "0.0125%")
        #expect(Format.dollars(micros: 5_000_000) == "$5.00")
        #expect(Format.dollars(micros: 21) == "$0.000021")
        #expect(Format.dollars(micros: 1_234_560_000) == "$1,234.56")
    }
}
