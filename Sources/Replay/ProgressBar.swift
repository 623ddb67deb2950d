import Glibc
import Synchronization
import TributaryWire

/// Progress of a long operation on standard error: a bar redrawn in place on a terminal, plain lines (every
/// 10 % or 10 s) when standard error is a file or a pipe, so logs stay readable.
public final class ProgressBar: Sendable {
    struct State {
        var lastDraw = ContinuousClock.now
        var lastPlainPercent = -1
        var lastPlainLine = ContinuousClock.now
        var finished = false
    }

    let label: String
    let unit: String
    let total: Int?
    let interactive: Bool
    let started = ContinuousClock.now
    let state = Mutex(State())

    /// Creates a bar; `total` nil shows a count without a percentage. `enabled` false prints nothing.
    public init(_ label: String, total: Int?, unit: String, enabled: Bool = true) {
        self.label = label
        self.total = total.flatMap { $0 > 0 ? $0 : nil }
        self.unit = unit
        interactive = enabled && isatty(2) != 0
        self.enabled = enabled
    }

    let enabled: Bool

    /// Reports `done` units (redraws at most ten times a second).
    public func update(_ done: Int) {
        guard enabled else { return }
        let now = ContinuousClock.now
        let text: String? = state.withLock { s in
            guard !s.finished else { return nil }
            if interactive {
                guard now - s.lastDraw >= .milliseconds(100) || done == total else { return nil }
                s.lastDraw = now
                return drawing(done, now: now)
            }
            // Plain lines at each 10 % (the last one is finish's) or every 10 s.
            if let total, done >= total { return nil }
            let percent = total.map { done * 100 / $0 } ?? -1
            guard (percent >= 10 && percent / 10 > s.lastPlainPercent / 10) || now - s.lastPlainLine >= .seconds(10)
            else { return nil }
            s.lastPlainPercent = percent
            s.lastPlainLine = now
            return line(done, now: now) + "\n"
        }
        if let text { emit(text) }
    }

    /// Ends the bar with a final line.
    public func finish(_ done: Int) {
        guard enabled,
            state.withLock({ s in
                defer { s.finished = true }
                return !s.finished
            })
        else { return }
        let now = ContinuousClock.now
        emit(interactive ? drawing(done, now: now) + "\n" : line(done, now: now) + "\n")
    }

    func drawing(_ done: Int, now: ContinuousClock.Instant) -> String {
        var text = "\r"
        if let total {
            let width = 30
            let filled = min(width, done * width / total)
            text += "[" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) + "] "
        }
        return text + line(done, now: now) + "\u{1B}[K"
    }

    func line(_ done: Int, now: ContinuousClock.Instant) -> String {
        let elapsed = Double((now - started).components.seconds) + Double((now - started).components.attoseconds) / 1e18
        var text = "\(label): \(Self.count(done))"
        if let total { text += "/\(Self.count(total)) \(unit) (\(done * 100 / total)%)" } else { text += " \(unit)" }
        text += " in \(fixedDecimal(elapsed, digits: 1)) s"
        if elapsed > 0 { text += ", \(Self.count(Int(Double(done) / elapsed)))/s" }
        return text
    }

    func emit(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var done = 0
            while done < bytes.count {
                let n = Glibc.write(STDERR_FILENO, bytes.baseAddress! + done, bytes.count - done)
                if n <= 0 { if errno == EINTR { continue } else { return } }
                done += n
            }
        }
    }

    /// 1234567 → "1.23M".
    static func count(_ n: Int) -> String {
        switch n {
        case ..<10_000: String(n)
        case ..<10_000_000: fixedDecimal(Double(n) / 1e3, digits: 1) + "k"
        case ..<10_000_000_000: fixedDecimal(Double(n) / 1e6, digits: 2) + "M"
        default: fixedDecimal(Double(n) / 1e9, digits: 2) + "G"
        }
    }
}
