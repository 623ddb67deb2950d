import TributaryWire
public import Zstd

/// Downlink compression: the aggregator sends each new global model as a sparse delta on the model the devices
/// already have, with error feedback on its side too. The parameters devices end up with after applying the
/// deltas (``deviceModel``) are exactly what the aggregator publishes as the full retained model, so a device
/// that missed a delta, or joins late, takes the full model and is in step again.
public struct ModelDeltaStream: Sendable {
    /// The model every device that applied all deltas holds; publish it as the full model.
    public private(set) var deviceModel: [Float]
    var feedback: ErrorFeedback

    /// Starts from `initial` (sent in full).
    public init(initial: [Float]) {
        deviceModel = initial
        feedback = ErrorFeedback(dimension: initial.count)
    }

    /// Encodes the change from ``deviceModel`` towards `model` as a sparse delta of `k` values and advances
    /// ``deviceModel`` to what devices will hold after applying it.
    public mutating func next(
        model: [Float], task: String, round: UInt32, k: Int, encoding: ValueEncoding, encoder: inout UpdateEncoder,
        epoch: UInt64? = nil
    ) throws(ZstdError) -> [UInt8] {
        precondition(model.count == deviceModel.count, "the model changed size")
        var delta = [Float](repeating: 0, count: model.count)
        for i in 0..<model.count { delta[i] = model[i] - deviceModel[i] }
        // The residual of earlier rounds is already inside model − deviceModel: it must not be added twice.
        feedback.reset()
        let compressed = delta.withUnsafeBufferPointer { feedback.compress($0, k: k, encoding: encoding) }
        let header = UpdateHeader(
            type: .sparseModelDelta, task: task, round: round, dimension: model.count,
            baseModelHash: ModelHash.of(deviceModel), epoch: epoch)
        let bytes = try encoder.encode(header, compressed)
        for (position, index) in compressed.indices.enumerated() {
            deviceModel[Int(index)] += compressed.values[position]
        }
        return bytes
    }
}

extension DecodedUpdate {
    /// Why a model delta cannot be applied.
    public enum ApplyError: Error, Sendable, Equatable {
        /// The device's parameters are not the delta's base: take the full model instead.
        case baseMismatch(expected: UInt64, actual: UInt64)
        /// The message is not a model delta, or its size differs from the parameters.
        case notApplicable
    }

    /// Applies a sparse model delta to `parameters` if they are its base (same hash).
    public func apply(to parameters: inout [Float]) throws(ApplyError) {
        guard header.type == .sparseModelDelta, header.dimension == parameters.count else { throw .notApplicable }
        let actual = ModelHash.of(parameters)
        guard actual == header.baseModelHash else {
            throw .baseMismatch(expected: header.baseModelHash, actual: actual)
        }
        for (position, index) in indices.enumerated() { parameters[Int(index)] += values[position] }
    }
}
