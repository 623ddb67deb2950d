/// Scratch memory of one learner: standardised input, outputs, activations and the gradient. Transient within a
/// call, so a copied learner just gets its own fresh workspace on its next mutation (copy-on-write without copying).
///
/// `@unchecked Sendable`: the buffers are owned by this object and only used by the learner that uniquely
/// references it (``OnlineLearner`` replaces a shared workspace before writing).
@usableFromInline
final class Workspace: @unchecked Sendable {
    let standardized: UnsafeMutablePointer<Float>
    let output: UnsafeMutablePointer<Float>
    let scratch: UnsafeMutablePointer<Float>
    let gradient: UnsafeMutablePointer<Float>
    let sizes: (inputs: Int, outputs: Int, scratch: Int, parameters: Int)

    init(network: Network) {
        sizes = (network.inputs, network.outputs, Swift.max(1, network.scratchCount), network.parameterCount)
        standardized = .allocate(capacity: sizes.inputs)
        standardized.initialize(repeating: 0, count: sizes.inputs)
        output = .allocate(capacity: sizes.outputs)
        output.initialize(repeating: 0, count: sizes.outputs)
        scratch = .allocate(capacity: sizes.scratch)
        scratch.initialize(repeating: 0, count: sizes.scratch)
        gradient = .allocate(capacity: sizes.parameters)
        gradient.initialize(repeating: 0, count: sizes.parameters)
    }

    deinit {
        standardized.deallocate()
        output.deallocate()
        scratch.deallocate()
        gradient.deallocate()
    }
}
