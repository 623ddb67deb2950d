import Testing

@testable import Agent

@Suite struct CodePagesTests {
    @Test("a trim drops resident read-only file pages and the process keeps running code; each early trim runs once")
    func trims() {
        let report = CodePages.trim()
        #expect(report.mappings > 0)
        #expect(report.bytes > 0)
        // The code just dropped faults back in: this runs.
        #expect(CodePages.trim().mappings > 0)
        _ = CodePages.trim(once: .connected)
        #expect(CodePages.trim(once: .connected) == nil, "a second trim at the same moment does nothing")
    }
}
