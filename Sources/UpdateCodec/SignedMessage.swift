public import TributaryWire

/// Signatures on update and model messages (docs/wire-format.md, "Signatures"): the trailer is found from the
/// end of the message and checked before anything else of the message is decoded, so a receiver spends no
/// decompression or decoding on a forgery.
///
/// The trailer is the last field before the CRC32C: a length (u16) = 1 + the signature's size, the algorithm
/// (u8, ``SignatureAlgorithm``), then the signature of every byte before the length field, flag bit 1 set.
public enum SignedMessage {
    /// Why a message's signature was not accepted.
    public enum Failure: String, Error, Sendable, Hashable {
        /// No trailer (flag bit 1 clear), or a message too short to hold one.
        case unsigned
        /// A trailer whose length, algorithm or checksum does not fit the message.
        case malformed = "malformed_signature"
        /// A well-formed trailer whose signature the key does not verify.
        case badSignature = "bad_signature"
    }

    /// Where a message's signed bytes and signature are.
    public struct Parts: Sendable, Hashable {
        /// The scheme named.
        public var algorithm: SignatureAlgorithm
        /// Bytes `0..<signedCount` are signed.
        public var signedCount: Int
        /// The signature's bytes.
        public var signature: Range<Int>
    }

    /// Appends a trailer signed by `signer` to an encoded, unsigned message (whose CRC32C is replaced).
    public static func sign(_ message: [UInt8], with signer: some MessageSigner) -> [UInt8] {
        precondition(message.count > UpdateFormat.flagsOffset + 4, "not an encoded message")
        var signed = Array(message.dropLast(4))
        precondition(signed[UpdateFormat.flagsOffset] & 2 == 0, "the message is signed already")
        signed[UpdateFormat.flagsOffset] |= 2
        let signature = signed.withUnsafeBytes { signer.signature(of: $0) }
        precondition(signature.count == signer.algorithm.signatureBytes, "a signature of the scheme's size")
        var w = ByteWriter(capacity: signed.count + signature.count + 7)
        w.write(bytes: signed)
        w.write(UInt16(signature.count + 1))
        w.write(signer.algorithm.rawValue)
        w.write(bytes: signature)
        w.appendChecksum()
        return w.bytes
    }

    /// Finds the trailer: the flag, the checksum, a length that matches one algorithm's size at the end.
    public static func parts(_ message: UnsafeRawBufferPointer) -> Result<Parts, Failure> {
        let minimum = UpdateFormat.flagsOffset + 1
        guard message.count > minimum, message[UpdateFormat.flagsOffset] & 2 != 0 else { return .failure(.unsigned) }
        let end = message.count - 4
        guard end > minimum, CRC32C.checksum(UnsafeRawBufferPointer(rebasing: message[..<end])) == readU32(message, end)
        else { return .failure(.malformed) }
        for algorithm in SignatureAlgorithm.allCases {
            let start = end - algorithm.signatureBytes
            let lengthAt = start - 3
            guard lengthAt > minimum else { continue }
            let length = Int(message[lengthAt]) | Int(message[lengthAt + 1]) << 8
            if length == algorithm.signatureBytes + 1 && message[lengthAt + 2] == algorithm.rawValue {
                return .success(Parts(algorithm: algorithm, signedCount: lengthAt, signature: start..<end))
            }
        }
        return .failure(.malformed)
    }

    /// Checks the message's signature against `key`.
    public static func verify(_ message: UnsafeRawBufferPointer, key: some MessageVerifier) -> Result<Parts, Failure> {
        parts(message).flatMap { parts in
            key.isValid(
                signature: UnsafeRawBufferPointer(rebasing: message[parts.signature]),
                of: UnsafeRawBufferPointer(rebasing: message[..<parts.signedCount]))
                ? .success(parts) : .failure(.badSignature)
        }
    }

    static func readU32(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }
}
