import Testing

@testable import AggregatorService

@Suite struct SenderBudgetTests {
    @Test("a topic gets its burst at once, then its rate; topics are independent; a full table starts over")
    func budget() {
        let budget = SenderBudget(burst: 3, perSecond: 2, maxTopics: 2)
        #expect((0..<5).map { _ in budget.allow("a", now: 0) } == [true, true, true, false, false])
        #expect(budget.allow("b", now: 0), "another device's budget is its own")
        #expect(!budget.allow("a", now: 400), "0.8 of a message earned in 400 ms")
        #expect(budget.allow("a", now: 500))
        #expect(!budget.allow("a", now: 500))
        #expect(budget.allow("a", now: 10_000) && budget.allow("a", now: 10_000) && budget.allow("a", now: 10_000))
        #expect(!budget.allow("a", now: 10_000), "never more than the burst, however long the pause")
        #expect(budget.dropped.load(ordering: .relaxed) == 5)
        // A third topic in a table of two: the table starts over (a is forgiven, not the other way round).
        #expect(budget.allow("c", now: 10_000))
        #expect(budget.allow("a", now: 10_000))
    }
}
