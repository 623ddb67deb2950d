/// A per-channel feature computed over a window.
public enum Feature: Sendable, Hashable, CustomStringConvertible {
    /// Arithmetic mean.
    case mean
    /// Population standard deviation.
    case std
    /// Smallest value.
    case min
    /// Largest value.
    case max
    /// Root mean square.
    case rms
    /// Mean power, Σx²/n (the square of the RMS).
    case energy
    /// Fraction of consecutive sample pairs whose deviations from the window mean change sign.
    case zeroCrossingRate
    /// The exact quantile at this fraction (0…1) of the window's values (lower of two on ties).
    case quantile(Double)

    /// The name used in configurations and feature names: `mean`, `std`, `min`, `max`, `rms`, `energy`, `zcr`,
    /// `q25` (for the 0.25 quantile), `q50`, …
    public var description: String {
        switch self {
        case .mean: "mean"
        case .std: "std"
        case .min: "min"
        case .max: "max"
        case .rms: "rms"
        case .energy: "energy"
        case .zeroCrossingRate: "zcr"
        case .quantile(let p): "q\(Int((p * 100).rounded()))"
        }
    }

    /// Parses a name written by ``description``; nil if unknown.
    public init?(_ name: String) {
        switch name {
        case "mean": self = .mean
        case "std": self = .std
        case "min": self = .min
        case "max": self = .max
        case "rms": self = .rms
        case "energy": self = .energy
        case "zcr": self = .zeroCrossingRate
        default:
            guard name.first == "q", let percent = Int(name.dropFirst()), (0...100).contains(percent) else {
                return nil
            }
            self = .quantile(Double(percent) / 100)
        }
    }

    /// The features most activity-recognition pipelines start with.
    public static let standard: [Feature] = [.mean, .std, .min, .max, .rms, .zeroCrossingRate]
}
