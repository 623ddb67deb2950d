public import TributaryMath

/// The simulator's deterministic random source: the same seed gives the same samples and faults on every run.
public typealias SimRandom = SeededRandom
