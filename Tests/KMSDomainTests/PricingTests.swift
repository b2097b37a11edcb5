import Foundation
import KMSDomain
import Testing

@Suite struct PricingTests {
    @Test func requestsAndKeyMonthsAtListPrices() {
        // 1,000,000 symmetric requests: 100 x $0.03.
        #expect(abs(Double(1_000_000) * Pricing.perRequest(.symmetricDefault) - 3.0) < 1e-9)
        #expect(abs(Double(10_000) * Pricing.perRequest(.rsa2048) - 0.15) < 1e-9)
        #expect(abs(Double(10_000) * Pricing.perRequest(.hmac256) - 0.03) < 1e-9)
        #expect(abs(Double(10_000) * Pricing.perRequest(nil) - 0.03) < 1e-9)
        // A key that existed for half of a 730-hour month costs $0.50.
        let from = Date(timeIntervalSince1970: 0)
        let to = from.addingTimeInterval(730 * 3600)
        let hours = Pricing.keyHours(created: from.addingTimeInterval(365 * 3600), deleted: nil, from: from, to: to)
        #expect(hours == 365)
        #expect(abs(Pricing.keyCost(hours: hours) - 0.5) < 1e-9)
        // Created before the period and deleted within it; created after it.
        #expect(
            Pricing.keyHours(
                created: from.addingTimeInterval(-100), deleted: from.addingTimeInterval(7200), from: from, to: to) == 2
        )
        #expect(Pricing.keyHours(created: to.addingTimeInterval(10), deleted: nil, from: from, to: to) == 0)
    }

    @Test func theFirstTwoRotationsAddKeyHours() {
        let from = Date(timeIntervalSince1970: 0)
        let to = from.addingTimeInterval(100 * 3600)
        let rotations = [10, 40, 70].map { from.addingTimeInterval(Double($0) * 3600) }
        // 90 + 60 hours; the third rotation is free (AWS caps the charge at the second).
        #expect(Pricing.rotationHours(rotations, billedUntil: nil, from: from, to: to) == 150)
        // Billing stopped at hour 50 (deletion scheduled): 40 + 10.
        #expect(
            Pricing.rotationHours(rotations, billedUntil: from.addingTimeInterval(50 * 3600), from: from, to: to) == 50)
        #expect(Pricing.rotationHours([], billedUntil: nil, from: from, to: to) == 0)
    }
}
