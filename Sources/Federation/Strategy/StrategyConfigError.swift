/// Why a ``StrategyConfig`` was refused by ``StrategyConfig/validate()``.
public struct StrategyConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The offending setting, named as in ``StrategyConfig`` (for example `beta1`).
    public var field: String
    /// What is wrong with it, for people.
    public var message: String

    /// Creates an error about `field`.
    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    /// `field: message`.
    public var description: String { "\(field): \(message)" }
}
