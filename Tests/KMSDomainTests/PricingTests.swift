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
        #expect(Pricing.keyHours(created: from.addingTimeInterval(-100), deleted: from.addingTimeInterval(7200), from: from, to: to) == 2)
        #expect(Pricing.keyHours(created: to.addingTimeInterval(10), deleted: nil, from: from, to: to) == 0)
    }
}
