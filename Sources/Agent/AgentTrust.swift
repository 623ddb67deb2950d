import Federation
import SystemSupport
import TributaryWire
import Trust
import UpdateCodec

/// Production mode's side of the agent: the device's signing key (updates, statuses and its will are signed)
/// and the aggregator's public key (every control message must verify with it before it is decoded).
struct AgentTrust: Sendable {
    let signer: SigningKey
    let aggregator: VerifyingKey

    /// The keys the configuration names.
    init(_ trust: AgentConfig.Trust) throws(TrustError) {
        guard let keyFile = trust.signingKey, let aggregatorKey = trust.aggregatorKey else {
            throw TrustError(.file, "production mode needs trust.signing_key and trust.aggregator_key")
        }
        let pem: [UInt8]
        do { pem = try FileIO.readAll(keyFile) } catch {
            throw TrustError(.file, "trust.signing_key: cannot read \(keyFile): \(error)")
        }
        do { signer = try SigningKey(pem: pem) } catch {
            throw TrustError(.invalidKey, "trust.signing_key \(keyFile): \(error.message)")
        }
        if let key = try? VerifyingKey(hex: aggregatorKey) {
            aggregator = key
        } else {
            let bytes: [UInt8]
            do { bytes = try FileIO.readAll(aggregatorKey) } catch {
                throw TrustError(
                    .file, "trust.aggregator_key is neither 64 hex digits nor a readable PEM file: \(error)")
            }
            do { aggregator = try VerifyingKey(pem: bytes) } catch {
                throw TrustError(.invalidKey, "trust.aggregator_key \(aggregatorKey): \(error.message)")
            }
        }
    }

    /// Why a control message was ignored.
    enum Refusal: Error, Equatable {
        /// No signature.
        case unsigned
        /// A signature that does not verify (or a trailer that does not fit).
        case forged
    }

    /// The bytes to decode of a control message: a binary model or delta whole once its trailer verifies, a
    /// JSON message without its `sig` member once that verifies.
    func open(_ payload: [UInt8], binary: Bool) -> Result<[UInt8], Refusal> {
        if binary {
            let verdict = payload.withUnsafeBytes { SignedMessage.verify($0, key: aggregator) }
            switch verdict {
            case .success: return .success(payload)
            case .failure(.unsigned): return .failure(.unsigned)
            case .failure: return .failure(.forged)
            }
        }
        return SignedJSON.verify(payload, key: aggregator).mapError { $0 == .unsigned ? .unsigned : .forged }
    }

    /// A JSON message of the device's, signed.
    func seal(_ json: [UInt8]) -> [UInt8] { SignedJSON.seal(json, with: signer) }
}
